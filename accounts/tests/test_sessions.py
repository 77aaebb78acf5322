"""Sessions live in Redis, with a TTL, and nowhere else."""

import pytest
from django.conf import settings
from django.urls import reverse

from conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _session_redis_key(client) -> str:
    from django.core.cache import cache

    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    return cache.make_key(f"django.contrib.sessions.cache{session_key}")


def test_it_writes_the_session_to_redis_with_a_ttl(client, owner, redis_client):
    client.post(reverse("accounts:login"), {"username": owner.email, "password": PASSWORD})
    key = _session_redis_key(client)
    assert redis_client.exists(key)
    ttl = redis_client.ttl(key)
    assert 0 < ttl <= settings.SESSION_COOKIE_AGE


def test_it_deletes_the_redis_key_on_logout(client, owner, redis_client):
    client.post(reverse("accounts:login"), {"username": owner.email, "password": PASSWORD})
    key = _session_redis_key(client)
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert not redis_client.exists(key)


def test_it_logs_out_a_session_whose_key_is_gone(client, owner, redis_client):
    client.post(reverse("accounts:login"), {"username": owner.email, "password": PASSWORD})
    assert client.get(reverse("accounts:profile")).status_code == 200
    redis_client.delete(_session_redis_key(client))
    response = client.get(reverse("accounts:profile"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_logout_refuses_get(owner_client):
    assert owner_client.get(reverse("accounts:logout")).status_code == 405
    assert owner_client.get(reverse("accounts:profile")).status_code == 200


def test_cookies_are_httponly_lax_and_secure_without_debug(client, owner):
    response = client.post(reverse("accounts:login"), {"username": owner.email, "password": PASSWORD})
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert cookie["secure"]
