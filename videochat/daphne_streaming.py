"""Make Daphne hand request bodies to the app in small pieces, never whole in memory.

Daphne 4.2 on Twisted holds an upload in memory twice before Django sees it
(measured by bench/bench_upload.py: a 64 MiB upload grew the server by
~840 MiB, a 1 GiB one would exhaust the machine):

1. Twisted's `Request.requestReceived` parses every multipart/form-data or
   url-encoded POST body into `request.args` with the `email` package, reading
   the whole body into memory and copying it several times over. Daphne never
   uses `request.args`; Twisted's `parsePOSTFormSubmission=False` turns it off.
2. Daphne's `WebRequest.process` then reads the whole body (which Twisted kept
   in a temporary file) into the application's queue at once, as 8 KiB
   messages. `StreamingWebRequest` feeds the queue from that file instead, a
   few chunks ahead of what the application has read.

(The third copy, Django's own SpooledTemporaryFile, is governed by
FILE_UPLOAD_MAX_MEMORY_SIZE in settings.) `install()` is called from
videochat/asgi.py, which every Daphne process loads before it serves.
"""

from __future__ import annotations

import asyncio
import io
import logging

from daphne import http_protocol

logger = logging.getLogger(__name__)

CHUNK_SIZE = 256 * 1024
# Chunks waiting in the application's queue before the feeder waits for it.
CHUNKS_AHEAD = 4


class StreamingWebRequest(http_protocol.WebRequest):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._parsePOSTFormSubmission = False

    def process(self):
        body = self.content
        if body is None or self.requestHeaders.hasHeader(b"Upgrade") or not _size(body):
            return super().process()
        # Daphne sends the (now empty) body as one final message; it is
        # replaced below by the real one, fed from the file as it is read.
        self.content = io.BytesIO()
        try:
            result = super().process()
        except BaseException:
            body.close()
            raise
        queue = self.application_queue
        if queue is None or queue.qsize() != 1:
            # An error answer, or an abandoned request: no application reads a body.
            body.close()
            return result
        queue.get_nowait()
        # Kept on the request: the event loop holds only a weak reference to tasks.
        self._body_feeder = asyncio.ensure_future(self._feed_body(queue, body))
        return result

    async def _feed_body(self, queue: asyncio.Queue, body) -> None:
        try:
            remaining = _size(body)
            while remaining > 0:
                while queue.qsize() >= CHUNKS_AHEAD:
                    if self._disconnected or self.finished:
                        return
                    await asyncio.sleep(0.001)
                if self._disconnected or self.finished:
                    return
                chunk = body.read(min(CHUNK_SIZE, remaining))
                if not chunk:
                    logger.warning("request body ended %d bytes early", remaining)
                remaining = remaining - len(chunk) if chunk else 0
                queue.put_nowait({"type": "http.request", "body": chunk, "more_body": remaining > 0})
                await asyncio.sleep(0)
        finally:
            body.close()


def _size(body) -> int:
    """Bytes left to read in the body file (Daphne has rewound it to the start)."""
    position = body.tell()
    end = body.seek(0, io.SEEK_END)
    body.seek(position)
    return end - position


def install() -> None:
    """Serve HTTP with StreamingWebRequest (HTTPFactory looks the class up per connection)."""
    http_protocol.WebRequest = StreamingWebRequest
