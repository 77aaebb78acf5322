from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from analysis import jobs
from analysis.models import Video

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = StringIO()
    call_command("queue", *args, stdout=out)
    return out.getvalue()


def test_status_shows_every_queue_and_the_unfinished_videos(owner, clips, make_video):
    stalled = make_video(
        owner,
        clips["short"].path,
        status=Video.Status.PROCESSING,
        heartbeat_at=timezone.now() - timedelta(hours=1),
    )
    jobs._enqueue(stalled, "default")  # its job is in the queue, but the run it had went quiet
    lost = make_video(owner, clips["other"].path)
    output = _run("status")
    for name in ("high", "default", "low"):
        assert f"\n{name} " in output
    assert "unfinished videos: 2" in output
    assert f"{stalled.uuid} processing" in output
    assert "no sign of life from its analysis" in output
    assert f"{lost.uuid} queued" in output
    assert "the queue has no record of its job: recovery" in output


def test_recover_reports_what_it_requeued(owner, clips, make_video):
    make_video(owner, clips["short"].path)
    assert _run("recover").strip() == "re-queued 1 video(s) and 0 replies"
    assert _run("recover").strip() == "re-queued 0 video(s) and 0 replies"


def test_status_lists_live_workers_only(owner):
    import django_rq
    from rq import Worker

    from core.queue import keep_alive

    connection = django_rq.get_connection("default")
    for name in ("alive-one", "killed-one"):
        Worker([django_rq.get_queue("default")], connection=connection, name=name).register_birth()
    keep_alive(connection, "alive-one")
    output = _run("status")
    assert "live workers: 1" in output
    assert "alive-one" in output
    assert "killed-one" not in output
