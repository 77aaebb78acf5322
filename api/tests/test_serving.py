"""The API's upload through a real Daphne: the same cap and the same gate before its body is read.

A token is enough to be let in; without a valid one, or over the cap, the
answer (the API's JSON) comes before any of the body is stored.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from accounts.tokens import token_create, token_revoke
from analysis.models import Video
from videochat.tests.test_serving import (  # noqa: F401 (server is a fixture)
    MAX_FILES,
    MAX_UPLOAD_MB,
    MIB,
    assert_nothing_kept,
    logged_in,
    send,
    server,
)

pytestmark = pytest.mark.slow


def head(length: int, *extra: str) -> bytes:
    lines = [
        "POST /api/v1/videos HTTP/1.1",
        "Host: localhost",
        "Content-Type: multipart/form-data; boundary=----x",
        f"Content-Length: {length}",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def body_of(raw: bytes) -> dict:
    return json.loads(raw.split(b"\r\n\r\n", 1)[1])


def test_it_refuses_a_tokens_upload_over_the_cap_before_reading_it(server, owner):  # noqa: F811
    token = token_create(user=owner, name="script")[1]
    answer = send(server, head(500 * MIB, f"Authorization: Bearer {token}"), 500 * MIB)

    assert answer.status == 413, answer.text[:500]
    body = body_of(answer.raw)
    assert body["code"] == "too_large"
    assert f"at most {MAX_FILES} files of up to {MAX_UPLOAD_MB} MB each" in body["error"]
    assert_nothing_kept(server, answer)


@pytest.mark.parametrize("auth", ["none", "revoked", "garbage"])
def test_it_answers_401_before_reading_an_upload_without_a_valid_token(server, owner, auth):  # noqa: F811
    row, token = token_create(user=owner, name="old")
    token_revoke(token=row)
    extra = {
        "none": [],
        "revoked": [f"Authorization: Bearer {token}"],
        "garbage": ["Authorization: Bearer zzz"],
    }
    answer = send(server, head(300 * MIB, *extra[auth]), 300 * MIB)

    assert answer.status == 401, answer.text[:500]
    assert body_of(answer.raw)["code"] in {"not_authenticated", "bad_token"}
    assert_nothing_kept(server, answer)


def test_it_refuses_a_sessions_upload_with_a_wrong_csrf_header_before_reading_it(server, owner):  # noqa: F811
    cookie, _token = logged_in(owner)
    answer = send(server, head(30 * MIB, f"Cookie: {cookie}", "X-CSRFToken: " + "a" * 32), 30 * MIB)

    assert answer.status == 403, answer.text[:500]
    assert body_of(answer.raw)["code"] == "csrf_failed"
    assert_nothing_kept(server, answer)


def test_it_streams_a_tokens_upload_through_the_checks(server, owner, clips):  # noqa: F811
    token = token_create(user=owner, name="script")[1]
    video = Path(clips["short"].path).read_bytes()
    body = (
        b'------x\r\nContent-Disposition: form-data; name="files"; filename="short.mp4"\r\n'
        b"Content-Type: video/mp4\r\n\r\n" + video + b"\r\n"
        b'------x\r\nContent-Disposition: form-data; name="files"; filename="notes.mp4"\r\n\r\n'
        b"just some words\r\n------x--\r\n"
    )
    sock = socket.create_connection((server.host, server.port), timeout=60)
    with sock:
        sock.sendall(head(len(body), f"Authorization: Bearer {token}", "Connection: close") + body)
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk

    assert raw.startswith(b"HTTP/1.1 201"), raw[:500]
    results = body_of(raw)["results"]
    assert [(r["name"], r["outcome"]) for r in results] == [
        ("short.mp4", "accepted"),
        ("notes.mp4", "not-video"),
    ]
    assert Video.objects.get(owner=owner).size == len(video)
