"""The API's docs in Debian's Chromium: Swagger UI and ReDoc from our own static files, under our CSP, offline."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from conftest import PASSWORD
from testkit.browser import csp_violations, log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def offline_and_logged_in(page, live_server_url: str) -> list[str]:
    """Log in, with no network but the server: any other request (a CDN, a validator
    badge, a font, a logo) is refused and noted in the list returned."""
    ours = urlsplit(live_server_url).netloc
    elsewhere: list[str] = []

    def offline(route):
        if urlsplit(route.request.url).netloc != ours:
            elsewhere.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    page.route("**/*", offline)
    log_in(page, live_server_url, "reader@example.com", PASSWORD)
    return elsewhere


def open_offline(page, live_server_url: str, path: str) -> tuple[list[str], str]:
    """Log in offline (as above), open `path`; the requests sent elsewhere so far, and its CSP."""
    elsewhere = offline_and_logged_in(page, live_server_url)
    response = page.goto(f"{live_server_url}{path}")
    assert response.status == 200
    return elsewhere, response.headers["content-security-policy"]


def assert_clean(page, elsewhere: list[str]) -> None:
    """Nothing was fetched from elsewhere, nothing refused by the CSP, no error in the console."""
    assert elsewhere == []
    assert csp_violations(page) == []
    assert not [m for m in page.console_messages if m.startswith("error")], page.console_messages


def test_the_docs_render_offline_under_the_csp_and_call_the_api(live_server_url, browser_page, make_user):
    make_user("reader@example.com")
    page = browser_page
    elsewhere, csp = open_offline(page, live_server_url, "/api/v1/docs")
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    operations = page.locator(".opblock")
    expect(operations).to_have_count(16, timeout=30_000)
    assert "VideoChat API" in page.locator(".info .title").inner_text()

    # Try one out with the browser's session: Swagger UI sends it, and shows the answer.
    listing = page.locator("#operations-videos-api_videos_video_list")
    listing.locator(".opblock-summary").click()
    listing.locator(".try-out__btn").click()
    listing.locator(".execute").click()
    expect(listing.locator(".live-responses-table tbody .response-col_status").first).to_have_text(
        "200", timeout=15_000
    )
    assert '"items"' in listing.locator(".live-responses-table .microlight").first.inner_text()

    assert_clean(page, elsewhere)


def test_redoc_renders_offline_under_the_csp(live_server_url, browser_page, make_user):
    make_user("reader@example.com")
    page = browser_page
    elsewhere, csp = open_offline(page, live_server_url, "/api/v1/redoc")
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src")).split()
    assert script_src == ["script-src", "'self'"]
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp

    expect(page.locator(".api-info h1")).to_contain_text("VideoChat API", timeout=30_000)
    operations = page.locator("[data-section-id^='operation/']")
    expect(operations).to_have_count(16, timeout=30_000)
    listing = page.locator("[data-section-id='operation/api_videos_video_list']")
    expect(listing.locator("h2")).to_be_visible()

    # Its search runs in a worker (from a blob:, which this page alone allows).
    page.fill("input.search-input", "transcript")
    expect(page.locator("[data-role='search:results'] li").first).to_be_visible(timeout=15_000)

    assert_clean(page, elsewhere)
