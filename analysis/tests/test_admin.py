"""Staff see videos and analyses in Django admin, search them, and act on them."""

from __future__ import annotations

import django_rq
import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from analysis import jobs
from analysis.models import Analysis, Video
from analysis.tests.test_pages import make_analysis

pytestmark = pytest.mark.django_db

VIDEOS = reverse("admin:analysis_video_changelist")
ANALYSES = reverse("admin:analysis_analysis_changelist")


@pytest.fixture
def videos(owner, outsider, clips, make_video):
    beach = make_video(owner, clips["short"].path, name="beach day.mp4")
    make_analysis(beach)
    beach.mark_done()
    party = make_video(outsider, clips["other"].path, name="party.mov", container="mov")
    party.mark_failed("It stops early.")
    return beach, party


def _listed(response) -> str:
    return response.content.decode()


def test_it_searches_videos_by_owner_email(staff_client, videos):
    html = _listed(staff_client.get(VIDEOS, {"q": "outsider@"}))
    assert "party.mov" in html
    assert "beach day.mp4" not in html


def test_it_searches_videos_by_file_name(staff_client, videos):
    html = _listed(staff_client.get(VIDEOS, {"q": "beach"}))
    assert "beach day.mp4" in html
    assert "party.mov" not in html


def test_it_filters_videos_by_status_and_container(staff_client, videos):
    html = _listed(staff_client.get(VIDEOS, {"status__exact": "failed"}))
    assert "party.mov" in html
    assert "beach day.mp4" not in html
    html = _listed(staff_client.get(VIDEOS, {"container__exact": "mp4"}))
    assert "beach day.mp4" in html
    assert "party.mov" not in html


def test_it_shows_a_video_with_its_analyses(staff_client, videos):
    beach, _ = videos
    response = staff_client.get(reverse("admin:analysis_video_change", args=[beach.pk]))
    assert response.status_code == 200
    html = _listed(response)
    assert "owner@example.com" in html
    assert "local" in html  # the analysis inline
    assert str(beach.uuid) in html


def test_the_reanalyse_action_queues_finished_videos(
    staff_client, videos, django_capture_on_commit_callbacks
):
    beach, party = videos
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            VIDEOS, {"action": "reanalyze", "_selected_action": [beach.pk, party.pk]}, follow=True
        )
    assert "Queued 2 video(s)" in _listed(response)
    assert Video.objects.filter(status=Video.Status.QUEUED).count() == 2
    assert set(django_rq.get_queue("low").job_ids) == {jobs.job_id(beach), jobs.job_id(party)}
    assert beach.analyses.count() == 1


def test_the_reanalyse_action_skips_videos_being_analysed(staff_client, owner, clips, make_video):
    video = make_video(owner, clips["short"].path)
    video.mark_processing()
    response = staff_client.post(VIDEOS, {"action": "reanalyze", "_selected_action": [video.pk]}, follow=True)
    assert "Skipped 1 video(s)" in _listed(response)
    video.refresh_from_db()
    assert video.status == Video.Status.PROCESSING
    assert django_rq.get_queue("low").job_ids == []


def test_the_requeue_action_queues_videos_whose_job_was_lost(staff_client, owner, clips, make_video):
    lost = make_video(owner, clips["short"].path, name="lost.mp4")  # queued, but no job in Redis
    assert django_rq.get_queue("default").job_ids == []

    response = staff_client.post(
        VIDEOS, {"action": "requeue_lost", "_selected_action": [lost.pk]}, follow=True
    )

    assert "Re-queued 1 video(s): lost.mp4." in _listed(response)
    assert django_rq.get_queue("default").job_ids == [jobs.job_id(lost)]
    # A second run finds the job queued and leaves it alone.
    response = staff_client.post(
        VIDEOS, {"action": "requeue_lost", "_selected_action": [lost.pk]}, follow=True
    )
    assert "No lost jobs" in _listed(response)
    assert django_rq.get_queue("default").job_ids == [jobs.job_id(lost)]


def test_deleting_in_admin_removes_the_files(staff_client, videos, django_capture_on_commit_callbacks):
    beach, _ = videos
    names = [beach.file.name, *beach.analyses.get().media_names()]
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            VIDEOS, {"action": "delete_selected", "_selected_action": [beach.pk], "post": "yes"}
        )
    assert response.status_code == 302
    assert not Video.objects.filter(pk=beach.pk).exists()
    assert not any(default_storage.exists(name) for name in names)


def test_it_lists_searches_and_filters_analyses(staff_client, videos, owner, clips, make_video):
    beach, _ = videos
    other = make_video(owner, clips["other"].path, name="mountain.mp4")
    make_analysis(other, analyzer="gemini", extra={"usage": {"total_tokens": 7531}})

    html = _listed(staff_client.get(ANALYSES, {"analyzer": "gemini"}))
    assert "mountain.mp4" in html
    assert '<td class="field-gemini_tokens">7531</td>' in html
    assert "beach day.mp4" not in html
    html = _listed(staff_client.get(ANALYSES, {"q": "beach"}))
    assert "beach day.mp4" in html
    assert "mountain.mp4" not in html
    html = _listed(staff_client.get(ANALYSES, {"q": "owner@example"}))
    assert "beach day.mp4" in html
    assert "mountain.mp4" in html
    analysis = Analysis.objects.get(video=beach)
    assert staff_client.get(reverse("admin:analysis_analysis_change", args=[analysis.pk])).status_code == 200


def test_admin_is_closed_to_non_staff(owner_client, videos):
    assert owner_client.get(VIDEOS).status_code == 302
    assert owner_client.get(ANALYSES).status_code == 302


def test_deleting_one_video_in_admin_removes_its_files(
    staff_client, videos, django_capture_on_commit_callbacks
):
    beach, party = videos
    names = [beach.file.name, *beach.analyses.get().media_names()]
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(reverse("admin:analysis_video_delete", args=[beach.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert list(Video.objects.all()) == [party]
    assert not any(default_storage.exists(name) for name in names)
    assert default_storage.exists(party.file.name)


def test_the_change_page_works_when_media_has_no_url(admin_client, owner, make_video, clips, supabase_media):
    from django.urls import reverse

    video = make_video(owner, clips["short"].path)
    response = admin_client.get(reverse("admin:analysis_video_change", args=[video.pk]))
    assert response.status_code == 200
    assert video.file.name in response.content.decode()
