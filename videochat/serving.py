"""How Daphne takes a request in: bounded before its body is read, streamed, timed out.

Daphne 4.2 on Twisted reads every request body whole into a temporary file
before the application sees a byte of it, with no cap and no deadline, and
then hands it over whole. `install()` (called from videochat/asgi.py, which
every Daphne process loads before it serves) replaces its request and
channel classes with these:

- **Bounded.** When a request's headers are in, its endpoint's limit
  (core/bodies.py) is looked up. A declared `Content-Length` over it, or
  a chunked body that grows past it, is refused with 413. An upload from an
  anonymous user, or one whose CSRF check already fails on its headers, is
  refused before its body is read: the transport is paused while that is
  checked. A refused request reaches Django with an empty body, so its
  answer is the site's own (BodyRefusalMiddleware, or the view's redirect to
  log in), and the rest of its body is read and thrown away.
- **Timed out.** A body that stalls for `REQUEST_BODY_TIMEOUT` seconds is
  dropped (its temporary file with it) and answered 408.
- **Streamed.** Twisted would parse every form body into `request.args`,
  copying it several times in memory (`parsePOSTFormSubmission=False` turns
  it off), and Daphne would queue the whole body for the application at once;
  it is fed from the file instead, a few chunks ahead of what the app reads.
  (bench/bench_upload.py measured a 64 MiB upload growing the server by
  ~840 MiB before this.)
- **Headers too large** (over Twisted's 16 KB) get a 431 instead of a bare
  400 or a silently dropped connection.
- **Lingering close.** A connection closed while the client may still be
  sending (an early refusal) is half-closed and drained for a few seconds,
  so the client reads the answer instead of a reset.
"""

from __future__ import annotations

import asyncio
import io
import logging
import sys
from urllib.parse import unquote

from daphne import http_protocol
from twisted.web import http

from core import bodies

logger = logging.getLogger(__name__)

CHUNK_SIZE = 256 * 1024
# Chunks waiting in the application's queue before the feeder waits for it.
CHUNKS_AHEAD = 4
# How long a closing connection keeps reading (and dropping) what the client still sends.
LINGER_SECONDS = 5

_REFUSAL = bodies.REFUSAL_HEADER.lower().encode()


def _settings():
    from django.conf import settings

    return settings


class Request(http_protocol.WebRequest):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._parsePOSTFormSubmission = False
        self._max_bytes: int | None = None  # read once, when the headers are in
        self._timeout = 0
        self._received = 0
        self._stall = None  # the timer that drops a body that stopped arriving
        self._gate: asyncio.Future | None = None  # the members-only check under way
        self._expects_continue = False
        self._refused = False  # the body is being thrown away
        self._whole: tuple | None = None  # requestReceived's arguments, once it came
        self._started = False

    # --- the headers are in; nothing of the body yet ---------------------------

    def gotLength(self, length: int | None) -> None:
        self.requestHeaders.removeHeader(_REFUSAL)
        super().gotLength(length)
        if length == 0:
            return
        limit = bodies.body_limit(self.channel._path)
        self._max_bytes, self._timeout = limit.max_bytes(), _settings().REQUEST_BODY_TIMEOUT
        if length is not None and length > self._max_bytes:
            self._refuse(bodies.TOO_LARGE)
            return
        self._stall = self.channel.callLater(self._timeout, self._stalled)
        if limit.members_only:
            self._check_members_only()

    def _check_members_only(self) -> None:
        """Read nothing more of the body until the user and CSRF are known to pass."""
        # Twisted would say "100 Continue" as soon as this returns: only once allowed.
        self._expects_continue = self.requestHeaders.getRawHeaders(b"expect", [b""])[0].lower() == (
            b"100-continue"
        )
        self.requestHeaders.removeHeader(b"expect")
        self.channel.transport.pauseProducing()
        self._stall.cancel()
        loop = asyncio.get_event_loop()
        self._gate = loop.run_in_executor(None, bodies.may_send_body, self._gate_scope())
        self._gate.add_done_callback(self._checked)

    def _gate_scope(self) -> dict:
        path, _, query = self.channel._path.partition(b"?")
        host = self.channel.transport.getHost()
        return {
            "type": "http",
            "method": self.channel._command.decode("latin-1"),
            "path": unquote(path.decode("latin-1")),
            "query_string": query,
            "root_path": "",
            "scheme": "https" if self.isSecure() else "http",
            "headers": [
                (name.lower(), value)
                for name, values in self.requestHeaders.getAllRawHeaders()
                for value in values
            ],
            "server": (getattr(host, "host", ""), getattr(host, "port", 0)),
        }

    def _checked(self, gate: asyncio.Future) -> None:
        self._gate = None
        if self.channel is None:
            return  # the client went away meanwhile
        try:
            allowed = gate.result()
        except Exception:
            # Redis or the database is down, say: the app answers from the headers alone.
            logger.warning("could not check an upload before its body", exc_info=True)
            allowed = False
        if not allowed:
            # The view answers it without its body: a redirect to log in, or the CSRF page.
            self._refuse(None)
            self.channel.transport.resumeProducing()
            return
        if self._whole is not None:
            super().requestReceived(*self._whole)
            return
        if self._expects_continue and self.channel._version == b"HTTP/1.1":
            self.channel._send100Continue()
        self._stall = self.channel.callLater(self._timeout, self._stalled)
        self.channel.transport.resumeProducing()

    # --- the body, as it arrives -----------------------------------------------

    def handleContentChunk(self, data: bytes) -> None:
        if self._refused:
            return
        self._received += len(data)
        if self._max_bytes is not None and self._received > self._max_bytes:
            self._refuse(bodies.TOO_LARGE)  # a chunked body that grew past its limit
            return
        if self._stall is not None and self._stall.active():
            self._stall.reset(self._timeout)
        super().handleContentChunk(data)

    def _stalled(self) -> None:
        logger.info("request body stalled after %d bytes; dropped", self._received)
        self._refuse(bodies.TIMED_OUT)

    def _refuse(self, reason: str | None) -> None:
        """Hand the request to the app now, without its body; drop whatever more of it comes."""
        self._refused = True
        if self._stall is not None and self._stall.active():
            self._stall.cancel()
        self.content.close()
        self.content = io.BytesIO()
        headers = self.requestHeaders
        for name in (b"expect", b"transfer-encoding"):
            headers.removeHeader(name)
        headers.setRawHeaders(b"content-length", [b"0"])
        if reason:
            headers.setRawHeaders(_REFUSAL, [reason.encode()])
        self.channel.persistent = False
        self.responseHeaders.setRawHeaders(b"connection", [b"close"])
        if self._whole is not None:
            super().requestReceived(*self._whole)
        elif self._gate is None:
            # Not from inside the channel's parsing of what just arrived: once it returns.
            self.channel.callLater(0, self._end_body_early)

    def _end_body_early(self) -> None:
        if self._whole is not None or self._started or self.channel is None:
            return  # the body ended meanwhile and was handed over
        # The channel then treats what the client still sends as the next request's
        # bytes: it buffers a little, then stops reading until the answer is sent.
        self.channel.allContentReceived()

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        if self._stall is not None and self._stall.active():
            self._stall.cancel()
        if self._gate is not None:
            self._whole = (command, path, version)  # handed over once the check is done
            return
        super().requestReceived(command, path, version)

    # --- to the application ----------------------------------------------------

    def process(self):
        self._started = True
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

    def connectionLost(self, reason) -> None:
        if self._stall is not None and self._stall.active():
            self._stall.cancel()
        super().connectionLost(reason)


class Channel(http.HTTPChannel):
    _lingering = None

    def lineReceived(self, line: bytes) -> None:
        if self._receivedHeaderSize + len(line) > self.totalHeadersSize:
            self._headers_too_large()
            return
        super().lineReceived(line)

    def lineLengthExceeded(self, line: bytes) -> None:
        # One header line longer than the whole allowance: LineReceiver would just hang up.
        self._headers_too_large()

    def _headers_too_large(self) -> None:
        limit = self.totalHeadersSize // 1024
        body = f"The request's headers are larger than the server accepts ({limit} KB).\n".encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n"
            b"Connection: close\r\n\r\n" + body
        )
        self.loseConnection()

    def loseConnection(self):
        """Close once the client has read the answer: stop writing, drain what it still sends."""
        if self._lingering is not None:
            return None
        self._networkProducer.unregisterProducer()
        half_close = getattr(self.transport, "loseWriteConnection", None)
        if half_close is None:
            return self.transport.loseConnection()
        self.dataReceived = self.lineReceived = self.rawDataReceived = _drop
        self._lingering = self.callLater(LINGER_SECONDS, self.transport.loseConnection)
        self.transport.resumeProducing()
        return half_close()

    def connectionLost(self, reason) -> None:
        if self._lingering is not None and self._lingering.active():
            self._lingering.cancel()
        super().connectionLost(reason)


def _drop(data: bytes) -> None:
    return None


class HTTPFactory(http_protocol.HTTPFactory):
    def protocol(self):
        return http._GenericHTTPChannelProtocol(Channel())


def _size(body) -> int:
    """Bytes left to read in the body file (Daphne has rewound it to the start)."""
    position = body.tell()
    end = body.seek(0, io.SEEK_END)
    body.seek(position)
    return end - position


def install() -> None:
    """Serve HTTP with these classes (Daphne looks both up when it starts serving)."""
    http_protocol.WebRequest = Request
    # daphne.server took its own reference; it is loaded (and its reactor installed)
    # before the application only when Daphne serves, and is not imported otherwise.
    server = sys.modules.get("daphne.server")
    if server is not None:
        server.HTTPFactory = HTTPFactory
