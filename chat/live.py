"""Live pushes of chat messages to their owner's open pages.

Every message element carries its version and the length of its streamed
text; static/js/live.js keeps the newest it has seen (README, "Live updates").
"""

from __future__ import annotations

import logging
from html import escape

from django.template.loader import render_to_string

from chat import streams
from chat.models import Conversation, Message
from chat.presenters import message_row
from core.consumers import push_event, push_html

logger = logging.getLogger(__name__)

# The event a page's conversation lists listen for (chat list, home page).
CONVERSATIONS_CHANGED = "conversations-changed"


def _push(user_id: int, html: str) -> None:
    try:
        push_html(user_id, html)
    except Exception:  # a push is a hint: the page re-reads on reconnect
        logger.warning("could not push to user %s", user_id, exc_info=True)


def render_message(message: Message) -> str:
    return render_to_string("chat/_message.html", {"m": message_row(message)})


def render_appended(conversation: Conversation, rows: list[dict | str], request=None) -> str:
    """Messages for the end of a thread: each is added if the page lacks it, else
    replaced if newer. The send answer, follow-ups and re-reads all use this."""
    return render_to_string(
        "chat/_append.html", {"conversation": conversation, "parts": rows}, request=request
    )


def push_message(message: Message) -> None:
    """Replace the message on the page (its status changed, or it is complete)."""
    _push(message.conversation.owner_id, render_message(message))


def push_new_messages(conversation: Conversation, messages: list[Message]) -> None:
    """New messages at the end of the thread, for every open page of it (other tabs too)."""
    html = render_appended(conversation, [message_row(m) for m in messages])
    _push(conversation.owner_id, html)
    push_conversations_changed(conversation.owner_id)


def push_conversations_changed(owner_id: int) -> None:
    push_event(owner_id, CONVERSATIONS_CHANGED)


def start_stream(message: Message) -> None:
    streams.stream_start(message)


def push_chunk(message: Message, chunk: str, offset: int) -> None:
    """Append one streamed chunk at `offset` (UTF-16 units) to the reply being written.

    The chunk is kept in Redis first, so a page that missed it finds it by
    asking for the message.
    """
    try:
        streams.stream_append(message, chunk)
    except Exception:
        logger.warning("could not keep a chunk of reply %s", message.uuid, exc_info=True)
    html = f'<div id="message-{message.uuid}-stream" data-swap="chunk" data-offset="{offset}">{escape(chunk)}</div>'
    _push(message.conversation.owner_id, html)


def end_stream(message: Message) -> None:
    try:
        streams.stream_end(message)
    except Exception:  # it expires on its own
        logger.warning("could not drop the stream of reply %s", message.uuid, exc_info=True)
