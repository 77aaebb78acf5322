"""Real `manage.py rqworker` processes against the test database and Redis."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time

import django_rq
import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core.management import call_command

from analysis import jobs
from analysis.models import Video
from analysis.tests.clips import make_clip
from testkit.live import BASE_DIR, subprocess_env
from testkit.procs import descendants
from testkit.waiting import until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _worker_command(*queues: str, burst: bool = True) -> list[str]:
    return [sys.executable, str(BASE_DIR / "manage.py"), "rqworker", *queues, *(["--burst"] if burst else [])]


def _run_burst_worker(*queues: str, timeout: float = 180, **env: str) -> None:
    result = subprocess.run(
        _worker_command(*queues),
        cwd=BASE_DIR,
        env=subprocess_env(**env),
        timeout=timeout,
        capture_output=True,
    )
    assert result.returncode == 0, result.stderr.decode()[-3000:]


def _kill_worker_and_horse(worker: subprocess.Popen) -> None:
    """SIGKILL the worker and every process under it (RQ's work horse runs in its own group)."""
    for pid in [*descendants(worker.pid), worker.pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    worker.wait()


@pytest.mark.asyncio
async def test_a_worker_drains_the_job_and_the_page_hears_of_it(owner_client, owner, clips, make_video):
    from videochat.asgi import application

    clip = clips["short"]
    video = await database_sync_to_async(make_video)(owner, clip.path)
    await database_sync_to_async(jobs.enqueue_analysis)(video)  # autocommit: queued at once
    assert django_rq.get_queue("default").job_ids == [jobs.job_id(video)]

    cookie = owner_client.cookies[settings.SESSION_COOKIE_NAME].value
    socket = WebsocketCommunicator(
        application,
        "/ws/events/",
        headers=[
            (b"origin", b"http://testserver"),
            (b"host", b"testserver"),
            (b"cookie", f"sessionid={cookie}".encode()),
        ],
    )
    try:
        assert (await socket.connect())[0]
        process = await asyncio.create_subprocess_exec(
            *_worker_command("default"), cwd=BASE_DIR, env=subprocess_env()
        )
        assert await asyncio.wait_for(process.wait(), timeout=180) == 0
        received = []
        while not await socket.receive_nothing(timeout=1):
            received.append(await socket.receive_from())
    finally:
        await socket.disconnect()

    await database_sync_to_async(video.refresh_from_db)()
    assert video.status == Video.Status.DONE
    analysis = await database_sync_to_async(lambda: video.analyses.get())()
    assert analysis.metadata["duration"] == pytest.approx(clip.duration, abs=0.1)
    assert (analysis.metadata["width"], analysis.metadata["height"]) == clip.size
    assert [s["start"] for s in analysis.scenes[1:]] == pytest.approx(list(clip.cuts), abs=2 / clip.fps)
    statuses = [html.split('data-status="')[1].split('"')[0] for html in received]
    assert statuses[0] == "processing"
    assert statuses[-1] == "done"
    assert any('<progress max="100" value="' in html for html in received)


def test_a_worker_killed_mid_job_does_not_lose_the_video(owner, make_video, tmp_path):
    # Long enough that the analysis is still running when the worker is killed.
    clip = make_clip(tmp_path / "long.mp4", duration=60, size=(960, 540), fps=30, cuts=(10, 20, 30, 45))
    video = make_video(owner, clip.path)
    jobs.enqueue_analysis(video)
    env = subprocess_env(ANALYSIS_STALE_SECONDS="2")
    worker = subprocess.Popen(_worker_command("default", burst=False), cwd=BASE_DIR, env=env)
    try:
        until(
            lambda: Video.objects.filter(pk=video.pk, status=Video.Status.PROCESSING).exists(),
            timeout=60,
            what="the analysis to start",
        )
    finally:
        _kill_worker_and_horse(worker)
    video.refresh_from_db()
    assert video.status == Video.Status.PROCESSING
    assert not video.analyses.exists()

    time.sleep(2.5)  # the dead job's heartbeat goes stale
    _run_burst_worker("default", ANALYSIS_STALE_SECONDS="2")

    video.refresh_from_db()
    assert video.status == Video.Status.DONE, video.failure_reason
    assert video.attempts == 2
    assert video.analyses.count() == 1


def test_queue_recover_brings_back_videos_after_redis_lost_everything(owner, clips, make_video, redis_client):
    videos = [make_video(owner, clips["short"].path), make_video(owner, clips["other"].path)]
    for video in videos:
        jobs.enqueue_analysis(video)
    assert django_rq.get_queue("default").count == 2
    redis_client.flushdb()
    assert django_rq.get_queue("default").count == 0

    call_command("queue", "recover")
    assert set(django_rq.get_queue("default").job_ids) == {jobs.job_id(v) for v in videos}
    _run_burst_worker("default")

    assert set(Video.objects.values_list("status", flat=True)) == {Video.Status.DONE}


def test_a_video_deleted_mid_analysis_leaves_no_files(owner, make_video, tmp_path):
    from django.core.files.storage import default_storage

    from analysis.services import video_delete

    clip = make_clip(tmp_path / "long.mp4", duration=40, size=(640, 360), fps=30, cuts=(10, 20, 30))
    video = make_video(owner, clip.path)
    jobs.enqueue_analysis(video)
    worker = subprocess.Popen(_worker_command("default"), cwd=BASE_DIR, env=subprocess_env())
    try:
        until(
            lambda: Video.objects.filter(pk=video.pk, status=Video.Status.PROCESSING).exists(),
            timeout=60,
            what="the analysis to start",
        )
        video_delete(video=Video.objects.get(pk=video.pk))
        assert worker.wait(timeout=120) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    assert not Video.objects.filter(pk=video.pk).exists()
    leftovers = []
    if default_storage.exists(video.media_prefix):
        folders, files = default_storage.listdir(video.media_prefix)
        leftovers = files + [f for f in folders if default_storage.listdir(f"{video.media_prefix}/{f}")[1]]
    assert leftovers == []
