"""The server bounds, checks and times out request bodies before it reads them (videochat/serving.py).

Each test drives a real Daphne through a raw socket, as a hostile or broken
client would, and looks at the server process itself: the bytes it holds in
files (its temporary folder and Django's upload folder, deleted files
included) and its memory, sampled while the client sends.
"""

from __future__ import annotations

import os
import secrets
import select
import socket
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from analysis.models import Video
from testkit.live import daphne_process
from testkit.procs import status_kib

pytestmark = pytest.mark.slow

MIB = 1024 * 1024
UPLOAD = "/videos/upload/"
# The server below: uploads of 2 files of 200 MB (a cap of about 400 MB), 64 KB for the rest.
MAX_UPLOAD_MB = 200
MAX_FILES = 2
SMALL_CAP_KB = 64
BODY_TIMEOUT = 2


@dataclass
class Server:
    host: str
    port: int
    pid: int
    folders: list[Path]

    def spooled(self) -> int:
        """Bytes in files the server holds open in its temporary folders, deleted ones included."""
        total = 0
        fds = Path(f"/proc/{self.pid}/fd")
        for fd in fds.iterdir():
            try:
                target = os.readlink(fd)
                info = os.stat(fd)
            except OSError:
                continue  # closed meanwhile
            if stat.S_ISREG(info.st_mode) and any(target.startswith(str(f)) for f in self.folders):
                total += info.st_size
        return total

    def rss(self) -> int:
        return status_kib(self.pid)["VmRSS"] * 1024


@dataclass
class Answer:
    raw: bytes = b""
    sent: int = 0
    peak_spooled: int = 0
    peak_growth: int = 0
    closed: bool = False
    samples: int = field(default=0, repr=False)

    @property
    def status(self) -> int:
        return int(self.final_head.split(b" ", 2)[1])

    @property
    def final_head(self) -> bytes:
        """The final answer's status line and headers (after any 100 Continue)."""
        heads = [part for part in self.raw.split(b"\r\n\r\n") if part.startswith(b"HTTP/1.1 ")]
        return heads[-1].split(b"\r\n", 1)[0] if heads else b""

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8", "replace")


@pytest.fixture
def server(transactional_db, tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {
        "TMPDIR": str(tmp),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "MAX_UPLOAD_MB": str(MAX_UPLOAD_MB),
        "MAX_FILES_PER_UPLOAD": str(MAX_FILES),
        "REQUEST_BODY_MAX_KB": str(SMALL_CAP_KB),
        "REQUEST_BODY_TIMEOUT": str(BODY_TIMEOUT),
    }
    with daphne_process(**env) as (url, process):
        host, port = url.removeprefix("http://").split(":")
        yield Server(host, int(port), process.pid, [tmp, Path(settings.FILE_UPLOAD_TEMP_DIR)])
    assert list(tmp.iterdir()) == []  # nothing left behind


def send(server: Server, head: bytes, total: int, *, chunked: bool = False, stop_after: int | None = None):
    """Send head, then up to `total` bytes of body, reading all the while; until the server hangs up.

    `stop_after` bytes, the client goes quiet and only listens.
    """
    answer = Answer()
    baseline = server.rss()
    frame = 64 * 1024
    sock = socket.create_connection((server.host, server.port))
    sock.sendall(head)
    sock.setblocking(False)
    limit = total if stop_after is None else min(total, stop_after)
    deadline = time.monotonic() + 120  # a guard against a hang, not a measure
    try:
        while time.monotonic() < deadline:
            writing = [sock] if answer.sent < limit else []
            # Quiet, the client samples the server often: its store grows, then goes.
            readable, writable, _ = select.select([sock], writing, [], 1 if writing else 0.05)
            if readable:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not data:
                    answer.closed = True
                    break
                answer.raw += data
            if writable:
                size = min(frame, limit - answer.sent)
                payload = bytes(size)
                if chunked:
                    payload = f"{size:x}\r\n".encode() + payload + b"\r\n"
                try:
                    answer.sent += sock.send(payload) if not chunked else _send_all(sock, payload, size)
                except (BrokenPipeError, ConnectionResetError):
                    limit = answer.sent
            if answer.sent // MIB > answer.samples or readable or not writing:
                answer.samples = answer.sent // MIB
                answer.peak_spooled = max(answer.peak_spooled, server.spooled())
                answer.peak_growth = max(answer.peak_growth, server.rss() - baseline)
    finally:
        sock.close()
    return answer


def _send_all(sock: socket.socket, payload: bytes, size: int) -> int:
    sock.setblocking(True)
    try:
        sock.sendall(payload)
    finally:
        sock.setblocking(False)
    return size


def upload_head(length: int | None, *, cookie: str = "", extra: str = "", chunked: bool = False) -> bytes:
    size = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {length}"
    lines = [
        f"POST {UPLOAD} HTTP/1.1",
        "Host: localhost",
        "Content-Type: multipart/form-data; boundary=----x",
        size,
    ]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    if extra:
        lines.append(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def logged_in(user) -> tuple[str, str]:
    """A session cookie for the user (its session is in the Redis the server shares) and a CSRF secret."""
    client = Client()
    client.force_login(user)
    token = secrets.token_hex(16)
    return f"sessionid={client.cookies['sessionid'].value}; csrftoken={token}", token


def assert_nothing_kept(server: Server, answer: Answer) -> None:
    assert answer.peak_spooled < MIB, answer
    assert answer.peak_growth < 20 * MIB, answer  # the interpreter's own noise, not a body
    assert answer.closed
    assert server.spooled() == 0
    assert not Video.objects.exists()


# --- the body's size --------------------------------------------------------


def test_it_refuses_a_logged_in_upload_over_the_cap_before_reading_it(server, owner):
    cookie, token = logged_in(owner)
    head = upload_head(500 * MIB, cookie=cookie, extra=f"X-CSRFToken: {token}\r\nAccept: application/json")
    answer = send(server, head, 500 * MIB)

    assert answer.status == 413, answer.text[:500]
    assert f"at most {MAX_FILES} files of up to {MAX_UPLOAD_MB} MB each" in answer.text
    assert b'"error"' in answer.raw  # JSON for a JSON client
    assert b"connection: close" in answer.raw.lower()
    assert_nothing_kept(server, answer)


def test_it_cuts_off_a_chunked_body_that_grows_past_the_cap(server):
    head = (
        b"POST /accounts/login/ HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    answer = send(server, head, 50 * MIB, chunked=True)

    assert answer.status == 413, answer.text[:500]
    assert f"the limit is {SMALL_CAP_KB} KB" in answer.text
    assert "<!doctype html>" in answer.text.lower()  # the site's page, through every middleware
    assert b"content-security-policy:" in answer.raw.lower()
    assert_nothing_kept(server, answer)


# --- who may send one -------------------------------------------------------


def test_it_sends_an_anonymous_300_mb_upload_to_log_in_before_reading_it(server):
    answer = send(server, upload_head(300 * MIB), 300 * MIB)

    assert answer.status == 302, answer.text[:500]
    assert b"location: /accounts/login/?next=/videos/" in answer.raw.lower()
    assert_nothing_kept(server, answer)


def test_it_refuses_an_upload_whose_csrf_header_is_wrong_before_reading_it(server, owner):
    cookie, _token = logged_in(owner)
    answer = send(server, upload_head(30 * MIB, cookie=cookie, extra="X-CSRFToken: " + "a" * 32), 30 * MIB)

    assert answer.status == 403, answer.text[:500]
    assert_nothing_kept(server, answer)


def test_it_refuses_an_upload_from_a_foreign_origin_before_reading_it(server, owner):
    cookie, _token = logged_in(owner)
    head = upload_head(30 * MIB, cookie=cookie, extra="Origin: https://evil.example")
    answer = send(server, head, 30 * MIB)

    assert answer.status == 403, answer.text[:500]
    assert_nothing_kept(server, answer)


def test_it_says_continue_only_to_an_upload_it_will_read(server, owner):
    answer = send(server, upload_head(30 * MIB, extra="Expect: 100-continue"), 0)
    assert answer.status == 302
    assert b"100 Continue" not in answer.raw

    cookie, token = logged_in(owner)
    body = b'------x\r\nContent-Disposition: form-data; name="files"; filename="a.mp4"\r\n\r\nnot a video\r\n'
    body += b"------x--\r\n"
    head = upload_head(len(body), cookie=cookie, extra=f"X-CSRFToken: {token}\r\nExpect: 100-continue")
    sock = socket.create_connection((server.host, server.port), timeout=30)
    with sock:
        sock.sendall(head)
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")


def test_it_reads_an_upload_whose_token_is_in_the_form(server, owner, clips):
    """A form posted without JavaScript carries its token in the body: the view checks it there."""
    cookie, token = logged_in(owner)
    video = Path(clips["short"]).read_bytes()
    body = (
        f'------x\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n{token}\r\n'
        '------x\r\nContent-Disposition: form-data; name="files"; filename="short.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    body += video + b"\r\n------x--\r\n"
    head = upload_head(len(body), cookie=cookie, extra="HX-Request: true\r\nConnection: close")
    sock = socket.create_connection((server.host, server.port), timeout=60)
    with sock:
        sock.sendall(head + body)
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk

    assert raw.startswith(b"HTTP/1.1 200"), raw[:500]
    assert b'data-code="accepted"' in raw
    assert Video.objects.get(owner=owner).size == len(video)


# --- slow clients -----------------------------------------------------------


def test_it_drops_a_body_that_stalls(server):
    head = (
        b"POST /accounts/login/ HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 60000\r\n\r\n"
    )
    answer = send(server, head, 60_000, stop_after=10)

    assert answer.sent == 10
    assert answer.status == 408, answer.text[:500]
    assert f"Nothing arrived for {BODY_TIMEOUT} seconds" in answer.text
    assert answer.closed
    assert server.spooled() == 0


def test_it_drops_a_stalled_upload_and_its_temporary_file(server, owner):
    cookie, token = logged_in(owner)
    head = upload_head(30 * MIB, cookie=cookie, extra=f"X-CSRFToken: {token}")
    answer = send(server, head, 30 * MIB, stop_after=2 * MIB)

    assert answer.status == 408, answer.text[:500]
    assert answer.peak_spooled >= MIB  # it was being stored, then it was let go
    assert server.spooled() == 0
    assert not Video.objects.exists()


# --- headers ----------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        b"X-Big: " + b"a" * 17_000 + b"\r\n",  # one line longer than the whole allowance
        b"".join(b"X-Part-%d: %s\r\n" % (i, b"a" * 1000) for i in range(17)),
    ],
    ids=["one-long-header", "many-headers"],
)
def test_it_answers_431_to_headers_over_16_kb(server, headers):
    sock = socket.create_connection((server.host, server.port), timeout=30)
    with sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n" + headers + b"\r\n")
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk

    assert raw.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), raw[:200]
    assert b"larger than the server accepts (16 KB)" in raw
