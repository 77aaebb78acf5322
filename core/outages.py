"""Outages get a 503, not a 500: "a part we depend on is down" as an answer.

The parts are Redis (cache, sessions, rate limits, queue) and the database.
When one of them cannot be reached, `OutageMiddleware` answers 503 with a
Retry-After of `OUTAGE_RETRY_AFTER` seconds: a page, the page's message as an
htmx fragment, or JSON for a client that asked for it. It logs one warning
line naming the part, not a traceback per request.

How the middleware sees an outage, and why in three places:

- `process_exception`: the view (and the templates it renders) raised. That is
  where SessionMiddleware and AuthenticationMiddleware actually touch Redis and
  the database: the session and `request.user` are lazy, read on first use.
- `process_view`: views marked with `needs(...)` check their parts before
  they run, so a form that cannot work says so before anyone fills it in.
  (Reading a session from an unreachable Redis raises, rather than reading as
  an empty session and logging the user out: core/sessions.py.)
- `__call__`, after the inner middleware: Django turns an exception raised in
  any middleware into a 500 response before the middleware around it sees it,
  so wrapping `get_response` in a try catches nothing from, say,
  SessionMiddleware saving a session. A 500 that comes back while a part is
  down (checked only then) is answered as that outage instead, and so is a
  response deleting the session cookie while Redis is down.

`/healthz` is `exempt`: it reports the parts itself, in its own JSON.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import redis.exceptions
from django.conf import settings
from django.db import connection
from django.db.utils import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.cache import add_never_cache_headers
from django.utils.log import log_response
from django_redis import get_redis_connection
from django_redis.exceptions import ConnectionInterrupted

from core.http import json_error, wants_json

REDIS = "redis"
DATABASE = "database"

# What redis-py raises when it cannot reach the server or it stops answering
# (BusyLoadingError and AuthenticationError are ConnectionErrors too).
_REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)

# SQLite result codes (the low byte of the extended code) that mean "not now"
# rather than "wrong": busy, locked (the 20 s lock timeout ran out), I/O error,
# cannot open the file. "no such table" and syntax errors are OperationalErrors
# too, but they are bugs and stay 500s.
_SQLITE_DOWN = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN}
# Postgres SQLSTATE classes of the same kind: 08 connection exception, 53
# insufficient resources (too many connections), 57 operator intervention
# (shutting down, starting up, statement timeout); and 55P03, lock timeout.
# Deadlocks and serialization failures (class 40) stay 500s: they point at our
# own locking.
_POSTGRES_DOWN_CLASSES = {"08", "53", "57"}
_POSTGRES_DOWN_STATES = {"55P03"}


class PartDown(Exception):
    """A part we depend on cannot be used right now; the middleware answers 503."""

    def __init__(self, part: str, reason: str = "") -> None:
        super().__init__(f"{part} is down" + (f": {reason}" if reason else ""))
        self.part = part
        self.reason = reason


def part_down(exc: BaseException) -> str | None:
    """The part an exception says is down ("redis", "database"), or None for any other error."""
    if isinstance(exc, PartDown):
        return exc.part
    if isinstance(exc, _REDIS_DOWN):
        return REDIS
    # django-redis wraps redis-py's errors, including a ResponseError (a bug, not an outage).
    if isinstance(exc, ConnectionInterrupted) and isinstance(exc.__cause__, _REDIS_DOWN):
        return REDIS
    if isinstance(exc, InterfaceError):  # the connection is closed or unusable
        return DATABASE
    if isinstance(exc, OperationalError) and _database_unavailable(exc.__cause__ or exc):
        return DATABASE
    return None


def _database_unavailable(error: BaseException) -> bool:
    """Whether the driver's OperationalError means "cannot serve us now" (Django keeps it as __cause__)."""
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        return code is not None and code & 0xFF in _SQLITE_DOWN
    sqlstate = getattr(error, "sqlstate", None)  # psycopg
    if sqlstate is None:
        # psycopg raised it itself, not the server: connecting failed or the connection was lost.
        return True
    return sqlstate[:2] in _POSTGRES_DOWN_CLASSES or sqlstate in _POSTGRES_DOWN_STATES


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_redis() -> None:
    get_redis_connection("default").ping()


_CHECKS: dict[str, Callable[[], None]] = {DATABASE: _check_database, REDIS: _check_redis}


def part_states() -> dict[str, str]:
    """Each part, "up" or "down: <error>"; what /healthz reports."""
    states = {}
    for part, check in _CHECKS.items():
        try:
            check()
            states[part] = "up"
        except Exception as exc:  # any failure means "down"; say which
            states[part] = f"down: {type(exc).__name__}"
    return states


def needs(*parts: str, action: str | None = None):
    """Mark a view that needs `parts` up to be of any use, and say what it does.

    The middleware checks the parts before the view runs (so the log-in form
    is not offered while logging in cannot work), and the 503 page says
    "<action> cannot be done right now" whichever part fails.
    """
    unknown = set(parts) - set(_CHECKS)
    if unknown:
        raise ValueError(f"unknown parts: {sorted(unknown)}")

    def decorate(view):
        view.outage_needs = parts
        view.outage_action = action
        return view

    return decorate


def exempt(view):
    """Leave a view's answers alone during outages (/healthz reports them itself)."""
    view.outage_exempt = True
    return view


class OutageMiddleware:
    """Answer 503 when Redis or the database is down; see the module docstring.

    Sits just inside SecurityMiddleware and WhiteNoise (which touch neither
    part), so its answers still get the security headers and static files
    never wait on a probe.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if _view_flag(request, "outage_exempt"):
            return response
        if response.status_code == 500:
            suspects = list(_CHECKS)
        elif _deletes_session_cookie(request, response):
            # Also what a session that could not be read looks like where process_view did
            # not run (a URL that does not resolve): a lost session is not a logout.
            suspects = [REDIS]
        else:
            return response
        for part in suspects:
            try:
                _CHECKS[part]()
            except Exception as exc:
                if part_down(exc) is not None:
                    return unavailable(request, exc)
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        if getattr(view_func, "outage_exempt", False):
            return None
        try:
            for part in getattr(view_func, "outage_needs", ()):
                _CHECKS[part]()
        except Exception as exc:
            if part_down(exc) is None:
                raise
            return unavailable(request, exc)
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if part_down(exception) is None or _view_flag(request, "outage_exempt"):
            return None
        return unavailable(request, exception)


def _deletes_session_cookie(request: HttpRequest, response: HttpResponse) -> bool:
    name = settings.SESSION_COOKIE_NAME
    morsel = response.cookies.get(name)
    return name in request.COOKIES and morsel is not None and str(morsel["max-age"]) == "0"


def _view_flag(request: HttpRequest, name: str):
    match = getattr(request, "resolver_match", None)
    return getattr(match.func, name, None) if match else None


def unavailable(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """The 503 for an outage: JSON, the htmx fragment or the page; logs one warning line.

    Rendered without the request, so no context processor runs: nothing here
    reads `request.user`, the session or the CSRF token, which may be what is
    down. That is also why 503.html does not extend base.html.
    """
    part = part_down(exc) or "a part"
    retry_after = settings.OUTAGE_RETRY_AFTER
    action = _view_flag(request, "outage_action")
    if action:
        headline = f"{action} cannot be done right now."
    elif request.method in ("GET", "HEAD"):
        headline = "This page cannot be shown right now."
    else:
        headline = "This cannot be done right now."
    seconds = f"{retry_after} second{'s' if retry_after != 1 else ''}"
    detail = f"Part of VideoChat is down for a moment. Please try again in {seconds}."
    if wants_json(request):
        response = json_error(503, "unavailable", f"{headline} {detail}", retry_after=retry_after)
    else:
        context = {
            "headline": headline,
            "detail": detail,
            # A form's POST is not repeated from a link; its page is one step back.
            "again": request.get_full_path() if request.method == "GET" else None,
        }
        template = "503.html#message" if getattr(request, "htmx", False) else "503.html"
        response = HttpResponse(render_to_string(template, context), status=503)
    response["Retry-After"] = str(retry_after)
    add_never_cache_headers(response)
    reason = exc.reason if isinstance(exc, PartDown) and exc.reason else f"{type(exc).__name__}: {exc}"
    # Django's own log line for this response is then skipped (log_response marks it logged).
    log_response(
        "%s is down, answered 503: %s %s (%s)",
        part,
        request.method,
        request.path,
        " ".join(reason.split()),
        response=response,
        request=request,
        level="warning",
    )
    return response
