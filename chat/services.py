"""Writes shared by the chat views and the reply jobs."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from analysis.models import Video
from chat import cache, jobs, live
from chat.models import Conversation, Message

TITLE_LENGTH = 80


def _title_from(text: str, videos: list[Video]) -> str:
    first_line = " ".join(text.split())
    if not first_line and videos:
        first_line = f"About {videos[0].original_name}"
    if len(first_line) > TITLE_LENGTH:
        first_line = first_line[: TITLE_LENGTH - 1].rsplit(" ", 1)[0] + "…"
    return first_line or "New conversation"


def conversation_create(*, owner) -> Conversation:
    conversation = Conversation.objects.create(owner=owner)
    cache.bump(owner.pk)
    live.push_conversations_changed(owner.pk)
    return conversation


def conversation_rename(*, conversation: Conversation, title: str) -> None:
    conversation.title = title.strip()[:120]
    conversation.save(update_fields=["title"])
    cache.bump(conversation.owner_id)
    live.push_conversations_changed(conversation.owner_id)


def conversation_delete(*, conversation: Conversation) -> None:
    owner_id = conversation.owner_id
    conversation.delete()
    cache.bump(owner_id)
    live.push_conversations_changed(owner_id)


def message_send(*, conversation: Conversation, text: str, videos: list[Video]) -> tuple[Message, Message]:
    """Save the user's message and a pending reply, then queue the reply.

    The user's message is committed before any reply work can start, so it is
    never lost, whatever happens to the reply.
    """
    with transaction.atomic():
        question = Message.objects.create(
            conversation=conversation, role=Message.Role.USER, text=text, status=Message.Status.COMPLETE
        )
        question.videos.set(videos)
        reply = Message.objects.create(
            conversation=conversation,
            role=Message.Role.ASSISTANT,
            status=Message.Status.PENDING,
            reply_to=question,
        )
        conversation.updated_at = timezone.now()
        fields = ["updated_at"]
        if not conversation.title:
            conversation.title = _title_from(text, videos)
            fields.append("title")
        conversation.save(update_fields=fields)
        jobs.enqueue_reply(reply)
    cache.bump(conversation.owner_id)
    # Every other open page of this thread (another tab, another device) shows them too.
    live.push_new_messages(conversation, [question, reply])
    return question, reply


def message_retry(*, message: Message) -> None:
    """Queue a failed (or stuck) reply again."""
    with transaction.atomic():
        message.attempts = 0
        message.save(update_fields=["attempts"])
        message.mark_pending()
        jobs.enqueue_reply(message)
    cache.bump(message.conversation.owner_id)
    live.push_message(message)
