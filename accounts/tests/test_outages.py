"""Logging in and signing up while Redis is down: a 503 that says so, the form not processed."""

import pytest
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.urls import reverse

from accounts.models import User
from conftest import PASSWORD
from core.tests.test_outages import UNAVAILABLE, redis_down

LOGIN = reverse("accounts:login")
SIGNUP = reverse("accounts:signup")
pytestmark = pytest.mark.django_db


@pytest.fixture
def auth_signals():
    """Every log-in and failed log-in attempt Django's auth records."""
    seen = []

    def record(sender, **kwargs):
        seen.append(kwargs.get("user") or kwargs.get("credentials"))

    user_logged_in.connect(record, dispatch_uid="test-outages-logged-in")
    user_login_failed.connect(record, dispatch_uid="test-outages-login-failed")
    yield seen
    user_logged_in.disconnect(dispatch_uid="test-outages-logged-in")
    user_login_failed.disconnect(dispatch_uid="test-outages-login-failed")


def test_it_does_not_process_a_log_in_while_redis_is_down(client, owner, auth_signals):
    with redis_down():
        right = client.post(LOGIN, {"username": owner.email, "password": PASSWORD})
        wrong = client.post(LOGIN, {"username": owner.email, "password": "wrong"})
    for response in (right, wrong):
        assert response.status_code == 503
        assert response["Retry-After"] == "30"
        assert "<strong>Logging in cannot be done right now.</strong>" in response.content.decode()
        assert UNAVAILABLE in response.content.decode()
    assert auth_signals == []  # neither password was even checked
    owner.refresh_from_db()
    assert owner.last_login is None


def test_it_does_not_sign_up_while_redis_is_down(client):
    with redis_down():
        response = client.post(
            SIGNUP, {"email": "new@example.com", "password1": PASSWORD, "password2": PASSWORD}
        )
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "<strong>Signing up cannot be done right now.</strong>" in response.content.decode()
    assert not User.objects.filter(email="new@example.com").exists()


def test_it_says_so_before_the_form_is_filled_in(client):
    with redis_down():
        login, signup = client.get(LOGIN), client.get(SIGNUP)
    assert (login.status_code, login["Retry-After"]) == (503, "30")
    assert "Logging in cannot be done right now." in login.content.decode()
    assert 'href="/accounts/login/">Try again' in login.content.decode()
    assert (signup.status_code, signup["Retry-After"]) == (503, "30")
    assert "Signing up cannot be done right now." in signup.content.decode()


def test_it_answers_an_htmx_log_in_with_the_message_fragment(client, owner):
    with redis_down():
        response = client.post(
            LOGIN, {"username": owner.email, "password": PASSWORD}, headers={"HX-Request": "true"}
        )
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    fragment = response.content.decode()
    assert 'id="unavailable"' in fragment
    assert "Logging in cannot be done right now." in fragment
    assert "<html" not in fragment
    assert "Try again" not in fragment  # a POST is not repeated from a link


def test_it_answers_a_json_sign_up_with_json(client):
    with redis_down():
        response = client.post(
            SIGNUP,
            {"email": "new@example.com", "password1": PASSWORD, "password2": PASSWORD},
            headers={"Accept": "application/json"},
        )
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.json() == {
        "error": f"Signing up cannot be done right now. {UNAVAILABLE}",
        "code": "unavailable",
        "retry_after": 30,
    }


def test_it_still_answers_429_over_the_limit_once_redis_is_back(client, owner, settings):
    settings.RATELIMIT_LOGIN_EMAIL = "1/d"
    with redis_down():
        assert client.post(LOGIN, {"username": owner.email, "password": "wrong"}).status_code == 503
    assert client.post(LOGIN, {"username": owner.email, "password": "wrong"}).status_code == 400
    response = client.post(LOGIN, {"username": owner.email, "password": PASSWORD})
    assert response.status_code == 429
    assert b"Too many log-in attempts for this account" in response.content
