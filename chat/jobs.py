"""Assistant replies as queue jobs (queue `high`), streamed to the owner's pages.

Each chunk is pushed through the channel layer as it is produced; the whole
reply is saved when complete. Enqueueing, retries and recovery are the job
runner's (core.jobs): a reply whose worker died is queued again once, then
marked failed, so nothing stays "streaming" forever.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rq import Retry

from analysis import gemini, selectors
from analysis.models import Video
from chat import cache, live
from chat.assistant import get_provider
from chat.assistant.base import ProviderError, Turn, VideoFacts
from chat.models import Conversation, Message
from chat.streams import text_length
from core.jobs import JobKind

logger = logging.getLogger(__name__)

HISTORY_LIMIT = 40
TOUCH_SECONDS = 2.0
MAX_RECOVERIES = 2


class AssistantReply(JobKind):
    name = "reply"
    model = Message
    waiting, running = Message.Status.PENDING, Message.Status.STREAMING
    job = "chat.jobs.write_reply"
    job_prefix = "reply"
    description = "assistant reply"
    queue = "high"
    retry = Retry(max=2, interval=[2, 10])
    job_timeout = 300
    result_ttl = 3600
    stale_note = "no chunk written"
    max_attempts = MAX_RECOVERIES
    gave_up = "The reply was cut off before it finished. Press Retry to ask again."
    unexpected = "The assistant stopped on an unexpected error. Press Retry to ask again."
    owner_path = "conversation__owner"
    title = "open replies"
    counted = ("reply", "replies")

    @property
    def stale_seconds(self) -> int:
        return settings.CHAT_STALE_SECONDS

    def publish(self, message: Message) -> None:
        # A Redis that is away must not fail (or kill) the job that saved the row.
        cache.bump_after_save(message.conversation.owner_id)
        live.push_message(message)
        if not message.is_open:
            live.end_stream(message)

    def requeue(self, message: Message, reason: str) -> bool:
        message.mark_pending()
        return True

    def retry_later(self, message: Message) -> None:
        message.mark_pending()

    def doing(self, message: Message) -> str:
        return "writing"


REPLY = AssistantReply()
job_id = REPLY.job_id
why_waiting = REPLY.why_waiting


def enqueue_reply(message: Message) -> None:
    """Queue the reply once the current transaction commits."""
    REPLY.enqueue_on_commit(message)


def recover_replies() -> int:
    """Queue again open replies whose job will not run; fail those cut off too often."""
    return len(REPLY.recover())


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
        transcript=selectors.transcript_segments(video, analysis) if analysis else [],
        onscreen=selectors.onscreen_spans(video, analysis) if analysis else [],
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
    if (skipped := REPLY.why_skip(message)) is not None:
        return skipped
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
            if REPLY.superseded(message):
                return "superseded by a later run"
            message.mark_complete("".join(parts))
            if message.kind == Message.Kind.REPLY:
                message.waiting_for.set([v for v in videos if not v.is_finished])
    except ProviderError as exc:
        REPLY.fail(message, str(exc))
        return "failed"
    except Exception:
        REPLY.retry_or_fail(message)
        raise
    REPLY.publish(message)
    return "complete"


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
