"""Live events: one websocket per browser tab, one channel-layer group per user.

Anything that changes what a user sees (a video's progress, a chat reply)
pushes an HTML fragment to that user's group; static/js/live.js applies it by
element id, keeping only the newest version of each element. A push is only a
hint: pages re-read their state whenever the socket (re)connects. The rule
every live element follows is in the README ("Live updates").
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading

from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.utils.html import escape

# Close code for a socket opened without a logged-in user (4000-4999 are ours).
CLOSE_UNAUTHENTICATED = 4401
# The page's keep-alive: it sends PING when the line has been quiet a while and
# expects PONG back; no answer in time means the connection is dead (reconnect).
PING, PONG = "ping", "pong"

logger = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    """The channel-layer group of one user; built from the id alone."""
    return f"user.{int(user_id)}"


class _PushLoop:
    """One event loop per process, on a daemon thread, that sync pushes run on.

    async_to_sync would start a thread, a loop and a Redis connection for every
    push (2-7 ms each, and a reply makes a dozen); this keeps one of each.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid: int | None = None

    def run(self, coroutine, timeout: float = 10):
        with self._lock:
            if self._pid != os.getpid():  # first use, or a forked child: threads do not survive fork
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, name="push-loop", daemon=True).start()
                self._pid = os.getpid()
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)


_push_loop = _PushLoop()


def push_html(user_id: int, html: str) -> None:
    """Send an HTML fragment to every open page of one user (sync callers)."""
    _push_loop.run(apush_html(user_id, html))


async def apush_html(user_id: int, html: str) -> None:
    """Send an HTML fragment to every open page of one user (async callers)."""
    await get_channel_layer().group_send(user_group(user_id), {"type": "html.push", "html": html})


def event_html(name: str) -> str:
    """A push that names an event instead of an element: the page's regions that
    listen for it (`hx-trigger="<name> from:body"`) re-read themselves."""
    return f'<div data-event="{escape(name)}"></div>'


def push_event(user_id: int, name: str) -> None:
    """Tell every open page of one user that `name` happened (a list changed, say).

    Best effort, like every push: a page that misses it re-reads on reconnect.
    """
    try:
        push_html(user_id, event_html(name))
    except Exception:
        logger.warning("could not push %s to user %s", name, user_id, exc_info=True)


class EventsConsumer(AsyncWebsocketConsumer):
    """Forwards the pushes of the logged-in user's group to the browser."""

    group: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Accept then close so the browser sees our close code, not a bare 403.
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # The browser only checks that the line is alive; state changes go through forms.
        if text_data == PING:
            await self.send(text_data=PONG)

    async def html_push(self, event: dict) -> None:
        await self.send(text_data=event["html"])
