"""The text of a reply while it is being written, kept in Redis chunk by chunk.

The worker appends every chunk here before it pushes it, so a page that asks
for the message (after a reconnect, or when it sees a gap in the chunks it
received) gets exactly the text streamed so far, not the copy the database
holds every few seconds. Offsets and lengths are counted in UTF-16 code units,
as the browser counts a string's length.
"""

from __future__ import annotations

from django_redis import get_redis_connection

# Long enough for any reply (the job times out at 300 s); gone on its own after.
TTL_SECONDS = 15 * 60


def text_length(text: str) -> int:
    """The length of `text` as JavaScript counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def _key(message_uuid) -> str:
    return f"vc:stream:{message_uuid.hex}"


def stream_start(message) -> None:
    """A fresh stream for the message: a retried reply starts from nothing."""
    get_redis_connection("default").delete(_key(message.uuid))


def stream_append(message, chunk: str) -> None:
    pipe = get_redis_connection("default").pipeline(transaction=False)
    pipe.append(_key(message.uuid), chunk.encode())
    pipe.expire(_key(message.uuid), TTL_SECONDS)
    pipe.execute()


def streamed_text(message) -> str | None:
    """What the reply has streamed so far, or None when Redis has no record of it."""
    try:
        raw = get_redis_connection("default").get(_key(message.uuid))
    except Exception:  # Redis away: the database's copy stands in
        return None
    return raw.decode("utf-8", errors="replace") if raw is not None else None


def stream_end(message) -> None:
    get_redis_connection("default").delete(_key(message.uuid))
