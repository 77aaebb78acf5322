"""Reads of a user's conversations, each written once (the pages and the home page call these)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404

from chat import cache
from chat.models import Conversation
from chat.presenters import conversation_rows
from core.paging import Page

CONVERSATIONS_PER_PAGE = 30


def conversation_for_user(user, conversation_uuid) -> Conversation:
    """The user's own conversation, or 404 (for strangers it does not exist)."""
    return get_object_or_404(Conversation, uuid=conversation_uuid, owner=user)


def conversations_page(user, number: int) -> Page:
    """Page `number` of the user's conversations, cache-first (the list and the home page read it)."""
    return cache.cached(
        user.pk, f"conversations:{number}", lambda: conversation_rows(user, number, CONVERSATIONS_PER_PAGE)
    )
