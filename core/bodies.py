"""What a request body may be, decided from its headers alone, before any of it is read.

The server (videochat/serving.py) asks three things of a request as soon as
its headers are in:

- `body_limit(path)`: how many bytes its endpoint accepts. Endpoints that
  take files declare it with `@accepts_body(...)`; every other one accepts
  `REQUEST_BODY_MAX_KB`. A larger body is never read.
- whether the endpoint is for members only (`members_only=True`), and if
  so `may_send_body(scope)`: would this request pass the log-in and CSRF
  checks that the view makes (or the endpoint's own `gate`: the API's also
  takes a token)? An anonymous upload, or one whose CSRF check already
  fails, is answered without its body.
- Refused bodies reach Django empty, marked with `REFUSAL_HEADER`, and
  `BodyRefusalMiddleware` answers them with the site's own page (or JSON, or
  an htmx fragment) through the whole middleware stack: security headers and
  CSP included.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve

from core.http import came_from, json_error, wants_json

logger = logging.getLogger(__name__)

# Set only by the server; a client's own header of that name is removed first.
REFUSAL_HEADER = "X-VideoChat-Refusal"
_BODY_HEADERS = {b"content-length", b"transfer-encoding"}
TOO_LARGE = "too-large"
TIMED_OUT = "timed-out"


@dataclass(frozen=True)
class BodyLimit:
    max_bytes: Callable[[], int]
    members_only: bool = False
    what: str = "request"
    # For members_only: would the view let this request's body in? Given a request
    # with its headers only (see may_send_body); the session and CSRF check if unset.
    gate: Callable[[HttpRequest], bool] | None = None


def default_limit() -> BodyLimit:
    return BodyLimit(max_bytes=lambda: settings.REQUEST_BODY_MAX_KB * 1024)


def accepts_body(
    *,
    max_bytes: Callable[[], int],
    members_only: bool = False,
    what: str = "request",
    gate: Callable[[HttpRequest], bool] | None = None,
):
    """Declare what an endpoint's body may be (read per request, so changed settings apply)."""

    def decorate(view):
        view.body_limit = BodyLimit(max_bytes=max_bytes, members_only=members_only, what=what, gate=gate)
        return view

    return decorate


def body_limit(path: bytes) -> BodyLimit:
    """The limit of the endpoint a request line's path (with its query) goes to."""
    try:
        return _limit_of(unquote(path.split(b"?", 1)[0].decode("latin-1")))
    except (UnicodeDecodeError, ValueError):
        return default_limit()


def _limit_of(path: str) -> BodyLimit:
    try:
        match = resolve(path)
    except (Resolver404, ValueError):
        return default_limit()
    return getattr(match.func, "body_limit", None) or default_limit()


def may_send_body(scope: dict) -> bool:
    """Would the view let this request's body in? Asked of the endpoint's gate.

    The request the gate gets has the headers only: Django must see no body,
    or it would try to parse it.
    """
    from django.core.handlers.asgi import ASGIRequest
    from django.db import connections

    try:
        headers = [(name, value) for name, value in scope["headers"] if name not in _BODY_HEADERS]
        request = ASGIRequest({**scope, "headers": [*headers, (b"content-length", b"0")]}, io.BytesIO())
        gate = _limit_of(scope["path"]).gate or session_may_send
        return gate(request)
    except DisallowedHost:
        return False
    finally:
        connections.close_all()


def session_may_send(request: HttpRequest) -> bool:
    """Does this request's session and CSRF check pass? Checked with Django's own middleware.

    False for an anonymous user and for a request whose CSRF check fails
    already on its headers: a wrong X-CSRFToken, no CSRF cookie, a foreign
    Origin or Referer. A token sent in the body (a form posted without
    JavaScript) cannot be checked yet; the view checks it once it has read
    the body.
    """
    from django.contrib.auth.middleware import AuthenticationMiddleware
    from django.contrib.sessions.middleware import SessionMiddleware
    from django.middleware.csrf import CsrfViewMiddleware

    def nothing(request: HttpRequest) -> HttpResponse:
        return HttpResponse()

    SessionMiddleware(nothing).process_request(request)
    AuthenticationMiddleware(nothing).process_request(request)
    if not request.user.is_authenticated:
        return False
    csrf = CsrfViewMiddleware(nothing)
    csrf.process_request(request)
    header = settings.CSRF_HEADER_NAME
    if header not in request.META:
        # Check all but the token: as if it were the cookie's own.
        request.META[header] = request.META.get("CSRF_COOKIE") or ""
    return csrf.process_view(request, nothing, (), {}) is None


class BodyRefusalMiddleware:
    """Answers a request whose body the server refused (the innermost middleware)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = request.headers.get(REFUSAL_HEADER)
        if refusal == TOO_LARGE:
            return refused(request, status=413, message=_too_large_message(request))
        if refusal == TIMED_OUT:
            return refused(request, status=408, message=_timed_out_message())
        return self.get_response(request)


def refused(request: HttpRequest, *, status: int, message: str) -> HttpResponse:
    if wants_json(request):
        response = json_error(status, "too_large" if status == 413 else "timed_out", message)
    else:
        template = "body_refused.html#message" if getattr(request, "htmx", False) else "body_refused.html"
        title = "Too large" if status == 413 else "Upload stopped"
        context = {"title": title, "message": message, "came_from": came_from(request)}
        response = render(request, template, context, status=status)
    return response


def _too_large_message(request: HttpRequest) -> str:
    limit = body_limit(request.path.encode())
    if limit.what == "upload":
        return (
            f"This upload is too large. You can upload at most {settings.MAX_FILES_PER_UPLOAD} "
            f"files of up to {settings.MAX_UPLOAD_MB} MB each at a time."
        )
    return f"This request is too large: the limit is {_size_words(limit.max_bytes())}."


def _timed_out_message() -> str:
    return (
        f"Nothing arrived for {settings.REQUEST_BODY_TIMEOUT} seconds, so the upload was "
        "stopped and nothing of it was kept. Check your connection and try again."
    )


def _size_words(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):g} MB"
    return f"{max(1, size // 1024)} KB"
