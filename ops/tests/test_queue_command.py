from datetime import timedelta
from io import StringIO

import django_rq
import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from analysis import jobs
from analysis.models import Video
from chat import jobs as chat_jobs
from chat.models import Conversation, Message

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
    jobs.ANALYSIS.enqueue(stalled)  # its job is in the queue, but the run it had went quiet
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
    assert _run("recover").strip() == "re-queued 1 video(s) and 0 clip(s) and 0 replies"
    assert _run("recover").strip() == "re-queued 0 video(s) and 0 clip(s) and 0 replies"


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


def _reply(owner, **fields) -> Message:
    """An assistant reply waiting for its job: none was queued (the on-commit enqueue never ran)."""
    conversation = Conversation.objects.create(owner=owner, title="About my clip")
    return Message.objects.create(
        conversation=conversation, role=Message.Role.ASSISTANT, status=Message.Status.PENDING, **fields
    )


def test_status_shows_the_open_replies_and_why_they_wait(owner):
    lost = _reply(owner)
    quiet = _reply(owner, attempts=1)
    stale = timezone.now() - timedelta(seconds=settings.CHAT_STALE_SECONDS + 5)
    Message.objects.filter(pk=quiet.pk).update(status=Message.Status.STREAMING, updated_at=stale)
    chat_jobs.REPLY.enqueue(quiet)  # its job is in the queue, but the run it had went quiet
    output = _run("status")
    assert "open replies: 2" in output
    assert f"{lost.uuid} pending    owner@example.com: the queue has no record of its job: recovery" in output
    assert f"{quiet.uuid} streaming  owner@example.com: no chunk written for over" in output
    assert output.count("queues it again") == 2


def test_recover_requeues_a_lost_reply(owner):
    lost = _reply(owner)
    assert _run("recover").strip() == "re-queued 0 video(s) and 0 clip(s) and 1 reply"
    assert django_rq.get_queue("high").job_ids == [chat_jobs.job_id(lost)]
    # Its job is alive now: nothing more to recover, and status says so.
    assert _run("recover").strip() == "re-queued 0 video(s) and 0 clip(s) and 0 replies"
    assert f"{lost.uuid} pending    owner@example.com: writing; its job is queued" in _run("status")


def test_recover_gives_a_cut_off_reply_back_to_a_new_run(owner):
    stale = timezone.now() - timedelta(seconds=settings.CHAT_STALE_SECONDS + 5)
    cut_off = _reply(owner, attempts=1)
    Message.objects.filter(pk=cut_off.pk).update(status=Message.Status.STREAMING, updated_at=stale)
    assert _run("recover").strip() == "re-queued 0 video(s) and 0 clip(s) and 1 reply"
    cut_off.refresh_from_db()
    assert cut_off.status == Message.Status.PENDING
    assert django_rq.get_queue("high").job_ids == [chat_jobs.job_id(cut_off)]


def test_status_says_recovery_fails_a_reply_cut_off_too_often(owner):
    stale = timezone.now() - timedelta(seconds=settings.CHAT_STALE_SECONDS + 5)
    tried_out = _reply(owner, attempts=chat_jobs.MAX_RECOVERIES)
    Message.objects.filter(pk=tried_out.pk).update(status=Message.Status.STREAMING, updated_at=stale)
    assert f"fails it (it has had {chat_jobs.MAX_RECOVERIES} runs)" in _run("status")
    assert _run("recover").strip() == "re-queued 0 video(s) and 0 clip(s) and 1 reply"
    tried_out.refresh_from_db()
    assert tried_out.status == Message.Status.FAILED
    assert "cut off" in tried_out.failure_reason
    assert django_rq.get_queue("high").count == 0
