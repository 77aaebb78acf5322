"""Outages get a 503, not a 500 (core/outages.py).

In-process with the test client where a setting can take a part away (Redis:
the cache pointed at a port nobody listens on), and through a real Daphne
started with REDIS_URL or DATABASE_URL pointing nowhere.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import urllib.error
import urllib.request
from contextlib import contextmanager
from urllib.parse import urlencode

import pytest
import redis
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.cache import SessionStore
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.cache import caches
from django.core.handlers.exception import convert_exception_to_response
from django.db.utils import ConnectionHandler, OperationalError
from django.http import HttpResponse
from django.test import RequestFactory, override_settings
from django_redis.exceptions import ConnectionInterrupted

from accounts.models import User
from conftest import PASSWORD
from core.outages import DATABASE, REDIS, OutageMiddleware, PartDown, part_down
from core.ratelimits import limit_exceeded
from testkit.live import daphne_process, free_port

UNAVAILABLE = "Part of VideoChat is down for a moment. Please try again in 30 seconds."
PAGE_UNAVAILABLE = "This page cannot be shown right now."
A_SESSION_KEY = "a" * 32  # well formed, so Django looks it up in the store


def _nowhere() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


@contextmanager
def redis_down(**more_settings):
    """The cache (and so sessions, rate limits, the health check) on a port nobody listens on."""
    cache = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": _nowhere(),
        "KEY_PREFIX": "vc",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1},
    }
    with override_settings(CACHES={"default": cache}, **more_settings):
        yield


def _deletes_session_cookie(response) -> bool:
    morsel = response.cookies.get("sessionid")
    return morsel is not None and str(morsel["max-age"]) == "0"


# --- The answer ------------------------------------------------------------


@pytest.mark.django_db
def test_it_answers_a_logged_in_page_503_and_keeps_the_session(owner_client):
    with redis_down():
        response = owner_client.get("/videos/")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    assert "<html" in page
    assert PAGE_UNAVAILABLE in page
    assert UNAVAILABLE in page
    assert 'href="/videos/">Try again' in page
    # Django's cache sessions read an unreachable Redis as "no session": the user
    # would have been sent to log in and their cookie deleted.
    assert not _deletes_session_cookie(response)
    assert owner_client.get("/videos/").status_code == 200


@pytest.mark.django_db
def test_it_answers_a_url_that_does_not_resolve_503_rather_than_dropping_the_session(owner_client):
    # The 404 page reads the session, which raises; a server answers, the test client would re-raise.
    owner_client.raise_request_exception = False
    with redis_down():
        response = owner_client.get("/no-such-page/")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert PAGE_UNAVAILABLE in response.content.decode()
    assert not _deletes_session_cookie(response)
    assert owner_client.get("/videos/").status_code == 200


@pytest.mark.django_db
def test_it_serves_a_page_that_needs_neither_part(client):
    with redis_down():
        response = client.get("/")
    assert response.status_code == 200
    assert b"Log in" in response.content


@pytest.mark.django_db
def test_it_answers_json_to_a_client_that_asks_for_it(owner_client):
    with redis_down():
        response = owner_client.get("/videos/", headers={"Accept": "application/json"})
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": f"{PAGE_UNAVAILABLE} {UNAVAILABLE}",
        "code": "unavailable",
        "retry_after": 30,
    }


@pytest.mark.django_db
def test_it_answers_htmx_with_the_message_fragment(owner_client):
    with redis_down():
        response = owner_client.get("/videos/", headers={"HX-Request": "true"})
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    fragment = response.content.decode()
    assert 'id="unavailable"' in fragment
    assert PAGE_UNAVAILABLE in fragment
    assert "<html" not in fragment


@pytest.mark.django_db
def test_it_takes_retry_after_from_the_setting(owner_client, settings):
    settings.OUTAGE_RETRY_AFTER = 90
    with redis_down():
        response = owner_client.get("/videos/", headers={"Accept": "application/json"})
    assert response.status_code == 503
    assert response["Retry-After"] == "90"
    assert response.json()["retry_after"] == 90
    assert "try again in 90 seconds" in response.json()["error"]


@pytest.mark.django_db
def test_it_logs_one_warning_naming_the_part(owner_client, caplog):
    with redis_down(), caplog.at_level(logging.WARNING):
        owner_client.get("/videos/")
    records = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(records) == 1
    assert records[0].levelname == "WARNING"
    assert records[0].getMessage().startswith("redis is down, answered 503: GET /videos/ (")
    assert records[0].exc_info is None


@pytest.mark.django_db
def test_it_leaves_healthz_its_own_answer(owner_client):
    with redis_down():
        response = owner_client.get("/healthz")
    assert response.status_code == 503
    assert "Retry-After" not in response
    body = response.json()
    assert body["down"] == ["redis"]
    assert body["parts"]["database"] == "up"


def _view_that_writes_the_session(request):
    request.session["seen"] = True
    return HttpResponse("ok")


def _stack():
    """The outage middleware around SessionMiddleware, wrapped the way Django wraps each middleware."""
    return OutageMiddleware(convert_exception_to_response(SessionMiddleware(_view_that_writes_the_session)))


@pytest.mark.django_db
def test_it_answers_503_for_an_outage_inside_another_middleware():
    # Saving the session fails inside SessionMiddleware; Django makes that a 500
    # before the outage middleware sees anything.
    with redis_down():
        response = _stack()(RequestFactory().get("/somewhere/"))
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert PAGE_UNAVAILABLE in response.content.decode()


@pytest.mark.django_db
def test_it_passes_answers_through_while_every_part_is_up(redis_client):
    response = _stack()(RequestFactory().get("/somewhere/"))
    assert response.status_code == 200
    key = response.cookies["sessionid"].value
    assert SessionStore(key).load() == {"seen": True}


# --- Which errors are an outage -------------------------------------------


def test_it_counts_redis_refusing_connections_as_redis_down():
    with pytest.raises(redis.exceptions.ConnectionError) as raw:
        redis.Redis.from_url(_nowhere(), socket_connect_timeout=1).ping()
    assert part_down(raw.value) == REDIS
    # django-redis raises its ConnectionInterrupted, or (closing the broken
    # connection) redis-py's ConnectionError again.
    with redis_down(), pytest.raises((ConnectionInterrupted, redis.exceptions.ConnectionError)) as wrapped:
        caches["default"].set("anything", 1)
    assert part_down(wrapped.value) == REDIS
    assert part_down(ConnectionInterrupted(None)) is None  # without a connection error behind it


def _connection(**database):
    """A connection of its own, beside the test database's."""
    return ConnectionHandler({"default": database})["default"]


def test_it_counts_a_refused_database_connection_as_the_database_down(django_db_blocker):
    database = _connection(
        ENGINE="django.db.backends.postgresql", NAME="x", USER="postgres", HOST="127.0.0.1", PORT=free_port()
    )
    with django_db_blocker.unblock(), pytest.raises(OperationalError) as refused:
        database.ensure_connection()
    assert part_down(refused.value) == DATABASE


def test_it_counts_a_locked_sqlite_database_as_down_but_not_a_missing_table(django_db_blocker, tmp_path):
    path = tmp_path / "locked.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (n INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    database = _connection(ENGINE="django.db.backends.sqlite3", NAME=str(path), OPTIONS={"timeout": 0})
    try:
        with django_db_blocker.unblock():
            with pytest.raises(OperationalError) as locked, database.cursor() as cursor:
                cursor.execute("INSERT INTO t VALUES (1)")
            with pytest.raises(OperationalError) as missing, database.cursor() as cursor:
                cursor.execute("SELECT * FROM no_such_table")
    finally:
        database.close()
        holder.close()
    assert "locked" in str(locked.value)
    assert part_down(locked.value) == DATABASE
    assert part_down(missing.value) is None


def test_it_leaves_other_errors_to_be_500s():
    assert part_down(ValueError("a bug")) is None
    assert part_down(OSError("not ours to judge")) is None


# --- The rate limiter's failure mode --------------------------------------


def _post():
    return RequestFactory().post("/accounts/login/", {"username": "someone@example.com"})


def test_it_raises_part_down_when_the_limiter_cannot_reach_redis():
    with redis_down(), pytest.raises(PartDown) as down:
        limit_exceeded(_post(), group="login-ip", key="ip", rate="5/m")
    assert down.value.part == REDIS
    assert "login-ip" in str(down.value)


def test_it_raises_part_down_when_django_redis_swallows_the_error():
    # Told to ignore errors, django-redis answers None and django-ratelimit's count
    # stays empty; before, that read as "over the limit" (a 429 "wait 1 second").
    with redis_down(DJANGO_REDIS_IGNORE_EXCEPTIONS=True), pytest.raises(PartDown) as down:
        limit_exceeded(_post(), group="login-ip", key="ip", rate="5/m")
    assert down.value.part == REDIS


def test_it_still_counts_when_redis_is_up():
    assert limit_exceeded(_post(), group="login-ip", key="ip", rate="2/m") is None
    assert limit_exceeded(_post(), group="login-ip", key="ip", rate="2/m") is None
    assert limit_exceeded(_post(), group="login-ip", key="ip", rate="2/m") >= 1


# --- A real Daphne with a part down ---------------------------------------


@contextmanager
def _daphne(**env_overrides: str):
    """Daphne with a part down: ready when /healthz answers at all (a 503, not the 200 of a whole app)."""
    with daphne_process(any_answer=True, **env_overrides) as (base_url, _process):
        yield base_url


CSRF = "c" * 32  # a CSRF secret of the right form; the cookie and the field must match


def _fetch(url: str, *, form: dict | None = None, headers: dict | None = None, session: str | None = None):
    """(status, headers, body) of one request, whatever its status."""
    cookies = [f"csrftoken={CSRF}"] + ([f"sessionid={session}"] if session else [])
    data = urlencode({"csrfmiddlewaretoken": CSRF, **form}).encode() if form is not None else None
    request = urllib.request.Request(  # noqa: S310 (our own http:// URL)
        url, data=data, headers={"Cookie": "; ".join(cookies), **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def _assert_unavailable(answer, headline: str) -> None:
    status, headers, body = answer
    assert status == 503, body[:2000]
    assert headers["Retry-After"] == "30"
    assert f"<strong>{headline}</strong>" in body
    assert UNAVAILABLE in body
    assert not any(cookie.startswith("sessionid=") for cookie in headers.get_all("Set-Cookie") or [])


SIGNUP = {"email": "new@example.com", "password1": PASSWORD, "password2": PASSWORD}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_answers_503_through_daphne_while_redis_is_down(owner):
    with _daphne(REDIS_URL=_nowhere()) as base:
        _assert_unavailable(_fetch(f"{base}/accounts/login/"), "Logging in cannot be done right now.")
        login = {"username": owner.email, "password": PASSWORD}
        _assert_unavailable(
            _fetch(f"{base}/accounts/login/", form=login), "Logging in cannot be done right now."
        )
        _assert_unavailable(
            _fetch(f"{base}/accounts/signup/", form=SIGNUP), "Signing up cannot be done right now."
        )
        _assert_unavailable(_fetch(f"{base}/", session=A_SESSION_KEY), PAGE_UNAVAILABLE)
        status, headers, body = _fetch(f"{base}/accounts/login/", headers={"Accept": "application/json"})
        assert (status, headers["Retry-After"]) == (503, "30")
        assert json.loads(body) == {
            "error": f"Logging in cannot be done right now. {UNAVAILABLE}",
            "code": "unavailable",
            "retry_after": 30,
        }
        status, _, body = _fetch(f"{base}/healthz")
    assert status == 503
    assert json.loads(body)["down"] == ["redis"]
    owner.refresh_from_db()
    assert owner.last_login is None
    assert not User.objects.filter(email=SIGNUP["email"]).exists()


def _a_session_for_user_1() -> str:
    session = SessionStore()
    session.update(
        {
            SESSION_KEY: "1",
            BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
            HASH_SESSION_KEY: "x",
        }
    )
    session.save()
    return session.session_key


@pytest.mark.slow
def test_it_answers_503_through_daphne_while_the_database_is_down():
    session = _a_session_for_user_1()  # in Redis, which is up; reading its user needs the database
    with _daphne(DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/x") as base:
        _assert_unavailable(_fetch(f"{base}/", session=session), PAGE_UNAVAILABLE)
        _assert_unavailable(_fetch(f"{base}/videos/", session=session), PAGE_UNAVAILABLE)
        login = {"username": "owner@example.com", "password": PASSWORD}
        _assert_unavailable(
            _fetch(f"{base}/accounts/login/", form=login), "Logging in cannot be done right now."
        )
        _assert_unavailable(
            _fetch(f"{base}/accounts/signup/", form=SIGNUP), "Signing up cannot be done right now."
        )
        status, headers, body = _fetch(
            f"{base}/videos/", session=session, headers={"Accept": "application/json"}
        )
        assert (status, headers["Retry-After"]) == (503, "30")
        assert json.loads(body) == {
            "error": f"{PAGE_UNAVAILABLE} {UNAVAILABLE}",
            "code": "unavailable",
            "retry_after": 30,
        }
        status, _, body = _fetch(f"{base}/healthz")
    assert status == 503
    assert json.loads(body)["down"] == ["database"]
    assert json.loads(body)["parts"]["redis"] == "up"
