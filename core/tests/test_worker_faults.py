"""Real worker processes against real faults: nothing they were given is lost.

Each test runs `manage.py rqworker` as make run does, does to it what a
machine does to a process (SIGKILL, Redis going away), and reads the outcome
from the database.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import django_rq
import pytest
import redis

from analysis import jobs
from analysis.models import Video
from analysis.tests.clips import make_clip
from core.queue import is_worker_alive
from testkit.live import BASE_DIR, free_port, subprocess_env
from testkit.procs import children, is_alive, stop
from testkit.waiting import until
from videochat.embedded import restart_valkey, start_valkey

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _start_worker(name: str, *queues: str, **env: str) -> subprocess.Popen:
    args = [
        sys.executable,
        str(BASE_DIR / "manage.py"),
        "rqworker",
        *queues,
        "--with-scheduler",
        "--name",
        name,
    ]
    return subprocess.Popen(args, cwd=BASE_DIR, env=subprocess_env(**env))


def test_a_worker_killed_while_idle_leaves_nothing_that_swallows_the_next_job(owner, make_video, clips):
    connection = django_rq.get_connection("default")
    first = _start_worker("idle-then-killed", "default")
    try:
        until(lambda: is_worker_alive(connection, "idle-then-killed"), timeout=60, what="the worker")
        # Its scheduler has started (a thread of the worker: no process of its own).
        until(lambda: connection.exists("rq:scheduler-lock:default"), timeout=30, what="its scheduler")
        left_behind = children(first.pid)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        stop(first, timeout=15)
    assert not [pid for pid in left_behind if is_alive(pid)], "a child of the killed worker lives on"

    second = _start_worker("after-the-kill", "default")
    try:
        until(lambda: is_worker_alive(connection, "after-the-kill"), timeout=60, what="the new worker")
        video = make_video(owner, clips["short"].path)
        jobs.enqueue_analysis(video)
        until(
            lambda: Video.objects.filter(pk=video.pk, status=Video.Status.DONE).exists(),
            timeout=120,
            what="the video to be analysed",
        )
    finally:
        stop(second, timeout=15)
    assert video.analyses.count() == 1


def test_a_busy_worker_still_recovers_lost_work(owner, make_video, clips):
    busy = django_rq.get_queue("default").enqueue("time.sleep", 300, job_timeout=600)
    worker = _start_worker("busy", "default", QUEUE_MAINTENANCE_SECONDS="3")
    try:
        until(lambda: busy.get_status(refresh=True) == "started", timeout=60, what="the busy job")
        # A video the queue lost (Redis forgot it, say) while the only worker is busy.
        lost = make_video(owner, clips["short"].path)
        assert jobs.why_waiting(lost) == "the queue has no record of its job"
        until(lambda: jobs.why_waiting(lost) is None, timeout=60, what="maintenance to queue it again")
        assert jobs.job_id(lost) in django_rq.get_queue("default").job_ids
        assert busy.get_status(refresh=True) == "started"  # found while the worker was busy
    finally:
        stop(worker, timeout=15)


def test_a_worker_outlives_redis_going_away_mid_job(owner, make_video, tmp_path):
    port = free_port()
    valkey = start_valkey(tmp_path / "valkey", port=port, persist=False)
    url = f"redis://127.0.0.1:{port}/0"
    clip = make_clip(tmp_path / "long.mp4", duration=30, size=(640, 360), fps=30, cuts=(10, 20))
    video = make_video(owner, clip.path)
    later = make_video(owner, make_clip(tmp_path / "later.mp4", duration=3.0, cuts=(1.5,)).path)
    own_redis = redis.Redis.from_url(url)
    worker = _start_worker("outlives-redis", "default", REDIS_URL=url, QUEUE_MAINTENANCE_SECONDS="3")
    try:
        django_rq.get_queue("default", connection=own_redis).enqueue(
            jobs.analyze_video, video.pk, job_id=jobs.job_id(video)
        )
        until(
            lambda: Video.objects.filter(pk=video.pk, status=Video.Status.PROCESSING).exists(),
            timeout=60,
            what="the analysis to start",
        )
        valkey.stop()  # Redis goes away mid-job, and comes back empty
        until(
            lambda: Video.objects.filter(pk=video.pk, status=Video.Status.DONE).exists(),
            timeout=180,
            what="the analysis to be saved while Redis is away",
        )
        assert worker.poll() is None, "the worker quit when Redis went away"
        restart_valkey(valkey)
        # Redis lost everything; the same worker goes on, and recovery finds the video it never got.
        until(
            lambda: Video.objects.filter(pk=later.pk, status=Video.Status.DONE).exists(),
            timeout=180,
            what="a video queued before the outage to be recovered and analysed",
        )
        assert worker.poll() is None
    finally:
        stop(worker, timeout=15)
        valkey.stop()
    assert video.analyses.count() == 1
    assert later.analyses.count() == 1


def test_an_idle_worker_stops_on_sigterm():
    connection = django_rq.get_connection("default")
    worker = _start_worker("stops-when-asked", "default")
    try:
        # Idle, waiting on the queue: RQ has installed its signal handlers by then.
        until(
            lambda: connection.hget("rq:worker:stops-when-asked", "state") == b"idle",
            timeout=60,
            what="the worker to wait on the queue",
        )
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    finally:
        stop(worker, timeout=15)
    assert not is_worker_alive(connection, "stops-when-asked")
