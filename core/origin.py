"""Websockets open only from the site's own pages, or from a trusted origin.

A page on any origin can open a websocket to us, and the browser sends our
session cookie with it: the Origin header is the only thing that says whose
page asked. Channels' AllowedHostsOriginValidator compares only its host name
with ALLOWED_HOSTS, so http://localhost:9999 passed for a site served at
http://localhost:8000. Here the whole origin must match: scheme, host and port.

The site's own origin is the one the socket was asked on: http for ws:// and
https for wss:// (or what the proxy's header says, when SECURE_PROXY_SSL_HEADER
is set, as Django decides request.is_secure()), and the Host header, which must
itself be in ALLOWED_HOSTS. CSRF_TRUSTED_ORIGINS, the origins Django accepts
forms from, are accepted here too, "*." subdomain wildcards included.
"""

from __future__ import annotations

from typing import NamedTuple

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

DEFAULT_PORTS = {"http": 80, "https": 443}


class Origin(NamedTuple):
    scheme: str
    host: str  # lowercased, as Django's split_domain_port gives it
    port: int


def parse_origin(value: str) -> Origin | None:
    """Origin of "scheme://host[:port]" with its default port filled in; None if it is not one."""
    scheme, separator, netloc = value.partition("://")
    scheme = scheme.lower()
    if not separator or scheme not in DEFAULT_PORTS:
        return None
    host, port = split_domain_port(netloc)
    if not host:
        return None
    return Origin(scheme, host, int(port) if port else DEFAULT_PORTS[scheme])


def _header_values(scope: dict, name: bytes) -> list[str]:
    return [value.decode("latin1") for key, value in scope.get("headers", []) if key == name]


def _is_secure(scope: dict) -> bool:
    """Whether the browser reached us over TLS, decided as Django's request.scheme does."""
    if settings.SECURE_PROXY_SSL_HEADER:
        meta_name, secure_value = settings.SECURE_PROXY_SSL_HEADER
        # Django's META name of a request header: HTTP_X_FORWARDED_PROTO is x-forwarded-proto.
        if meta_name.startswith("HTTP_"):
            header = meta_name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin1")
            values = _header_values(scope, header)
            if values:
                return values[0].split(",", 1)[0].strip() == secure_value
    return scope.get("scheme", "ws") == "wss"


def site_origin(scope: dict) -> Origin | None:
    """The origin the socket was asked on, or None when its Host is not one of ours."""
    hosts = _header_values(scope, b"host")
    if len(hosts) != 1:
        return None
    origin = parse_origin(f"{'https' if _is_secure(scope) else 'http'}://{hosts[0]}")
    allowed_hosts = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed_hosts:
        allowed_hosts = [".localhost", "127.0.0.1", "[::1]"]  # as Django's request.get_host()
    if origin is None or not validate_host(origin.host, allowed_hosts):
        return None
    return origin


def _is_trusted(origin: Origin, entry: str) -> bool:
    """Whether origin is the CSRF_TRUSTED_ORIGINS entry, or under its "*." wildcard."""
    scheme, _, netloc = entry.partition("://")
    wildcard = netloc.startswith("*.")
    trusted = parse_origin(f"{scheme}://{netloc.removeprefix('*')}")
    if trusted is None or (trusted.scheme, trusted.port) != (origin.scheme, origin.port):
        return False
    # is_same_domain reads ".example.com" as example.com and all its subdomains, as Django's CSRF check does.
    return is_same_domain(origin.host, trusted.host) if wildcard else origin.host == trusted.host


def origin_allowed(scope: dict) -> bool:
    """Whether the socket's one Origin header is the site's own origin or a trusted one."""
    values = _header_values(scope, b"origin")
    origin = parse_origin(values[0]) if len(values) == 1 else None  # "null" and the like parse to None
    site = site_origin(scope)
    if origin is None or site is None:
        return False
    return origin == site or any(_is_trusted(origin, entry) for entry in settings.CSRF_TRUSTED_ORIGINS)


class SameOriginValidator:
    """ASGI middleware: a websocket from any other origin is closed before it is accepted."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            raise ValueError("SameOriginValidator guards websocket connections only")
        if not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
