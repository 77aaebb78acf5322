"""Reads of a user's conversations, each written once (the pages and the home page call these)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404

from analysis import cache as video_cache
from chat import cache
from chat.models import Conversation, Message
from chat.presenters import conversation_rows, fresh_open_rows, newest_rows
from core.paging import Page
from core.usercache import versions

CONVERSATIONS_PER_PAGE = 30


def conversation_for_user(user, conversation_uuid) -> Conversation:
    """The user's own conversation, or 404 (for strangers it does not exist)."""
    return get_object_or_404(Conversation, uuid=conversation_uuid, owner=user)


def conversations_page(user, number: int) -> Page:
    """Page `number` of the user's conversations, cache-first (the list and the home page read it)."""
    return cache.cached(
        user.pk, f"conversations:{number}", lambda: conversation_rows(user, number, CONVERSATIONS_PER_PAGE)
    )


class UnknownCursor(LookupError):
    """The message to page back from is not in this conversation."""


def messages_page(user, conversation_uuid, *, before_uuid=None, limit: int) -> dict:
    """The newest `limit` messages (before the message `before_uuid`) as rows, newest first; cache-first.

    As for the thread page, the owner check runs when the page is built: a
    hit under this user's namespace needs no database, a stranger always
    misses and gets a 404. The videos' version is part of the name, as the
    rows name the attached videos. Replies being written are read again.
    """

    def build() -> dict:
        conversation = conversation_for_user(user, conversation_uuid)
        before = None
        if before_uuid is not None:
            before = Message.objects.filter(conversation=conversation, uuid=before_uuid).first()
            if before is None:
                raise UnknownCursor(before_uuid)
        return newest_rows(conversation, before=before, limit=limit)

    chat_version, videos_version = versions(user.pk, cache.namespace, video_cache.namespace)
    name = f"messages:{conversation_uuid}:{before_uuid or 'newest'}:{limit}:videos-{videos_version}"
    page = cache.cached(user.pk, name, build, version=chat_version)
    return {**page, "rows": fresh_open_rows(page["rows"])}
