import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


def test_it_reports_every_part_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "parts": {"database": "up", "redis": "up"}}


def test_it_names_redis_when_it_is_down(client):
    nowhere = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1},
        }
    }
    with override_settings(CACHES=nowhere, SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies"):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["redis"]
    assert body["parts"]["database"] == "up"
    assert body["parts"]["redis"].startswith("down")


def test_it_is_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/accounts/login/").status_code == 301
