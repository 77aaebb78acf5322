"""Security baseline: headers on every page and a clean `check --deploy`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent.parent
pytestmark = pytest.mark.django_db


def test_pages_carry_a_strict_csp_and_safe_headers(client):
    response = client.get("/accounts/login/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_pages_have_no_inline_script(client, owner_client):
    for c in (client, owner_client):
        html = c.get("/").content.decode()
        assert "<script>" not in html
        for chunk in html.split("<script")[1:]:
            assert chunk.split(">", 1)[0].strip().startswith("src="), chunk[:80]


def test_htmx_is_told_not_to_inject_styles(client):
    html = client.get("/").content.decode()
    assert '"includeIndicatorStyles": false' in html
    assert "hx-headers" in html
    assert "X-CSRFToken" in html


def test_check_deploy_is_clean_with_production_settings():
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SECURE_")}
    environ.update(
        DEBUG="false",
        SECRET_KEY="p" * 20 + "-production-grade-secret-key-0123456789",
        ALLOWED_HOSTS="videochat.example.com",
        CSRF_TRUSTED_ORIGINS="https://videochat.example.com",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues (0 silenced)" in result.stdout
