"""Live pushes of chat messages to their owner's open pages."""

from __future__ import annotations

import logging
from html import escape

from django.template.loader import render_to_string

from chat.models import Message
from chat.presenters import message_row
from videochat.events import push_html

logger = logging.getLogger(__name__)


def _push(user_id: int, html: str) -> None:
    try:
        push_html(user_id, html)
    except Exception:  # a push is a hint: the page re-reads on reconnect
        logger.warning("could not push to user %s", user_id, exc_info=True)


def render_message(message: Message) -> str:
    return render_to_string("chat/_message.html", {"m": message_row(message)})


def push_message(message: Message) -> None:
    """Replace the message on the page (its status changed, or it is complete)."""
    _push(message.conversation.owner_id, render_message(message))


def push_new_message(message: Message) -> None:
    """Append a message the user did not send (a follow-up) to the open thread."""
    html = (
        f'<div id="conversation-{message.conversation.uuid}-messages" data-swap="beforeend">'
        f"{render_message(message)}</div>"
    )
    _push(message.conversation.owner_id, html)


def push_chunk(message: Message, chunk: str) -> None:
    """Append one streamed chunk, as plain text, to the reply being written."""
    html = f'<div id="message-{message.uuid}-stream" data-swap="beforeend">{escape(chunk)}</div>'
    _push(message.conversation.owner_id, html)
