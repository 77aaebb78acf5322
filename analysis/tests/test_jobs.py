"""The analysis job, run in this process: outcomes on the row, files, pushes, recovery."""

from __future__ import annotations

from datetime import timedelta

import django_rq
import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.files.storage import default_storage
from django.utils import timezone

from analysis import jobs
from analysis.models import Analysis, Video
from analysis.tests.clips import make_audio_only, make_truncated
from core.consumers import user_group

pytestmark = pytest.mark.django_db


def test_it_analyses_a_video_and_stores_the_results(owner, clips, make_video):
    clip = clips["short"]
    video = make_video(owner, clip.path)
    assert jobs.analyze_video(video.pk) == "done"

    video.refresh_from_db()
    assert video.status == Video.Status.DONE
    assert video.progress == 100
    assert video.attempts == 1
    assert video.started_at is not None
    assert video.finished_at >= video.started_at
    analysis = video.analyses.get()
    assert analysis.analyzer == "local"
    assert analysis.metadata["duration"] == pytest.approx(clip.duration, abs=0.1)
    assert (analysis.metadata["width"], analysis.metadata["height"]) == clip.size
    found = [scene["start"] for scene in analysis.scenes[1:]]
    assert found == pytest.approx(list(clip.cuts), abs=2 / clip.fps)
    assert analysis.wall_time > 0
    for name in analysis.media_names():
        assert name.startswith(video.media_prefix + "/")
        assert default_storage.exists(name)
    assert analysis.poster
    assert analysis.storyboard_image


def test_it_marks_a_truncated_file_failed_with_a_reason(owner, clips, make_video, tmp_path):
    broken = make_truncated(clips["short"].path, tmp_path / "broken.mp4")
    video = make_video(owner, broken)
    assert jobs.analyze_video(video.pk) == "failed"
    video.refresh_from_db()
    assert video.status == Video.Status.FAILED
    assert "stops before the video ends" in video.failure_reason
    assert not Analysis.objects.exists()


def test_it_marks_a_file_without_video_failed(owner, make_video, tmp_path):
    video = make_video(owner, make_audio_only(tmp_path / "sound.mp4"))
    jobs.analyze_video(video.pk)
    video.refresh_from_db()
    assert video.status == Video.Status.FAILED
    assert "no video stream" in video.failure_reason


def test_it_skips_a_deleted_or_finished_video(owner, clips, make_video):
    assert jobs.analyze_video(999999) == "video deleted"
    video = make_video(owner, clips["short"].path, status=Video.Status.DONE)
    assert jobs.analyze_video(video.pk) == "already done"
    assert not Analysis.objects.exists()


def test_it_leaves_a_video_another_worker_is_running(owner, clips, make_video):
    video = make_video(
        owner, clips["short"].path, status=Video.Status.PROCESSING, heartbeat_at=timezone.now()
    )
    assert jobs.analyze_video(video.pk) == "running elsewhere"
    video.refresh_from_db()
    assert video.attempts == 0


def test_it_gives_up_after_too_many_attempts(owner, clips, make_video, settings):
    settings.ANALYSIS_MAX_ATTEMPTS = 2
    video = make_video(owner, clips["short"].path, attempts=2)
    assert jobs.analyze_video(video.pk) == "gave up"
    video.refresh_from_db()
    assert video.status == Video.Status.FAILED
    assert "several times" in video.failure_reason


def test_a_fresh_analysis_counts_its_runs_from_none(owner, clips, make_video, settings):
    """Each analysis run counts an attempt; re-analysing starts the count again."""
    settings.ANALYSIS_MAX_ATTEMPTS = 2
    from analysis.services import video_reanalyze

    video = make_video(owner, clips["short"].path)
    for _ in range(3):
        assert jobs.analyze_video(video.pk) == "done"
        video.refresh_from_db()
        assert video.status == Video.Status.DONE
        video_reanalyze(video=video)
        video.refresh_from_db()
        assert video.attempts == 0


def test_it_pushes_progress_to_the_owner_only(owner, outsider, clips, make_video):
    layer = get_channel_layer()
    mine = async_to_sync(layer.new_channel)()
    theirs = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(owner.pk), mine)
    async_to_sync(layer.group_add)(user_group(outsider.pk), theirs)
    video = make_video(owner, clips["short"].path)
    jobs.analyze_video(video.pk)

    async def drain(channel: str) -> list[str]:
        import asyncio

        messages = []
        while True:
            try:
                message = await asyncio.wait_for(layer.receive(channel), timeout=0.5)
            except TimeoutError:
                return messages
            messages.append(message["html"])

    mine_got = async_to_sync(drain)(mine)
    assert len(mine_got) >= 3
    assert all(f'id="video-{video.uuid}-status"' in html for html in mine_got)
    assert 'data-status="processing"' in mine_got[0]
    assert 'data-status="done"' in mine_got[-1]
    assert 'data-finished="true"' in mine_got[-1]
    assert async_to_sync(drain)(theirs) == []


def test_enqueue_is_idempotent_and_on_commit(owner, clips, make_video, django_capture_on_commit_callbacks):
    queue = django_rq.get_queue("default")
    with django_capture_on_commit_callbacks(execute=True):
        video = make_video(owner, clips["short"].path)
        jobs.enqueue_analysis(video)
        jobs.enqueue_analysis(video)
        assert queue.count == 0  # nothing before the commit
    assert queue.job_ids == [jobs.job_id(video)]


def test_reanalysis_goes_to_the_low_queue(owner, clips, make_video, django_capture_on_commit_callbacks):
    video = make_video(owner, clips["short"].path, status=Video.Status.DONE)
    from analysis.services import video_reanalyze

    with django_capture_on_commit_callbacks(execute=True):
        video_reanalyze(video=video)
    assert django_rq.get_queue("low").job_ids == [jobs.job_id(video)]
    video.refresh_from_db()
    assert video.status == Video.Status.QUEUED


def test_recover_requeues_only_what_the_queue_lost(owner, clips, make_video):
    lost = make_video(owner, clips["short"].path)
    stalled = make_video(
        owner,
        clips["other"].path,
        status=Video.Status.PROCESSING,
        heartbeat_at=timezone.now() - timedelta(minutes=10),
    )
    done = make_video(owner, clips["short"].path, name="again.mp4", sha256="0" * 64, status=Video.Status.DONE)
    recovered = jobs.recover_lost()
    assert {v.pk for v in recovered} == {lost.pk, stalled.pk}
    queue = django_rq.get_queue("default")
    assert set(queue.job_ids) == {jobs.job_id(lost), jobs.job_id(stalled)}
    assert jobs.job_id(done) not in queue.job_ids
    # Running it again finds nothing more: the jobs are pending now.
    assert jobs.recover_lost() == []
    assert queue.count == 2


def test_recovery_fails_a_video_that_has_had_its_runs(owner, clips, make_video, settings):
    settings.ANALYSIS_MAX_ATTEMPTS = 2
    video = make_video(
        owner,
        clips["short"].path,
        status=Video.Status.PROCESSING,
        attempts=2,
        heartbeat_at=timezone.now() - timedelta(minutes=10),
    )
    assert [v.pk for v in jobs.recover_lost()] == [video.pk]
    video.refresh_from_db()
    assert video.status == Video.Status.FAILED
    assert "several times" in video.failure_reason
    assert django_rq.get_queue("default").count == 0


def test_deleting_an_account_deletes_its_files(owner, clips, make_video, django_capture_on_commit_callbacks):
    video = make_video(owner, clips["short"].path)
    jobs.analyze_video(video.pk)
    names = [video.file.name, *video.analyses.get().media_names()]
    assert all(default_storage.exists(name) for name in names)
    with django_capture_on_commit_callbacks(execute=True):
        owner.delete()
    assert not any(default_storage.exists(name) for name in names)
