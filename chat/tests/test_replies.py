"""Reply jobs: streaming over the websocket, saving, follow-ups, failures, recovery."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import django_rq
import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.utils import timezone
from rq.job import Job, JobStatus

from analysis.models import Video
from chat import jobs, services
from chat.models import Message
from core.queue import keep_alive

pytestmark = pytest.mark.django_db


def _socket(client):
    from videochat.asgi import application

    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    return WebsocketCommunicator(
        application,
        "/ws/events/",
        headers=[
            (b"origin", b"http://testserver"),
            (b"host", b"testserver"),
            (b"cookie", f"sessionid={cookie}".encode()),
        ],
    )


async def _drain(socket) -> list[str]:
    received = []
    while not await socket.receive_nothing(timeout=0.5):
        received.append(await socket.receive_from())
    return received


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_reply_streams_in_chunks_then_is_saved(
    owner_client, outsider_client, conversation, analysed_video
):
    _, reply = await database_sync_to_async(services.message_send)(
        conversation=conversation, text="How long is it, and what resolution?", videos=[analysed_video]
    )
    mine, theirs = _socket(owner_client), _socket(outsider_client)
    try:
        assert (await mine.connect())[0]
        assert (await theirs.connect())[0]
        assert await database_sync_to_async(jobs.write_reply)(reply.pk) == "complete"
        received = await _drain(mine)
        assert await theirs.receive_nothing(timeout=0.5)
    finally:
        await mine.disconnect()
        await theirs.disconnect()

    chunks = [html for html in received if f'id="message-{reply.uuid}-stream" data-swap="chunk"' in html]
    assert len(chunks) >= 2
    await database_sync_to_async(reply.refresh_from_db)()
    assert reply.status == Message.Status.COMPLETE
    assert reply.provider == "local"
    assert "01:15" in reply.text
    # Each chunk says where it goes: right after the ones before it, as the browser counts.
    streamed = ""
    for html in chunks:
        offset, text = re.search(r'data-offset="(\d+)">(.*)</div>', html, re.S).groups()
        assert int(offset) == len(streamed.encode("utf-16-le")) // 2
        streamed += unescape(text)
    assert "01:15" in streamed
    assert streamed == reply.text
    # The last push replaces the message with its rendered, linked Markdown.
    assert f'id="message-{reply.uuid}"' in received[-1]
    assert 'data-status="complete"' in received[-1]
    assert 'class="seek"' in received[-1]


def test_a_reply_about_a_video_still_analysing_says_so_then_a_summary_follows(
    owner, conversation, analysed_video, django_capture_on_commit_callbacks
):
    analysing = Video.objects.create(
        owner=owner,
        original_name="new.mp4",
        file="videos/new.mp4",
        size=10,
        sha256="c" * 64,
        container="mp4",
        status=Video.Status.PROCESSING,
        stage="Finding scenes",
        progress=40,
    )
    _, reply = services.message_send(conversation=conversation, text="How long is it?", videos=[analysing])
    jobs.write_reply(reply.pk)
    reply.refresh_from_db()
    assert "still being analysed" in reply.text
    assert list(reply.waiting_for.all()) == [analysing]

    # The pipeline finishes the video and says so through its signal.
    from analysis.jobs import analysis_finished

    analysing.analyses.create(
        analyzer="local",
        analyzer_version="1.0",
        metadata={**analysed_video.latest_analysis.metadata, "duration": 8.0},
        scenes=[{"index": 0, "start": 0.0, "end": 8.0, "thumbnail": ""}],
        timelines={"brightness": [90.0] * 8, "motion": [3.0] * 8, "loudness": [-20.0] * 8},
        silences=[],
        wall_time=0.3,
    )
    analysing.mark_done()
    with django_capture_on_commit_callbacks(execute=True):
        analysis_finished.send(sender=Video, video=analysing, analysis=analysing.latest_analysis)

    summary = conversation.messages.get(kind=Message.Kind.SUMMARY)
    assert summary.status == Message.Status.PENDING
    assert list(summary.videos.all()) == [analysing]
    assert jobs.job_id(summary) in django_rq.get_queue("high").job_ids
    assert not reply.waiting_for.exists()
    assert jobs.write_reply(summary.pk) == "complete"
    summary.refresh_from_db()
    assert "new.mp4" in summary.text
    assert "00:08" in summary.text


def test_a_failed_reply_can_be_retried(owner, conversation, analysed_video, settings):
    _, reply = services.message_send(
        conversation=conversation, text="How long is it?", videos=[analysed_video]
    )
    # A provider that is not available fails the reply (outside a worker there are no retries left).
    settings.ASSISTANT_PROVIDER = "no-such-provider"
    with pytest.raises(ValueError, match="no-such-provider"):
        jobs.write_reply(reply.pk)
    reply.refresh_from_db()
    assert reply.status == Message.Status.FAILED
    assert "Press Retry" in reply.failure_reason

    settings.ASSISTANT_PROVIDER = "local"
    services.message_retry(message=reply)
    reply.refresh_from_db()
    assert reply.status == Message.Status.PENDING
    assert jobs.write_reply(reply.pk) == "complete"
    reply.refresh_from_db()
    assert reply.status == Message.Status.COMPLETE
    assert "01:15" in reply.text


def test_a_reply_cut_off_by_a_dead_worker_is_requeued_then_failed(conversation, analysed_video):
    _, reply = services.message_send(conversation=conversation, text="hi", videos=[analysed_video])
    django_rq.get_queue("high").empty()
    stale = timezone.now() - timedelta(seconds=settings.CHAT_STALE_SECONDS + 5)
    Message.objects.filter(pk=reply.pk).update(status=Message.Status.STREAMING, attempts=1, updated_at=stale)

    assert jobs.recover_replies() == 1
    assert django_rq.get_queue("high").job_ids == [jobs.job_id(reply)]
    reply.refresh_from_db()
    assert reply.status == Message.Status.PENDING  # back to pending: the new job takes it over

    # Cut off again, as often as it may be: it fails with a reason.
    Message.objects.filter(pk=reply.pk).update(
        status=Message.Status.STREAMING, attempts=jobs.MAX_RECOVERIES, updated_at=stale
    )
    jobs.recover_replies()
    reply.refresh_from_db()
    assert reply.status == Message.Status.FAILED
    assert "cut off" in reply.failure_reason


def _started_by(reply: Message, worker_name: str) -> None:
    """The reply's job, as a worker that has started it leaves it in Redis."""
    connection = django_rq.get_connection("high")
    job = django_rq.get_queue("high").enqueue(jobs.write_reply, reply.pk, job_id=jobs.job_id(reply))
    django_rq.get_queue("high").remove(job)
    job.worker_name = worker_name
    job.set_status(JobStatus.STARTED)
    job.save()
    assert Job.fetch(job.id, connection=connection).get_status() == JobStatus.STARTED


def test_recovery_leaves_live_replies_alone(conversation, analysed_video):
    _, reply = services.message_send(conversation=conversation, text="hi", videos=[analysed_video])
    Message.objects.filter(pk=reply.pk).update(status=Message.Status.STREAMING, updated_at=timezone.now())
    _started_by(reply, "busy-worker")
    keep_alive(django_rq.get_connection("high"), "busy-worker")
    assert jobs.recover_replies() == 0
    assert jobs.write_reply(reply.pk) == "running elsewhere"


def test_a_reply_whose_worker_died_is_requeued_at_once(conversation, analysed_video):
    _, reply = services.message_send(conversation=conversation, text="hi", videos=[analysed_video])
    # Streaming a moment ago, so not stalled by the clock; but its worker was SIGKILLed.
    Message.objects.filter(pk=reply.pk).update(status=Message.Status.STREAMING, updated_at=timezone.now())
    _started_by(reply, "killed-worker")
    assert jobs.why_waiting(reply) == "the worker running it (killed-worker) is gone"
    assert jobs.recover_replies() == 1
    reply.refresh_from_db()
    assert reply.status == Message.Status.PENDING
    assert django_rq.get_queue("high").job_ids == [jobs.job_id(reply)]
    assert jobs.write_reply(reply.pk) == "complete"


def test_a_reply_answers_from_the_stored_on_screen_text_and_transcript(conversation, analysed_video):
    from analysis.models import OnscreenTextSpan, TranscriptSegment

    analysis = analysed_video.latest_analysis
    OnscreenTextSpan.objects.create(
        analysis=analysis, start=12.5, end=30.0, text="Revenue grew 17% in March", confidence=0.97,
        box=[0.1, 0.1, 0.9, 0.18], height=0.08,
    )
    TranscriptSegment.objects.create(analysis=analysis, start=31.0, end=34.0, text="Costs stayed flat this year.")

    _, shown = services.message_send(
        conversation=conversation, text="What does the slide say at 0:20?", videos=[analysed_video]
    )
    assert jobs.write_reply(shown.pk) == "complete"
    shown.refresh_from_db()
    assert "Revenue grew 17% in March" in shown.text

    _, said = services.message_send(
        conversation=conversation, text="When does anyone say 'costs'?", videos=[analysed_video]
    )
    assert jobs.write_reply(said.pk) == "complete"
    said.refresh_from_db()
    assert "00:31" in said.text
