"""The /ws/events/ socket opens only from the site's own origin or a trusted one.

The sockets here are anonymous: the consumer accepts them and then closes them
with its own code, so whether `connect()` was accepted is the origin check's
answer alone (a refusal closes before accept).
"""

import pytest
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from core.origin import Origin, parse_origin

LOCALHOST_8000 = {"ALLOWED_HOSTS": ["localhost", "127.0.0.1"]}


async def _accepted(*, host=b"testserver", origin=b"http://testserver", scheme=None, headers=()) -> bool:
    from videochat.asgi import application

    all_headers = [(b"host", host), *headers]
    if origin is not None:
        all_headers.append((b"origin", origin))
    communicator = WebsocketCommunicator(application, "/ws/events/", headers=all_headers)
    if scheme is not None:
        communicator.scope["scheme"] = scheme
    try:
        connected, _ = await communicator.connect()
        return connected
    finally:
        await communicator.disconnect()


@pytest.mark.asyncio
async def test_it_accepts_the_sites_own_origin():
    assert await _accepted(host=b"testserver", origin=b"http://testserver")
    with override_settings(**LOCALHOST_8000):
        assert await _accepted(host=b"localhost:8000", origin=b"http://localhost:8000")
        assert await _accepted(host=b"127.0.0.1:8000", origin=b"http://127.0.0.1:8000")


@pytest.mark.asyncio
async def test_it_accepts_a_secure_socket_from_the_https_origin():
    assert await _accepted(host=b"testserver", origin=b"https://testserver", scheme="wss")


@pytest.mark.asyncio
async def test_it_reads_a_default_port_as_no_port():
    assert await _accepted(host=b"testserver", origin=b"http://testserver:80")
    assert await _accepted(host=b"testserver:80", origin=b"http://testserver")
    assert await _accepted(host=b"testserver:443", origin=b"https://testserver", scheme="wss")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("host", "origin", "scheme"),
    [
        (b"testserver", b"http://localhost:9999", None),
        (b"testserver", b"https://127.0.0.1:9999", None),
        (b"localhost:8000", b"http://localhost:9999", None),
        (b"localhost:8000", b"https://127.0.0.1:9999", None),
        (b"localhost:8000", b"http://localhost", None),
        (b"testserver", b"http://testserver:8000", None),
        (b"testserver", b"http://testserver:443", "wss"),
    ],
)
async def test_it_refuses_another_port(host, origin, scheme):
    with override_settings(**LOCALHOST_8000):
        assert not await _accepted(host=host, origin=origin, scheme=scheme)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("host", "origin", "scheme"),
    [
        (b"testserver", b"https://testserver", None),
        (b"localhost:8000", b"https://localhost:8000", None),
        (b"testserver", b"http://testserver", "wss"),
        (b"testserver", b"ws://testserver", None),
        (b"testserver", b"file://testserver", None),
    ],
)
async def test_it_refuses_another_scheme(host, origin, scheme):
    with override_settings(**LOCALHOST_8000):
        assert not await _accepted(host=host, origin=origin, scheme=scheme)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("host", "origin"),
    [
        (b"testserver", b"http://evil.example"),
        (b"testserver", b"http://testserver.evil.example"),
        (b"localhost:8000", b"http://127.0.0.1:8000"),
        (b"localhost:8000", b"http://sub.localhost:8000"),
    ],
)
async def test_it_refuses_another_host(host, origin):
    with override_settings(**LOCALHOST_8000):
        assert not await _accepted(host=host, origin=origin)


@pytest.mark.asyncio
async def test_it_refuses_a_host_outside_allowed_hosts():
    # The Origin matches the Host, but the Host is not ours.
    assert not await _accepted(host=b"evil.example", origin=b"http://evil.example")
    assert not await _accepted(host=b"", origin=b"http://testserver")


@pytest.mark.asyncio
async def test_it_refuses_a_socket_without_an_origin():
    assert not await _accepted(origin=None)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "origin", [b"null", b"", b"testserver", b"http://testserver/", b"http://user@testserver"]
)
async def test_it_refuses_an_origin_that_is_not_one(origin):
    assert not await _accepted(origin=origin)


@pytest.mark.asyncio
async def test_it_refuses_two_origin_headers():
    assert not await _accepted(origin=b"http://testserver", headers=[(b"origin", b"http://evil.example")])


@pytest.mark.asyncio
async def test_it_accepts_a_csrf_trusted_origin():
    with override_settings(CSRF_TRUSTED_ORIGINS=["https://app.example.com", "http://localhost:5173"]):
        assert await _accepted(origin=b"https://app.example.com")
        assert await _accepted(origin=b"https://app.example.com:443")
        assert await _accepted(origin=b"http://localhost:5173")
        assert not await _accepted(origin=b"http://app.example.com")
        assert not await _accepted(origin=b"https://app.example.com:8443")
        assert not await _accepted(origin=b"https://other.app.example.com")
        assert not await _accepted(origin=b"http://localhost:5174")
    # Trusted origins widen who may connect, not which hosts we answer to.
    with override_settings(CSRF_TRUSTED_ORIGINS=["https://app.example.com"]):
        assert not await _accepted(host=b"evil.example", origin=b"https://app.example.com")


@pytest.mark.asyncio
async def test_it_accepts_subdomains_of_a_wildcard_trusted_origin():
    with override_settings(CSRF_TRUSTED_ORIGINS=["https://*.example.com"]):
        assert await _accepted(origin=b"https://app.example.com")
        assert await _accepted(origin=b"https://a.b.example.com")
        # As Django's CSRF check reads the same entry.
        assert await _accepted(origin=b"https://example.com")
        assert not await _accepted(origin=b"https://evilexample.com")
        assert not await _accepted(origin=b"https://example.com.evil.example")
        assert not await _accepted(origin=b"http://app.example.com")
        assert not await _accepted(origin=b"https://app.example.com:8443")


@pytest.mark.asyncio
async def test_it_takes_the_scheme_from_the_proxy_header_when_told_to():
    forwarded = [(b"x-forwarded-proto", b"https")]
    with override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")):
        # The proxy ended TLS and speaks ws:// to us; the page was https.
        assert await _accepted(origin=b"https://testserver", headers=forwarded)
        assert not await _accepted(origin=b"http://testserver", headers=forwarded)
        assert await _accepted(origin=b"http://testserver", headers=[(b"x-forwarded-proto", b"http")])
        # Only the first of a list counts, as in Django.
        assert await _accepted(origin=b"https://testserver", headers=[(b"x-forwarded-proto", b"https, http")])
        # Without the header, the socket's own scheme.
        assert await _accepted(origin=b"http://testserver")


@pytest.mark.asyncio
async def test_it_ignores_the_proxy_header_unless_told_to():
    forwarded = [(b"x-forwarded-proto", b"https")]
    with override_settings(SECURE_PROXY_SSL_HEADER=None):
        assert not await _accepted(origin=b"https://testserver", headers=forwarded)
        assert await _accepted(origin=b"http://testserver", headers=forwarded)


def test_it_parses_an_origin_with_its_default_port():
    assert parse_origin("http://LocalHost") == Origin("http", "localhost", 80)
    assert parse_origin("https://example.com:8443") == Origin("https", "example.com", 8443)
    assert parse_origin("http://[::1]:8000") == Origin("http", "[::1]", 8000)
    assert parse_origin("null") is None
    assert parse_origin("http://") is None
