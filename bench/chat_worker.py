"""Worker variants for bench_chat, to measure fixes side by side. The app uses none of them.

- ``WarmForkWorker``: the project's forking Worker, warmed up before it forks.
  RQ's Worker forks a fresh work horse per job, so whatever the parent has not
  loaded yet every horse loads for itself, job after job: the template engine
  (which imports every templatetag library), the compiled chat templates, the
  channel layer (channels_redis, redis.asyncio) and the Django cache client.
  Here the parent loads them once and each horse inherits them.
- ``SimpleLoopWorker``: RQ's non-forking ``SimpleWorker``, whose pushes run on
  one long-lived event loop. ``videochat.events.push_html`` goes through
  ``async_to_sync``, which, called from a thread with no event loop, starts a
  new thread and a new event loop and opens a new Redis connection for every
  single push (every streamed chunk).

    manage.py rqworker high --worker-class bench.chat_worker.WarmForkWorker
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.template.loader import get_template, render_to_string
from django.utils import timezone
from rq.worker import SimpleWorker

from chat.markdown import render_markdown
from videochat.events import _PushLoop, user_group
from videochat.worker import Worker

WARM_TEMPLATES = ("chat/_message.html",)


def warm_up() -> None:
    """Load in this process what every reply job needs, so forks inherit it."""
    for name in WARM_TEMPLATES:
        get_template(name)
    # Rendering a row fills the URL resolver's reverse map and the date-format caches too.
    row = {
        "uuid": "00000000-0000-0000-0000-000000000000",
        "conversation": "00000000-0000-0000-0000-000000000000",
        "role": "assistant",
        "kind": "reply",
        "status": "complete",
        "html": render_markdown("Warm **up** at 01:23."),
        "created_at": timezone.now(),
        "videos": [{"uuid": "00000000-0000-0000-0000-000000000000", "name": "warm-up.mp4"}],
    }
    render_to_string("chat/_message.html", {"m": row})
    # One real send imports channels_redis's and redis.asyncio's lazy parts; nobody is in the group.
    async_to_sync(get_channel_layer().group_send)("bench.warm-up", {"type": "html.push", "html": ""})
    cache.get("bench:warm-up")


_push_loop = _PushLoop()


def push_html_on_one_loop(user_id: int, html: str) -> None:
    """videochat.events.push_html, on the process's one push loop (its Redis connection stays open)."""
    _push_loop.run(get_channel_layer().group_send(user_group(user_id), {"type": "html.push", "html": html}))


class WarmForkWorker(Worker):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        warm_up()


class SimpleLoopWorker(SimpleWorker):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        import chat.live

        chat.live.push_html = push_html_on_one_loop
