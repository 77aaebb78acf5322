"""A local fake of the part of the Gemini API that google-genai uses here, and its pytest fixtures.

It speaks HTTP on 127.0.0.1 like generativelanguage.googleapis.com does, so the
real ``genai.Client`` talks to it through ``HttpOptions(base_url=fake.url)``:

- the Files API's resumable upload: ``POST /upload/v1beta/files`` with
  ``X-Goog-Upload-Protocol: resumable`` (start; answers with an
  ``X-Goog-Upload-URL``), then ``POST`` of the bytes to that URL with
  ``X-Goog-Upload-Command: upload, finalize``;
- ``GET /v1beta/files/{name}``: PROCESSING for a while, then ACTIVE (or FAILED);
- ``POST /v1beta/models/{model}:generateContent``;
- ``POST /v1beta/models/{model}:streamGenerateContent?alt=sse``: server-sent
  events (``data: {...}``) in a chunked body, which a script can cut off
  mid-way by closing the connection.

Each route answers from a script a test queues (:meth:`FakeGemini.script`),
then with a sensible default. Every request is recorded with its headers and
body. Registered as a pytest plugin in the root conftest; fixtures:
``fake_gemini`` (the server) and ``gemini_settings`` (Django settings pointing
the app at it, with a test API key and short delays).
"""

from __future__ import annotations

import json
import re
import secrets
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from testkit.live import serving

# The SDK picks the API version (v1 in google-genai 3.x); the fake answers under either.
VERSIONED = re.compile(r"^/(?:upload/)?(v1|v1beta)/")
FILE_LIFETIME = timedelta(hours=48)
ROUTES = ("upload", "upload_bytes", "get_file", "generate", "stream")
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}

DEFAULT_UNDERSTANDING = {
    "summary": "A person walks along a beach at sunset and talks about the tides.",
    "topics": ["beach", "tides", "sunset"],
    "key_moments": [
        {"time": "00:00", "label": "The beach at sunset, seen from the dunes."},
        {"time": "00:01", "label": "The walker starts talking about the tides."},
        {"time": "00:03", "label": "A wave reaches the walker's feet."},
    ],
    "transcript": [
        {"start": "00:01", "end": "00:03", "text": "The tide turns twice a day."},
    ],
    "on_screen_text": [{"time": "00:02", "text": "LOW TIDE 14:05"}],
}
DEFAULT_STREAM = ["The video shows ", "a beach at sunset; ", "the wave arrives at 00:03."]


@dataclass
class Reply:
    """One scripted answer of a route."""

    status: int = 200
    message: str = ""
    """For an error: the API's message."""
    text: str | None = None
    """For generateContent: the model's text (anything, valid JSON or not)."""
    chunks: list[str] | None = None
    """For streamGenerateContent: the model's text, piece by piece."""
    cut_after: int | None = None
    """For streamGenerateContent: close the connection after this many chunks."""
    finish: bool = True
    """For streamGenerateContent: whether the last chunk says the model is done (finishReason)."""
    delay: float = 0.0
    """Seconds to wait before answering (longer than the client's timeout = a timeout)."""

    @classmethod
    def error(cls, status: int, message: str = "", *, delay: float = 0.0) -> Reply:
        return cls(status=status, message=message or f"Fake error {status}", delay=delay)

    @classmethod
    def json(cls, data: Any) -> Reply:
        return cls(text=json.dumps(data))

    @classmethod
    def stream(cls, chunks: list[str], *, cut_after: int | None = None, finish: bool = True) -> Reply:
        return cls(chunks=chunks, cut_after=cut_after, finish=finish)


@dataclass
class FakeFile:
    name: str
    display_name: str
    mime_type: str
    size: int
    created: datetime
    processing_polls: int
    """GETs that still answer PROCESSING."""
    failure: str = ""
    """When set, the file ends FAILED with this message instead of ACTIVE."""
    received: int = 0
    uri_version: str = "v1"

    @property
    def state(self) -> str:
        if self.processing_polls > 0 or self.received < self.size:
            return "PROCESSING"
        return "FAILED" if self.failure else "ACTIVE"

    def resource(self, base_url: str) -> dict[str, Any]:
        version = self.uri_version
        data: dict[str, Any] = {
            "name": self.name,
            "displayName": self.display_name,
            "mimeType": self.mime_type,
            "sizeBytes": str(self.size),
            "createTime": _timestamp(self.created),
            "updateTime": _timestamp(self.created),
            "expirationTime": _timestamp(self.created + FILE_LIFETIME),
            "sha256Hash": "ZmFrZQ==",
            "uri": f"{base_url}/{version}/{self.name}",
            "state": self.state,
            "source": "UPLOADED",
        }
        if self.state == "FAILED":
            data["error"] = {"code": 3, "message": self.failure}
        return data


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class FakeGemini:
    """The fake's state: what tests script and inspect."""

    api_key: str = field(default_factory=lambda: f"test-key-{secrets.token_urlsafe(12)}")
    url: str = ""
    processing_polls: int = 0
    """How many GETs a newly uploaded file answers PROCESSING before it is ACTIVE."""
    file_failure: str = ""
    """When set, newly uploaded files end FAILED with this message."""
    files: dict[str, FakeFile] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    _scripts: dict[str, deque[Reply]] = field(default_factory=lambda: {r: deque() for r in ROUTES})
    _sessions: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, route: str, *replies: Reply) -> None:
        """Answer the next requests of ``route`` (one of ROUTES) with ``replies``, in order."""
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; routes: {', '.join(ROUTES)}")
        with self._lock:
            self._scripts[route].extend(replies)

    def add_file(self, *, mime_type: str = "video/mp4", size: int = 1000) -> dict[str, str]:
        """An ACTIVE file, as if uploaded earlier; returns its reference as the app stores it."""
        name = f"files/{secrets.token_hex(6)}"
        file = FakeFile(
            name, "earlier", mime_type, size, datetime.now(UTC), processing_polls=0, received=size
        )
        with self._lock:
            self.files[name] = file
        resource = file.resource(self.url)
        return {
            "name": name,
            "uri": resource["uri"],
            "mime_type": mime_type,
            "expires_at": (file.created + FILE_LIFETIME).isoformat(),
        }

    def forget(self, name: str) -> None:
        """Delete a file, as Google does 48 hours after its upload."""
        with self._lock:
            self.files.pop(name, None)

    def calls(self, route: str) -> list[Recorded]:
        """The recorded requests of one route."""
        return [r for r in self.requests if _route(r.method, r.path, r.query) == route]

    @property
    def uploads(self) -> list[Recorded]:
        """The finished uploads (the requests that carried a file's bytes)."""
        return self.calls("upload_bytes")

    # --- serving ---------------------------------------------------------------

    def _next(self, route: str) -> Reply | None:
        with self._lock:
            queue = self._scripts[route]
            return queue.popleft() if queue else None

    def _record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _route(method: str, path: str, query: dict[str, list[str]]) -> str:
    match = VERSIONED.match(path)
    if match is None:
        return "unknown"
    rest = path[match.end() :]
    if method == "POST" and path.startswith("/upload/") and rest == "files":
        return "upload_bytes" if "upload_id" in query else "upload"
    if method == "GET" and rest.startswith("files/"):
        return "get_file"
    if method == "POST" and path.endswith(":generateContent"):
        return "generate"
    if method == "POST" and path.endswith(":streamGenerateContent"):
        return "stream"
    return "unknown"


def field(data: dict, name: str) -> Any:
    """A field by its JSON name, or by the snake_case name the SDK may send (the API takes both)."""
    return data.get(name, data.get(re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()))


def _error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": {"code": status, "message": message, "status": STATUS_NAMES.get(status, "UNKNOWN")}}


def _candidate_chunk(text: str, *, finish: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = "STOP"
    return {
        "candidates": [candidate],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
        "modelVersion": "fake-gemini",
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read fake.requests instead

    @property
    def fake(self) -> FakeGemini:
        return self.server.fake

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        recorded = Recorded(
            self.command, parts.path, query, {k.lower(): v for k, v in self.headers.items()}, body
        )
        self.fake._record(recorded)
        route = _route(self.command, parts.path, query)
        # The upload URL is itself the credential for the bytes; everything else needs the key.
        if route != "upload_bytes" and recorded.headers.get("x-goog-api-key") != self.fake.api_key:
            self._send_json(400, _error_body(400, "API key not valid. Please pass a valid API key."))
            return
        if route == "unknown":
            self._send_json(404, _error_body(404, f"No route for {self.command} {parts.path}"))
            return
        reply = self.fake._next(route) or Reply()
        if reply.delay:
            time.sleep(reply.delay)
        if reply.status != 200:
            # An upload step always says where it stands, as Google's does.
            headers = {"X-Goog-Upload-Status": "final"} if route == "upload_bytes" else {}
            self._send_json(reply.status, _error_body(reply.status, reply.message), headers)
            return
        getattr(self, f"_{route}")(recorded, reply)

    # --- routes ----------------------------------------------------------------

    def _upload(self, request: Recorded, reply: Reply) -> None:
        if request.headers.get("x-goog-upload-protocol") != "resumable":
            self._send_json(400, _error_body(400, "Only resumable uploads are supported."))
            return
        meta = (request.json or {}).get("file") or {}
        version = VERSIONED.match(request.path)[1]
        upload_id = secrets.token_hex(8)
        name = f"files/{secrets.token_hex(6)}"
        with self.fake._lock:
            self.fake._sessions[upload_id] = name
            self.fake.files[name] = FakeFile(
                name=name,
                display_name=field(meta, "displayName") or "",
                mime_type=request.headers.get("x-goog-upload-header-content-type", ""),
                size=int(request.headers.get("x-goog-upload-header-content-length", "0")),
                created=datetime.now(UTC),
                processing_polls=self.fake.processing_polls,
                failure=self.fake.file_failure,
                uri_version=version,
            )
        upload_url = f"{self.fake.url}/upload/{version}/files?upload_id={upload_id}&upload_protocol=resumable"
        self._send_json(200, {}, {"X-Goog-Upload-URL": upload_url, "X-Goog-Upload-Status": "active"})

    def _upload_bytes(self, request: Recorded, reply: Reply) -> None:
        name = self.fake._sessions.get(request.query["upload_id"][0])
        file = self.fake.files.get(name or "")
        if file is None:
            self._send_json(404, _error_body(404, "No such upload."), {"X-Goog-Upload-Status": "final"})
            return
        file.received += len(request.body)
        command = request.headers.get("x-goog-upload-command", "")
        if "finalize" not in command:
            self._send_json(200, {}, {"X-Goog-Upload-Status": "active"})
            return
        # Videos are never ready at once: the upload's answer always says PROCESSING.
        resource = {**file.resource(self.fake.url), "state": "PROCESSING"}
        self._send_json(200, {"file": resource}, {"X-Goog-Upload-Status": "final"})

    def _get_file(self, request: Recorded, reply: Reply) -> None:
        name = VERSIONED.sub("", request.path)
        with self.fake._lock:
            file = self.fake.files.get(name)
            if file is not None and file.received >= file.size and file.processing_polls > 0:
                file.processing_polls -= 1
                data = {**file.resource(self.fake.url), "state": "PROCESSING"}
            else:
                data = file.resource(self.fake.url) if file else None
        if data is None:
            # What Google answers for a file that expired or never was.
            message = f"You do not have permission to access the File {name} or it may not exist."
            self._send_json(403, _error_body(403, message))
            return
        self._send_json(200, data)

    def _missing_file(self, request: Recorded) -> str | None:
        """The URI of a file the request refers to that is gone or not ACTIVE, if any."""
        for content in (request.json or {}).get("contents", []):
            for part in content.get("parts", []):
                uri = field(field(part, "fileData") or {}, "fileUri")
                if not uri:
                    continue
                file = self.fake.files.get("files/" + uri.rsplit("/files/", 1)[-1])
                if file is None or file.state != "ACTIVE":
                    return uri
        return None

    def _generate(self, request: Recorded, reply: Reply) -> None:
        if missing := self._missing_file(request):
            self._send_json(403, _error_body(403, f"The File {missing} is not ACTIVE or does not exist."))
            return
        text = reply.text if reply.text is not None else json.dumps(DEFAULT_UNDERSTANDING)
        self._send_json(200, _candidate_chunk(text, finish=True))

    def _stream(self, request: Recorded, reply: Reply) -> None:
        if missing := self._missing_file(request):
            self._send_json(403, _error_body(403, f"The File {missing} is not ACTIVE or does not exist."))
            return
        chunks = reply.chunks if reply.chunks is not None else DEFAULT_STREAM
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for index, text in enumerate(chunks):
            if reply.cut_after is not None and index >= reply.cut_after:
                # Mid-body, no terminating chunk: the client sees a broken stream.
                self.close_connection = True
                self.wfile.flush()
                return
            event = json.dumps(_candidate_chunk(text, finish=reply.finish and index == len(chunks) - 1))
            self._write_chunk(f"data: {event}\r\n\r\n".encode())
        self.wfile.write(b"0\r\n\r\n")

    # --- writing ---------------------------------------------------------------

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeGemini) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (a timeout, a cut stream) is part of the script, not an error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _serve() -> Iterator[FakeGemini]:
    fake = FakeGemini()
    server = _Server(fake)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    with serving(server, "fake-gemini"):
        yield fake


@pytest.fixture
def fake_gemini() -> Iterator[FakeGemini]:
    """A fresh fake Gemini API on a free port; ``fake_gemini.url`` is its base URL."""
    yield from _serve()


@pytest.fixture
def gemini_settings(settings, fake_gemini: FakeGemini):
    """Django settings that turn Gemini on, pointed at the fake, with short waits."""
    settings.GEMINI_API_KEY = fake_gemini.api_key
    settings.GEMINI_BASE_URL = fake_gemini.url
    settings.GEMINI_TIMEOUT_SECONDS = 5
    settings.GEMINI_MAX_RETRIES = 2
    settings.GEMINI_RETRY_DELAY_SECONDS = 0.01
    settings.GEMINI_POLL_SECONDS = 0.01
    settings.ASSISTANT_PROVIDER = "gemini"
    return settings
