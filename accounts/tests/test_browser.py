"""End to end in Debian's Chromium: sign up, log out, log in, errors, rate limit, CSP."""

import pytest

from conftest import PASSWORD
from testkit.browser import csp_violations
from testkit.live import daphne_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_person_signs_up_logs_out_and_logs_back_in(live_server_url, browser_page):
    page = browser_page
    response = page.goto(f"{live_server_url}/accounts/signup/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp

    page.fill("#id_email", "walker@example.com")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("#signup-form button[type=submit]")
    # A new account is welcomed as new, not "back".
    page.wait_for_selector("h1:has-text('Welcome to VideoChat')")
    assert page.url == f"{live_server_url}/"
    assert page.locator("text=Welcome back").count() == 0
    assert page.is_visible("text=walker@example.com")

    # Log out is in the account menu of the header.
    page.click(".account-menu summary")
    page.click("button:has-text('Log out')")
    page.wait_for_selector("text=You are logged out.")
    assert page.is_visible("text=Chat with your videos")

    page.click("a:has-text('Log in')")
    page.fill("#id_username", "Walker@Example.com")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("text=Welcome back")
    # The text shows once the page is parsed; the deferred scripts run just before "load".
    page.wait_for_load_state("load")
    # htmx was live on the page (the form posted through it) and nothing broke the CSP.
    assert page.evaluate("typeof window.htmx") == "object"
    assert csp_violations(page) == []


@pytest.fixture
def day_limited_server_url(transactional_db):
    """The app with the per-email log-in limit counted per day: a minute's window could turn mid-test."""
    with daphne_server(RATELIMIT_LOGIN_EMAIL="5/d") as url:
        yield url


def test_a_wrong_password_shows_the_error_then_the_rate_limit(
    day_limited_server_url, browser_page, make_user
):
    live_server_url = day_limited_server_url
    make_user("victim@example.com")
    page = browser_page
    page.goto(f"{live_server_url}/accounts/login/")
    page.fill("#id_username", "victim@example.com")
    page.fill("#id_password", "not the password")
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("text=That email address and password do not match an account.")

    # Rapid wrong passwords: the per-email limit (5) answers 429.
    for _ in range(6):
        if page.is_visible("#rate-limited"):
            break
        page.fill("#id_password", "still not the password")
        with page.expect_response(lambda r: r.url.endswith("/accounts/login/")):
            page.click("#login-form button[type=submit]")
        page.wait_for_selector("#rate-limited, #login-form:not(.htmx-settling):not(.htmx-request)")
    page.wait_for_selector("#rate-limited")
    assert "Too many log-in attempts" in page.inner_text("#rate-limited")
    assert "try again in" in page.inner_text("#rate-limited")
    assert csp_violations(page) == []
