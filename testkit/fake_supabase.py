"""A fake Supabase Storage: a small HTTP server that speaks what storage3 calls.

The real client (storage3, as supabase-py builds it) talks to it over HTTP,
so the tests exercise the same requests production sends. It holds objects on
disk (a large upload never sits in memory here either), checks the service
key on every authenticated request, records every request, and can be told to
fail: `fake.fail("POST", "/object/", status=500)`.

Routes, under /storage/v1 (Supabase's storage-api):
  POST|PUT /object/{bucket}/{path}            upload (multipart, one "file" part)
  GET      /object[/authenticated]/{bucket}/{path}          download (Range too)
  GET      /object/info[/authenticated]/{bucket}/{path}     object info
  DELETE   /object/{bucket}                    {"prefixes": [...]}
  POST     /object/list/{bucket}               {"prefix", "limit", "offset"}
  POST     /object/sign/{bucket}/{path}        {"expiresIn"} -> {"signedURL"}
  GET      /object/sign/{bucket}/{path}?token= no key needed; expiry and Range honoured
  GET      /bucket/{id}                        bucket details ("public")

Registered as a pytest plugin by the root conftest.py: fixtures `fake_supabase`
(the server) and `supabase_media` (MEDIA_STORAGE=supabase pointed at it).
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest

from testkit.live import serving

PREFIX = "/storage/v1"
CHUNK = 64 * 1024
RANGE_RE = re.compile(r"bytes=(\d*)-(\d*)$")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    json: Any = None


@dataclass
class Failure:
    method: str
    path_contains: str
    status: int
    times: int
    after_store: bool  # do the work, then answer the error (an answer lost after success)


@dataclass
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    file: Path | None = None  # streamed from disk instead of `body`
    start: int = 0
    length: int = 0


def _json(status: int, data: Any) -> Answer:
    return Answer(status, json.dumps(data).encode(), {"Content-Type": "application/json"})


def _error(http_status: int, error: str, message: str, status_code: str | None = None) -> Answer:
    return _json(
        http_status, {"statusCode": status_code or str(http_status), "error": error, "message": message}
    )


NOT_FOUND = ("not_found", "Object not found")


class FakeSupabase:
    """The state of the fake project: buckets, objects (on disk), signed tokens, requests."""

    def __init__(self, root: Path, *, bucket: str = "videochat-media") -> None:
        self.root = root
        self.key = "service-role-" + secrets.token_urlsafe(24)
        self.bucket = bucket
        self.buckets: dict[str, dict[str, Any]] = {bucket: {"public": False, "file_size_limit": None}}
        self.meta: dict[tuple[str, str], dict[str, Any]] = {}
        self.tokens: dict[str, tuple[str, str, float]] = {}
        self.requests: list[Recorded] = []
        self.failures: list[Failure] = []
        self.clock_offset = 0.0
        self.url = ""
        self.lock = threading.Lock()

    # --- control, for tests

    def fail(
        self, method: str, path_contains: str = "", *, status: int = 500, times: int = 1, after_store=False
    ) -> None:
        self.failures.append(Failure(method, path_contains, status, times, after_store))

    def advance(self, seconds: float) -> None:
        """Move the fake's clock on (signed URLs expire by it)."""
        self.clock_offset += seconds

    def now(self) -> float:
        return time.time() + self.clock_offset

    def names(self, bucket: str | None = None) -> list[str]:
        bucket = bucket or self.bucket
        return sorted(name for b, name in self.meta if b == bucket)

    def read(self, name: str, bucket: str | None = None) -> bytes:
        return self.path(bucket or self.bucket, name).read_bytes()

    def put(self, name: str, data: bytes, *, content_type: str = "application/octet-stream") -> None:
        path = self.path(self.bucket, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self._record_meta(self.bucket, name, content_type, "3600")

    # --- storage

    def path(self, bucket: str, name: str) -> Path:
        return self.root / bucket / name

    def _record_meta(self, bucket: str, name: str, content_type: str, cache_control: str) -> None:
        now = datetime.now(UTC).isoformat()
        self.meta[(bucket, name)] = {
            "id": str(uuid.uuid4()),
            "content_type": content_type,
            "cache_control": cache_control,
            "created_at": now,
            "updated_at": now,
        }

    def take_failure(self, method: str, path: str) -> Failure | None:
        with self.lock:
            for failure in self.failures:
                if failure.method == method and failure.path_contains in path and failure.times > 0:
                    failure.times -= 1
                    return failure
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without this, each answer waits out
    # the client's delayed ACK (40 ms).
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    @property
    def fake(self) -> FakeSupabase:
        return self.server.fake

    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # --- dispatch

    def _handle(self, method: str) -> None:
        split = urlsplit(self.path)
        path = unquote(split.path)
        query = parse_qs(split.query)
        recorded = Recorded(method, path, query, {k.lower(): v for k, v in self.headers.items()})
        self.fake.requests.append(recorded)
        failure = self.fake.take_failure(method, path)
        if failure is not None and not failure.after_store:
            self._drain()
            self._send(_error(failure.status, "InternalError", "the fake was told to fail"))
            return
        answer = self._route(method, path.removeprefix(PREFIX), query, recorded)
        if failure is not None:
            answer = _error(failure.status, "InternalError", "the fake was told to fail after the work")
        self._send(answer, head=method == "HEAD")

    def _route(self, method: str, path: str, query: dict, recorded: Recorded) -> Answer:
        if method == "GET" and path.startswith("/object/sign/"):
            return self._signed_get(path.removeprefix("/object/sign/"), query)
        if not self._authorised():
            self._drain()
            return _error(403, "Unauthorized", "invalid signature", "403")
        if method in {"POST", "PUT"} and path.startswith("/object/") and self._is_upload(path):
            return self._upload(method, path.removeprefix("/object/"))
        body = self._json_body()
        recorded.json = body
        if method == "POST" and path.startswith("/object/sign/"):
            return self._sign(path.removeprefix("/object/sign/"), body)
        if method == "POST" and path.startswith("/object/list/"):
            return self._list(path.removeprefix("/object/list/"), body)
        if method == "GET" and path.startswith("/object/info/"):
            return self._info(path.removeprefix("/object/info/").removeprefix("authenticated/"))
        if method == "DELETE" and path.startswith("/object/"):
            return self._remove(path.removeprefix("/object/"), body)
        if method in {"GET", "HEAD"} and path.startswith("/object/"):
            return self._download(path.removeprefix("/object/").removeprefix("authenticated/"))
        if method == "GET" and path.startswith("/bucket/"):
            return self._bucket(path.removeprefix("/bucket/"))
        return _error(404, "not_found", f"no route for {method} {path}")

    def _authorised(self) -> bool:
        key = self.fake.key
        return self.headers.get("apikey") == key and self.headers.get("Authorization") == f"Bearer {key}"

    def _is_upload(self, path: str) -> bool:
        return "multipart/form-data" in (self.headers.get("Content-Type") or "") and not path.startswith(
            ("/object/sign/", "/object/list/", "/object/upload/")
        )

    # --- routes

    def _upload(self, method: str, target: str) -> Answer:
        bucket, _, name = target.partition("/")
        if bucket not in self.fake.buckets:
            self._drain()
            return _error(404, "Bucket not found", "Bucket not found")
        upsert = method == "PUT" or self.headers.get("x-upsert") == "true"
        if (bucket, name) in self.fake.meta and not upsert:
            self._drain()
            return _error(409, "Duplicate", "The resource already exists")
        with tempfile.TemporaryFile(dir=self.fake.root) as raw:
            size = self._read_body_to(raw)
            part_type, cache_control, start, end = _multipart_file(raw, size, self.headers["Content-Type"])
            destination = self.fake.path(bucket, name)
            destination.parent.mkdir(parents=True, exist_ok=True)
            with open(destination, "wb") as out:
                _copy_range(raw, out, start, end - start)
        self.fake._record_meta(bucket, name, part_type, cache_control)
        return _json(200, {"Id": self.fake.meta[(bucket, name)]["id"], "Key": f"{bucket}/{name}"})

    def _download(self, target: str) -> Answer:
        bucket, _, name = target.partition("/")
        if (bucket, name) not in self.fake.meta:
            return _error(404, *NOT_FOUND)
        return self._file_answer(bucket, name)

    def _info(self, target: str) -> Answer:
        bucket, _, name = target.partition("/")
        meta = self.fake.meta.get((bucket, name))
        if meta is None:
            return _error(404, *NOT_FOUND)
        return _json(
            200,
            {
                "id": meta["id"],
                "name": name,
                "version": meta["id"],
                "bucket_id": bucket,
                "size": self.fake.path(bucket, name).stat().st_size,
                "content_type": meta["content_type"],
                "cache_control": f"max-age={meta['cache_control']}",
                "etag": f'"{meta["id"]}"',
                "metadata": None,
                "last_modified": meta["updated_at"],
                "created_at": meta["created_at"],
            },
        )

    def _remove(self, bucket: str, body: dict) -> Answer:
        removed = []
        for name in body.get("prefixes", []):
            if self.fake.meta.pop((bucket, name), None) is not None:
                self.fake.path(bucket, name).unlink(missing_ok=True)
                removed.append({"name": name, "bucket_id": bucket})
        return _json(200, removed)

    def _list(self, bucket: str, body: dict) -> Answer:
        prefix = (body.get("prefix") or "").strip("/")
        start = f"{prefix}/" if prefix else ""
        entries: dict[str, dict[str, Any]] = {}
        for b, name in self.fake.meta:
            if b != bucket or not name.startswith(start):
                continue
            head, slash, _ = name[len(start) :].partition("/")
            if slash:
                entries.setdefault(head, {"name": head, "id": None, "metadata": None})
            else:
                meta = self.fake.meta[(b, name)]
                size = self.fake.path(b, name).stat().st_size
                entries[head] = {"name": head, "id": meta["id"], "metadata": {"size": size}}
        ordered = [entries[key] for key in sorted(entries)]
        offset, limit = int(body.get("offset", 0)), int(body.get("limit", 100))
        return _json(200, ordered[offset : offset + limit])

    def _sign(self, target: str, body: dict) -> Answer:
        bucket, _, name = target.partition("/")
        if (bucket, name) not in self.fake.meta:
            return _error(400, *NOT_FOUND, "404")
        token = secrets.token_urlsafe(16)
        self.fake.tokens[token] = (bucket, name, self.fake.now() + int(body["expiresIn"]))
        return _json(200, {"signedURL": f"/object/sign/{bucket}/{quote(name)}?token={token}"})

    def _signed_get(self, target: str, query: dict) -> Answer:
        bucket, _, name = target.partition("/")
        signed = self.fake.tokens.get((query.get("token") or [""])[0])
        if signed is None:
            return _error(400, "InvalidJWT", "invalid signature", "400")
        if signed[:2] != (bucket, name):
            return _error(400, "InvalidSignature", "The url do not match the signature", "400")
        if self.fake.now() >= signed[2]:
            return _error(400, "InvalidJWT", "jwt expired", "400")
        if (bucket, name) not in self.fake.meta:
            return _error(404, *NOT_FOUND)
        return self._file_answer(bucket, name)

    def _bucket(self, bucket_id: str) -> Answer:
        bucket = self.fake.buckets.get(bucket_id)
        if bucket is None:
            return _error(404, "Bucket not found", "Bucket not found")
        stamp = "2025-01-01T00:00:00.000Z"
        return _json(
            200,
            {
                "id": bucket_id,
                "name": bucket_id,
                "owner": "",
                "public": bucket["public"],
                "file_size_limit": bucket["file_size_limit"],
                "allowed_mime_types": None,
                "created_at": stamp,
                "updated_at": stamp,
            },
        )

    def _file_answer(self, bucket: str, name: str) -> Answer:
        path = self.fake.path(bucket, name)
        meta = self.fake.meta[(bucket, name)]
        size = path.stat().st_size
        headers = {
            "Content-Type": meta["content_type"],
            "Accept-Ranges": "bytes",
            "Cache-Control": f"max-age={meta['cache_control']}",
            "ETag": f'"{meta["id"]}"',
        }
        match = RANGE_RE.match(self.headers.get("Range") or "")
        if not match:
            return Answer(200, headers=headers, file=path, start=0, length=size)
        first, last = match.groups()
        start = int(first) if first else max(0, size - int(last))
        end = min(int(last), size - 1) if first and last else size - 1
        if start >= size:
            return Answer(416, headers={"Content-Range": f"bytes */{size}"})
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        return Answer(206, headers=headers, file=path, start=start, length=end - start + 1)

    # --- plumbing

    def _send(self, answer: Answer, *, head: bool = False) -> None:
        length = answer.length if answer.file is not None else len(answer.body)
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if head:
            return
        if answer.file is None:
            self.wfile.write(answer.body)
            return
        with open(answer.file, "rb") as fh:
            _copy_range(fh, self.wfile, answer.start, answer.length)

    def _read_body_to(self, out: BinaryIO) -> int:
        total = 0
        for chunk in self._body_chunks():
            out.write(chunk)
            total += len(chunk)
        return total

    def _body_chunks(self) -> Iterator[bytes]:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return
                yield self.rfile.read(size)
                self.rfile.readline()
        remaining = int(self.headers.get("Content-Length") or 0)
        while remaining > 0:
            chunk = self.rfile.read(min(CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk

    def _drain(self) -> None:
        for _ in self._body_chunks():
            pass

    def _json_body(self) -> Any:
        data = b"".join(self._body_chunks())
        return json.loads(data) if data else {}


def _multipart_file(raw: BinaryIO, size: int, content_type: str) -> tuple[str, str, int, int]:
    """The file part of a multipart body on disk: its type, the cacheControl field, its byte span."""
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    raw.seek(0)
    head = raw.read(CHUNK)
    marker = head.find(b'name="file"')
    if marker < 0:
        raise ValueError("no file part in the upload")
    start = head.index(b"\r\n\r\n", marker) + 4
    part_headers = head[marker:start].decode("latin-1")
    type_match = re.search(r"Content-Type: *([^\r\n]+)", part_headers, re.IGNORECASE)
    cache = re.search(rb'name="cacheControl"\r\n\r\n([^\r]*)\r\n', head)
    closing = b"\r\n--" + boundary + b"--\r\n"
    raw.seek(size - len(closing))
    if raw.read() != closing:
        raise ValueError("the file part is not the last part of the upload")
    return (
        type_match.group(1).strip() if type_match else "application/octet-stream",
        cache.group(1).decode() if cache else "3600",
        start,
        size - len(closing),
    )


def _copy_range(source: BinaryIO, target: BinaryIO, start: int, length: int) -> None:
    source.seek(start)
    while length > 0:
        chunk = source.read(min(CHUNK, length))
        if not chunk:
            break
        target.write(chunk)
        length -= len(chunk)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeSupabase


@contextmanager
def serve_fake_supabase(root: Path) -> Iterator[FakeSupabase]:
    """Run a fake Supabase on a free local port for the length of the block."""
    fake = FakeSupabase(root)
    root.mkdir(parents=True, exist_ok=True)
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = fake
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with serving(server, "fake-supabase"):
            yield fake
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def fake_supabase(tmp_path: Path) -> Iterator[FakeSupabase]:
    with serve_fake_supabase(tmp_path / "fake-supabase") as fake:
        yield fake


@pytest.fixture
def supabase_media(settings, fake_supabase: FakeSupabase) -> FakeSupabase:
    """MEDIA_STORAGE=supabase, pointed at the fake: default_storage is a SupabaseStorage."""
    settings.SUPABASE_URL = fake_supabase.url
    settings.SUPABASE_SERVICE_ROLE_KEY = fake_supabase.key
    settings.SUPABASE_STORAGE_BUCKET = fake_supabase.bucket
    settings.MEDIA_STORAGE = "supabase"
    # Changing STORAGES makes Django drop its cached storages (django.test.signals).
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "core.storage.SupabaseStorage"},
    }
    return fake_supabase
