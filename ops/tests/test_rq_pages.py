"""django-rq's pages in the admin look up what their URLs and forms name first (ops/rq_pages.py)."""

from __future__ import annotations

import django_rq
import pytest
from django.test import Client
from django.urls import include, path
from rq.job import Job

from videochat import urls as project_urls

pytestmark = pytest.mark.django_db

# For the test of ops.rq_urls: the project's URLs with it in place of django_rq.urls.
urlpatterns = [
    path("admin/rq/", include("ops.rq_urls")),
    *(pattern for pattern in project_urls.urlpatterns if str(pattern.pattern) != "admin/rq/"),
]

PAGES = "/admin/django_rq/dashboard"
DEFAULT = 1  # the "default" queue's index in RQ_QUEUES (high, default, low)
JOBS = f"{PAGES}/queues/{DEFAULT}/"


@pytest.fixture
def job() -> Job:
    return django_rq.get_queue("default").enqueue("os.getcwd")


def test_a_queue_past_the_last_is_a_404(staff_client):
    # django-rq indexed its list of queues with it: an IndexError, a 500.
    for page in ("", "finished/", "failed/clear/", "empty/", "requeue-all/"):
        assert staff_client.get(f"{PAGES}/queues/7/{page}").status_code == 404, page
    assert staff_client.get(f"{PAGES}/workers/7/").status_code == 404


@pytest.mark.parametrize("job_id", ["no-such-job", "not%20an%20id"])
def test_an_unknown_or_malformed_job_is_a_404(staff_client, job_id):
    # NoSuchJobError, or rq's ValueError for a character it does not allow in an id.
    for page in ("", "delete/", "requeue/", "enqueue/"):
        assert staff_client.get(f"{JOBS}{job_id}/{page}").status_code == 404, page
    assert staff_client.post(f"{JOBS}{job_id}/stop/").status_code == 404


def test_only_a_failed_job_is_requeued(staff_client, job):
    # rq raised InvalidJobOperation for any other.
    response = staff_client.post(f"{JOBS}{job.id}/requeue/")
    assert response.status_code == 400
    assert job.get_status(refresh=True) == "queued"
    assert django_rq.get_queue("default").job_ids == [job.id]


@pytest.mark.parametrize("next_url", ["zzz", "https://evil.example/"])
def test_a_next_page_elsewhere_is_dropped_and_unknown_jobs_skipped(staff_client, job, next_url):
    # redirect() took "zzz" for a view's name (NoReverseMatch); the bad id was a ValueError.
    response = staff_client.post(
        f"{PAGES}/queues/actions/{DEFAULT}/",
        {"action": "delete", "job_ids": [job.id, "not an id", "no-such-job"], "next_url": next_url},
    )
    assert response.status_code == 302
    assert response["Location"] == JOBS
    assert not Job.exists(job.id, connection=django_rq.get_connection("default"))


def test_a_next_page_here_is_followed(staff_client, job):
    response = staff_client.post(
        f"{PAGES}/queues/actions/{DEFAULT}/", {"action": "delete", "job_ids": [job.id], "next_url": "/admin/"}
    )
    assert response["Location"] == "/admin/"


def test_the_confirmation_ignores_a_referer_that_is_no_page(staff_client, job):
    response = staff_client.post(
        f"{PAGES}/queues/confirm-action/{DEFAULT}/",
        {"action": "delete", "_selected_action": [job.id, "not an id"]},
        headers={"referer": "zzz"},
    )
    assert response.status_code == 200
    assert response.context["job_ids"] == [job.id]
    assert response.context["next_url"] == JOBS


def test_an_unknown_worker_and_the_missing_scheduler_are_404s(staff_client):
    assert staff_client.get(f"{PAGES}/workers/{DEFAULT}/nobody/").status_code == 404
    assert staff_client.get(f"{PAGES}/workers/{DEFAULT}/rq:worker:nobody/").status_code == 404
    assert (
        staff_client.get(f"{PAGES}/schedulers/{DEFAULT}/").status_code == 404
    )  # rq-scheduler is not installed


def test_others_are_still_sent_to_log_in_first(owner_client):
    # The look-ups come after the staff check: a 404 would tell them which queues and jobs exist.
    for c in (Client(), owner_client):
        response = c.get(f"{PAGES}/queues/7/no-such-job/")
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_the_dashboard_has_no_object_pages(staff_client):
    # Its model has no table: each object page was an OperationalError.
    for page in ("change/", "history/", "delete/"):
        response = staff_client.get(f"{PAGES}/1/{page}")
        assert response.status_code == 302, page
        assert response["Location"] == "/admin/"


@pytest.mark.urls(__name__)
def test_rq_urls_guards_the_same_pages_under_their_own_namespace(staff_client, job):
    assert staff_client.get("/admin/rq/queues/7/").status_code == 404
    assert staff_client.get(f"/admin/rq/queues/{DEFAULT}/not%20an%20id/").status_code == 404
    page = staff_client.get(f"/admin/rq/queues/{DEFAULT}/{job.id}/")
    assert page.status_code == 200
    assert job.id in page.content.decode()
    assert Client().get("/admin/rq/queues/7/")["Location"].startswith("/admin/login/")
