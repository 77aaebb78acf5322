"""CORS: off by default; CORS_ALLOWED_ORIGINS opens the API, and only the API, to those origins."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.conf import settings as django_settings

pytestmark = pytest.mark.django_db
ORIGIN = "https://app.example.com"


def preflight(client, path):
    return client.options(
        path,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


def test_no_origin_is_allowed_by_default(api):
    response = api.get("/api/v1/videos", headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Origin" not in preflight(api, "/api/v1/videos")


def test_a_listed_origin_may_call_the_api(api, settings):
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]
    answer = preflight(api, "/api/v1/videos")
    assert answer.status_code == 200
    assert answer["Access-Control-Allow-Origin"] == ORIGIN
    assert "authorization" in answer["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in answer  # tokens, not cookies
    response = api.get("/api/v1/videos", headers={"Origin": ORIGIN})
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "Access-Control-Allow-Origin" not in api.get(
        "/api/v1/videos", headers={"Origin": "https://evil.example"}
    )


def test_the_pages_stay_closed_to_other_origins(owner_client, settings):
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]
    for path in ("/videos/", "/chat/", "/accounts/profile/"):
        assert "Access-Control-Allow-Origin" not in owner_client.get(path, headers={"Origin": ORIGIN})
    assert "Access-Control-Allow-Origin" not in preflight(owner_client, "/videos/upload/")


def _origins(value: str) -> subprocess.CompletedProcess:
    code = "import videochat.settings as s; print(s.CORS_ALLOWED_ORIGINS)"
    env = {"PATH": "/usr/bin:/bin", "DEBUG": "true", "CORS_ALLOWED_ORIGINS": value}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=django_settings.BASE_DIR, env=env, capture_output=True, text=True
    )


def test_the_setting_is_read_from_the_environment():
    result = _origins(f"{ORIGIN}, http://localhost:5173")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str([ORIGIN, "http://localhost:5173"])


@pytest.mark.parametrize("wrong", ["app.example.com", "https://app.example.com/path"])
def test_a_malformed_origin_stops_start_up_naming_the_variable(wrong):
    result = _origins(wrong)
    assert result.returncode != 0
    assert "CORS_ALLOWED_ORIGINS entries must be origins" in result.stderr
