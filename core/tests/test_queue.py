"""The rule for a live job, against what Redis really holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import django_rq
import pytest
from rq.job import JobStatus
from rq.scheduler import RQScheduler
from rq.utils import utcformat

from analysis import jobs
from core.queue import keep_alive, release_stale_scheduler_locks, why_not_alive

pytestmark = pytest.mark.django_db


def _swallow(job_id: str) -> None:
    """What a dead worker's socket did: the job left its queue, its record still says queued."""
    connection = django_rq.get_connection("default")
    connection.lrem("rq:queue:default", 0, job_id)
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    connection.hset(f"rq:job:{job_id}", "enqueued_at", utcformat(long_ago))


def test_it_finds_a_job_marked_queued_that_no_queue_holds(owner, clips, make_video):
    video = make_video(owner, clips["short"].path)
    jobs.ANALYSIS.enqueue(video)
    assert jobs.why_waiting(video) is None
    _swallow(jobs.job_id(video))
    job = django_rq.get_queue("default").fetch_job(jobs.job_id(video))
    assert job.get_status() == JobStatus.QUEUED
    assert jobs.why_waiting(video) == "its job is marked queued but no queue holds it"


def test_queue_recover_brings_back_a_swallowed_job(owner, clips, make_video):
    from django.core.management import call_command

    video = make_video(owner, clips["short"].path)
    jobs.ANALYSIS.enqueue(video)
    _swallow(jobs.job_id(video))
    # Re-analyse and a plain enqueue no longer take the record's word for it either.
    call_command("queue", "recover", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert django_rq.get_queue("default").job_ids == [jobs.job_id(video)]
    assert jobs.why_waiting(video) is None


def test_a_job_popped_a_moment_ago_is_not_lost(owner, clips, make_video):
    video = make_video(owner, clips["short"].path)
    jobs.ANALYSIS.enqueue(video)
    django_rq.get_connection("default").lrem("rq:queue:default", 0, jobs.job_id(video))
    assert jobs.why_waiting(video) is None  # a worker is about to mark it started


def test_a_started_job_is_alive_only_while_its_worker_is(owner, clips, make_video):
    connection = django_rq.get_connection("default")
    video = make_video(owner, clips["short"].path)
    jobs.ANALYSIS.enqueue(video)
    job = django_rq.get_queue("default").fetch_job(jobs.job_id(video))
    django_rq.get_queue("default").remove(job)
    job.worker_name = "worker-1"
    job.set_status(JobStatus.STARTED)
    assert why_not_alive(job, connection) == "the worker running it (worker-1) is gone"
    keep_alive(connection, "worker-1")
    assert why_not_alive(job, connection) is None


def test_it_frees_a_scheduler_lock_held_by_no_live_worker():
    connection = django_rq.get_connection("default")
    orphan = RQScheduler(["default"], connection=connection)
    orphan.register_birth()  # a scheduler process, on a host:pid no live worker has
    orphan.pid = 999_999
    orphan.save()
    assert orphan.acquire_locks() == {"default"}
    assert release_stale_scheduler_locks(connection, ["default", "high"]) == ["default"]
    assert not connection.exists("rq:scheduler-lock:default")


def test_it_keeps_the_lock_of_a_live_worker_s_scheduler():
    connection = django_rq.get_connection("default")
    scheduler = RQScheduler(["default"], connection=connection)
    scheduler.register_birth()  # this process: its pid is a live worker's once it keeps alive
    keep_alive(connection, "this-worker")
    assert scheduler.acquire_locks() == {"default"}
    assert release_stale_scheduler_locks(connection, ["default"]) == []
    assert connection.exists("rq:scheduler-lock:default")


def test_a_run_with_a_fresh_heartbeat_is_alive_though_redis_forgot_its_job(owner, clips, make_video):
    from django.utils import timezone

    video = make_video(owner, clips["short"].path, status="processing", heartbeat_at=timezone.now())
    assert jobs.why_waiting(video) is None  # Redis restarted empty; the row says it runs
    assert jobs.recover_lost() == []


def test_a_run_taken_over_by_a_later_one_drops_its_result(owner, clips, make_video, monkeypatch):
    from analysis.models import Video

    video = make_video(owner, clips["short"].path)
    real_analyze = jobs.analyze

    def analyze_then_taken_over(*args, **kwargs):
        result = real_analyze(*args, **kwargs)
        # Meanwhile recovery took this run for dead and a second run started.
        Video.objects.filter(pk=video.pk).update(attempts=5)
        return result

    monkeypatch.setattr(jobs, "analyze", analyze_then_taken_over)
    assert jobs.analyze_video(video.pk) == "superseded by a later run"
    video.refresh_from_db()
    assert video.status == "processing"
    assert not video.analyses.exists()
