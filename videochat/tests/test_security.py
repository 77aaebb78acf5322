"""Security baseline: headers on every page and a clean `check --deploy`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from conftest import PASSWORD

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


# --- a failed CSRF check ------------------------------------------------------

CSRF_SENTENCE = "The page was open for too long, or your browser is blocking cookies for this site."


@pytest.fixture
def stale_page(owner):
    """A logged-in browser whose form lost its CSRF token (Django's test client skips the check)."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    return browser


def delete_account(browser: Client, **headers: str):
    return browser.post(reverse("accounts:delete"), {"password": PASSWORD}, headers=headers)


def test_a_failed_csrf_check_gets_our_page_with_a_way_back(stale_page, owner):
    came_from = "http://testserver/accounts/profile/?tab=danger"
    response = delete_account(stale_page, Referer=came_from)

    assert response.status_code == 403
    html = response.content.decode()
    assert '<a class="brand" href="/">VideoChat</a>' in html  # the site's own page, with its header
    assert CSRF_SENTENCE in html
    assert "Reload the page and try again." in html
    assert f'<a href="{came_from}">Back to the page</a>' in html
    assert "CSRF verification failed" not in html  # not Django's page
    assert User.objects.filter(pk=owner.pk).exists()  # the form was not acted on


@pytest.mark.parametrize(
    "referer",
    ["https://evil.example/accounts/profile/", "javascript:alert(1)", "//evil.example/", ""],
    ids=["other-site", "script", "scheme-relative", "none"],
)
def test_a_failed_csrf_check_leads_home_from_anywhere_else(stale_page, owner, referer):
    response = delete_account(stale_page, **({"Referer": referer} if referer else {}))
    assert response.status_code == 403
    html = response.content.decode()
    assert '<a href="/">Go to the home page</a>' in html
    assert "evil.example" not in html
    assert "javascript:" not in html
    assert User.objects.filter(pk=owner.pk).exists()


def test_a_failed_csrf_check_answers_htmx_with_a_fragment(stale_page, owner):
    response = delete_account(
        stale_page, **{"HX-Request": "true", "Referer": "http://testserver/accounts/profile/"}
    )
    assert response.status_code == 403
    html = response.content.decode()
    assert 'id="csrf-failed"' in html
    assert CSRF_SENTENCE in html
    assert 'href="http://testserver/accounts/profile/"' in html
    assert "<html" not in html
    assert User.objects.filter(pk=owner.pk).exists()


def test_a_failed_csrf_check_answers_json_clients_in_json(stale_page, owner):
    # The chat composer uploads with Accept: application/json and shows the "error" it gets.
    response = stale_page.post(reverse("analysis:video-upload"), {}, headers={"Accept": "application/json"})
    assert response.status_code == 403
    assert response.json() == {
        "error": f"{CSRF_SENTENCE} Reload the page and try again.",
        "code": "csrf_failed",
    }


def test_a_form_with_its_token_still_goes_through(owner):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    page = browser.get(reverse("accounts:profile"))
    token = page.context["csrf_token"]
    response = browser.post(reverse("accounts:delete"), {"password": PASSWORD, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert not User.objects.filter(pk=owner.pk).exists()
