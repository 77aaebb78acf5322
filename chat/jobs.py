"""Assistant replies as queue jobs (queue `high`), streamed to the owner's pages.

Each chunk is pushed through the channel layer as it is produced; the whole
reply is saved when complete. A reply whose worker died is queued again once,
then marked failed, so nothing stays "streaming" forever.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import django_rq
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rq import Retry, get_current_job

from analysis import gemini
from analysis.models import Video
from chat import cache, live
from chat.assistant import get_provider
from chat.assistant.base import ProviderError, Turn, VideoFacts
from chat.models import Conversation, Message
from chat.streams import text_length
from core.queue import enqueue_once, fetch, why_not_alive

logger = logging.getLogger(__name__)

QUEUE = "high"
RETRY = Retry(max=2, interval=[2, 10])
HISTORY_LIMIT = 40
TOUCH_SECONDS = 2.0
UNEXPECTED = "The assistant stopped on an unexpected error. Press Retry to ask again."
CUT_OFF = "The reply was cut off before it finished. Press Retry to ask again."
MAX_RECOVERIES = 2


def job_id(message: Message) -> str:
    return f"reply-{message.uuid.hex}"


def enqueue_reply(message: Message) -> None:
    """Queue the reply once the current transaction commits."""
    transaction.on_commit(lambda: _enqueue(message), robust=True)


def _enqueue(message: Message, *, force: bool = False) -> bool:
    return enqueue_once(
        QUEUE,
        write_reply,
        message.pk,
        job_id=job_id(message),
        force=force,
        retry=RETRY,
        job_timeout=300,
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
        description=f"assistant reply {message.uuid}",
    )


def why_waiting(message: Message) -> str | None:
    """Why an open reply's job will not run as things stand (None: it will, or does)."""
    connection = django_rq.get_connection(QUEUE)
    job = fetch(job_id(message), connection)
    reason = why_not_alive(job, connection)
    stale_after = timedelta(seconds=settings.CHAT_STALE_SECONDS)
    writing = message.status == Message.Status.STREAMING and not message.is_stalled(stale_after)
    if reason is not None and writing and job is None:
        return None  # chunks are being written now; a Redis restarted empty remembers no job
    if reason is None and message.is_stalled(stale_after):
        reason = f"no chunk written for over {int(stale_after.total_seconds())} s"
    return reason


def video_facts(video: Video) -> VideoFacts:
    analysis = video.latest_analysis if video.status == Video.Status.DONE else None
    return VideoFacts(
        uuid=str(video.uuid),
        name=video.original_name,
        status=video.status,
        stage=video.stage,
        progress=video.progress,
        failure_reason=video.failure_reason,
        metadata=analysis.metadata if analysis else {},
        scenes=analysis.scenes if analysis else [],
        timelines=analysis.timelines if analysis else {},
        silences=analysis.silences if analysis else [],
        transcript=list(analysis.segments.values("start", "end", "text")) if analysis else [],
        extra={**analysis.extra, **gemini.chat_extra(video, analysis)} if analysis else {},
    )


def _history(message: Message) -> list[Turn]:
    earlier = (
        message.conversation.messages.filter(
            status=Message.Status.COMPLETE, created_at__lte=message.created_at
        )
        .exclude(pk=message.pk)
        .order_by("-created_at", "-id")[:HISTORY_LIMIT]
    )
    return [Turn(role=m.role, text=m.text) for m in reversed(earlier)]


def write_reply(message_id: int) -> str:
    """The queue job: produce one assistant message, streaming it as it goes."""
    message = Message.objects.select_related("conversation").filter(pk=message_id).first()
    if message is None:
        return "message deleted"
    if message.status == Message.Status.COMPLETE:
        return "already complete"
    stale_after = timedelta(seconds=settings.CHAT_STALE_SECONDS)
    if message.status == Message.Status.STREAMING and not message.is_stalled(stale_after):
        return "running elsewhere"
    owner_id = message.conversation.owner_id
    videos = list(message.conversation.attached_videos())
    try:
        provider = get_provider()
        message.mark_streaming(provider=provider.name, model=provider.model)
        live.start_stream(message)
        live.push_message(message)
        if message.kind == Message.Kind.SUMMARY:
            subject = message.videos.first()
            chunks = provider.stream_analysis_summary(video=video_facts(subject))
        else:
            chunks = provider.stream_reply(history=_history(message), videos=[video_facts(v) for v in videos])
        parts: list[str] = []
        offset = 0  # where the next chunk goes in the text, as the page counts it
        touched = time.monotonic()
        for chunk in chunks:
            parts.append(chunk)
            live.push_chunk(message, chunk, offset)
            offset += text_length(chunk)
            if time.monotonic() - touched > TOUCH_SECONDS:
                # A sign of life, and the text so far, for a page that reloads mid-stream.
                Message.objects.filter(pk=message.pk).update(text="".join(parts), updated_at=timezone.now())
                touched = time.monotonic()
        with transaction.atomic():
            # Only the newest run may write the reply: if recovery gave it to another
            # run meanwhile (it took this one for dead), that one's stands.
            current = Message.objects.select_for_update().filter(pk=message.pk).values("attempts").first()
            if current is None or current["attempts"] != message.attempts:
                return "superseded by a later run"
            message.mark_complete("".join(parts))
            if message.kind == Message.Kind.REPLY:
                message.waiting_for.set([v for v in videos if not v.is_finished])
    except ProviderError as exc:
        message.mark_failed(str(exc))
        return _finish(message, owner_id, "failed")
    except Exception:
        job = get_current_job()
        if job is not None and (job.retries_left or 0) > 0:
            message.mark_pending()
        else:
            message.mark_failed(UNEXPECTED)
        _finish(message, owner_id, "error")
        raise
    return _finish(message, owner_id, "complete")


def _finish(message: Message, owner_id: int, outcome: str) -> str:
    """Tell the pages. Best effort: the row is saved, and a Redis that is away must
    not fail (or kill) the job that saved it."""
    cache.bump_after_save(owner_id)
    live.push_message(message)
    if not message.is_open:
        live.end_stream(message)
    return outcome


def on_analysis_finished(sender, video: Video, analysis=None, **kwargs) -> None:
    """A video finished (or failed): post a summary in each conversation that was waiting for it."""
    waiting = Conversation.objects.filter(messages__waiting_for=video).distinct()
    for conversation in waiting:
        with transaction.atomic():
            Message.waiting_for.through.objects.filter(
                video=video, message__conversation=conversation
            ).delete()
            summary = Message.objects.create(
                conversation=conversation,
                role=Message.Role.ASSISTANT,
                kind=Message.Kind.SUMMARY,
                status=Message.Status.PENDING,
            )
            summary.videos.add(video)
            conversation.updated_at = timezone.now()
            conversation.save(update_fields=["updated_at"])
            enqueue_reply(summary)
        cache.bump(conversation.owner_id)
        live.push_new_messages(conversation, [summary])


def recover_replies() -> int:
    """Queue again open replies whose job will not run; fail those cut off too often."""
    count = 0
    for message in Message.objects.filter(status__in=[Message.Status.PENDING, Message.Status.STREAMING]):
        reason = why_waiting(message)
        if reason is None:
            continue
        if not Message.objects.filter(
            pk=message.pk, status=message.status, attempts=message.attempts
        ).exists():
            continue  # it completed, or a new run took it, since we read it
        if message.attempts >= MAX_RECOVERIES:
            message.mark_failed(CUT_OFF)
            _finish(message, message.conversation.owner_id, "failed")
        else:
            if message.status == Message.Status.STREAMING:
                # Back to pending first: the new run must not take the dead one for a live one.
                message.mark_pending()
                _finish(message, message.conversation.owner_id, "pending")
            _enqueue(message, force=True)
            logger.warning("re-queued reply %s: %s", message.uuid, reason)
        count += 1
    return count


def on_worker_maintenance(sender, **kwargs) -> int:
    return recover_replies()
