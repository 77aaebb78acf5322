"""A dropped database connection (the pooler restarting, say) costs neither a job nor a 500.

Real processes with persistent connections (DATABASE_CONN_MAX_AGE=60, health
checks on, as on Supabase's port 5432): a worker and Daphne each open their
connection, then the server terminates every backend of the test database,
and the next job and the next request must still succeed. PostgreSQL only.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import django_rq
import httpx
import pytest
from django.conf import settings
from django.core.files import File
from django.db import connection
from django.test import Client
from rq.job import Job

from analysis import jobs, services
from analysis.models import Video
from testkit.live import daphne_server, rq_worker
from testkit.waiting import until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

if connection.vendor != "postgresql":
    reason = "terminating backends is PostgreSQL's: run with DATABASE_URL=postgres://... (CI does)"
    print(f"\n{__name__} skipped: {reason}")
    pytestmark = [*pytestmark, pytest.mark.skip(reason=reason)]

# libpq names every connection the child processes open, so that only theirs are dropped:
# this test process's other threads (a live server's, say) keep theirs for the tests after.
APPLICATION_NAME = "videochat-dropped-connection-test"
PERSISTENT = {"DATABASE_CONN_MAX_AGE": "60", "TRANSCRIBE_SPEECH": "false", "PGAPPNAME": APPLICATION_NAME}


def _terminate_other_backends() -> int:
    """What a pooler or server restart does to the worker's and the server's connections: drop them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = %s",
            [APPLICATION_NAME],
        )
        return sum(1 for (done,) in cursor.fetchall() if done)


def _wait_until_finished(video: Video, timeout: float = 120) -> Video:
    until(
        lambda: video.refresh_from_db() or video.is_finished,
        timeout=timeout,
        what=f"video {video.pk} to finish",
        interval=0.2,
    )
    return video


def _upload(owner, path: Path) -> Video:
    """Store the clip and queue its analysis, as an upload does (autocommit: queued at once)."""
    data = path.read_bytes()
    with open(path, "rb") as fh:
        video, _ = services.video_create(
            owner=owner,
            file=File(fh),
            original_name=path.name,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            container="mp4",
        )
    return video


def test_a_worker_runs_the_next_job_after_its_connection_was_dropped(owner, clips):
    with rq_worker("default", **PERSISTENT) as worker:
        first = _upload(owner, Path(clips["short"].path))
        assert _wait_until_finished(first).status == Video.Status.DONE
        assert _terminate_other_backends() >= 1, "the worker kept no connection to drop"

        second = _wait_until_finished(_upload(owner, Path(clips["other"].path)))
        assert worker.poll() is None, "the worker died"

    assert second.status == Video.Status.DONE, second.failure_reason
    assert second.analyses.count() == 1
    # At its first attempt: not failed on the dead connection and rescued by a retry.
    job = Job.fetch(jobs.job_id(second), connection=django_rq.get_connection("default"))
    assert job.retries_left == jobs.RETRY.max
    assert django_rq.get_queue("default").failed_job_registry.count == 0


def _get(url: str, cookie: str) -> httpx.Response:
    return httpx.get(url, cookies={settings.SESSION_COOKIE_NAME: cookie}, timeout=30)


def test_the_web_answers_the_next_request_after_its_connection_was_dropped(owner):
    browser = Client()
    browser.force_login(owner)
    cookie = browser.cookies[settings.SESSION_COOKIE_NAME].value

    with daphne_server(**PERSISTENT) as base_url:
        assert _get(f"{base_url}/videos/", cookie).status_code == 200
        # Under ASGI each request runs on a thread of its own, with a connection of its
        # own: the one the first request left behind is dropped here, if GC has not yet.
        _terminate_other_backends()

        page = _get(f"{base_url}/videos/", cookie)
        health = _get(f"{base_url}/healthz", cookie)

    assert page.status_code == 200, page.text[-2000:]
    assert owner.email in page.text  # a logged-in page: the user came from the database
    assert health.status_code == 200
    assert health.json()["parts"]["database"] == "up"
