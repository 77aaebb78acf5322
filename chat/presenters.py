"""Plain-data views of chat rows, as the templates and the cache use them."""

from __future__ import annotations

from dataclasses import replace

from django.db.models import Count, Q
from django.template.loader import render_to_string
from django.utils.html import linebreaks

from chat.markdown import render_markdown
from chat.models import Conversation, Message
from chat.streams import streamed_text, text_length
from core.paging import Page, paginate


def message_row(message: Message) -> dict:
    if message.role == Message.Role.ASSISTANT:
        html = render_markdown(message.text) if message.text else ""
    else:
        html = linebreaks(message.text, autoescape=True)
    # What a reply being written has produced so far: Redis has every chunk,
    # the database a copy saved every few seconds.
    partial = ""
    if message.status == Message.Status.STREAMING:
        partial = streamed_text(message)
        if partial is None:
            partial = message.text
    return {
        "uuid": str(message.uuid),
        "conversation": str(message.conversation.uuid),
        "role": message.role,
        "kind": message.kind,
        "status": message.status,
        "is_open": message.is_open,
        "failure_reason": message.failure_reason,
        "html": html,
        # The text as written (a reply being written: so far), for the API.
        "text": partial if message.status == Message.Status.STREAMING else message.text,
        "partial": partial,
        # The page keeps the newest of (version, length) it has seen of each message.
        "version": message.version,
        "length": text_length(partial),
        "provider": message.provider,
        "created_at": message.created_at,
        "videos": [{"uuid": str(v.uuid), "name": v.original_name} for v in message.videos.all()],
    }


def newest_rows(conversation: Conversation, *, before: Message | None = None, limit: int) -> dict:
    """The newest `limit` messages (before `before`, when given) as rows, newest first.

    `has_more`: whether older ones exist (the thread page and the API page back by them).
    """
    messages = conversation.messages.prefetch_related("videos").select_related("conversation")
    if before is not None:
        messages = messages.filter(
            Q(created_at__lt=before.created_at) | Q(created_at=before.created_at, pk__lt=before.pk)
        )
    page = list(messages.order_by("-created_at", "-id")[: limit + 1])
    return {"rows": [message_row(m) for m in page[:limit]], "has_more": len(page) > limit}


def thread_rows(conversation: Conversation, *, before: Message | None = None, limit: int) -> dict:
    """The newest `limit` messages (before `before`, when given), oldest first."""
    newest = newest_rows(conversation, before=before, limit=limit)
    has_more = newest["has_more"]
    rows = newest["rows"][::-1]
    # Finished messages are rendered once, here, and cached as HTML; the others
    # are rendered per request (a failed one carries a form with the request's
    # CSRF token, an open one is changing). Runs of finished ones are joined, so
    # a cached page prints a few strings rather than looping over every row.
    parts: list[dict | str] = []
    for row in rows:
        if row["status"] == Message.Status.COMPLETE:
            html = render_to_string("chat/_message.html", {"m": row})
            if parts and isinstance(parts[-1], str):
                parts[-1] += html
            else:
                parts.append(html)
        else:
            parts.append(row)
    return {"parts": parts, "first_uuid": rows[0]["uuid"] if rows else None, "has_more": has_more}


def fresh_open_rows(parts: list[dict | str]) -> list[dict | str]:
    """`parts` (from thread_rows, maybe cached) with each open reply read again.

    A reply being written changes with every chunk; the cached row is only
    where it was when the page was cached.
    """
    open_uuids = [part["uuid"] for part in parts if isinstance(part, dict) and part["is_open"]]
    if not open_uuids:
        return parts
    fresh = {
        str(m.uuid): message_row(m)
        for m in Message.objects.filter(uuid__in=open_uuids)
        .select_related("conversation")
        .prefetch_related("videos")
    }
    return [fresh.get(part["uuid"], part) if isinstance(part, dict) else part for part in parts]


def conversation_rows(owner, page_number: int, per_page: int) -> Page:
    """One page of the owner's conversations, newest activity first, as plain rows."""
    page = paginate(
        Conversation.objects.filter(owner=owner).order_by("-updated_at", "-id"), page_number, per_page
    )
    # Messages are counted for this page's conversations only: a count joined to the
    # list would count every message of every conversation before taking a page.
    counts = dict(
        Message.objects.filter(conversation__in=[c.pk for c in page.items])
        .values("conversation")
        .annotate(count=Count("id"))
        .values_list("conversation", "count")
    )
    rows = [
        {"uuid": str(c.uuid), "title": str(c), "updated_at": c.updated_at, "count": counts.get(c.pk, 0)}
        for c in page.items
    ]
    return replace(page, items=rows)
