"""End to end in Debian's Chromium: lists update themselves from another tab's work.

The first page of /videos/, the home page and the first page of /chat/ add what
was created elsewhere and drop what was deleted, without a reload; a search
result page stays as it is.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from analysis.models import Video
from conftest import PASSWORD
from testkit.browser import converge, log_in, open_window, pump_until, socket_stats
from testkit.live import rq_worker

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _open(opener, url: str):
    page = open_window(opener, url)
    # Listening before the other tab acts: a push sent earlier is no test of pushes.
    pump_until(page, lambda: socket_stats(page)["opens"] >= 1)
    page.evaluate("window.notReloaded = true")
    return page


def test_lists_show_what_another_tab_uploads_starts_and_deletes(
    live_server_url, browser_page, make_user, clips
):
    make_user("lists@example.com")
    other_tab = browser_page
    log_in(other_tab, live_server_url, "lists@example.com", PASSWORD, next_url="/videos/")
    videos = _open(other_tab, f"{live_server_url}/videos/")
    home = _open(other_tab, f"{live_server_url}/")
    chats = _open(other_tab, f"{live_server_url}/chat/")
    search = _open(other_tab, f"{live_server_url}/videos/?q=short")
    expect(search.locator("#search-results")).to_contain_text("Nothing in your videos matches")

    # Another tab uploads a video: it appears in the list and on the home page, and
    # both follow its analysis to the end.
    with rq_worker("default"):
        other_tab.set_input_files("#upload-files", [str(clips["short"].path)])
        expect(other_tab.locator(".upload-result.accepted")).to_have_count(1)
        for page in (videos, home):
            expect(page.locator(".video-name", has_text="short.mp4")).to_have_count(1, timeout=30_000)
            expect(page.locator('[data-status="done"]')).to_have_count(1, timeout=120_000)
    video = Video.objects.get(original_name="short.mp4")
    assert video.status == Video.Status.DONE

    # Another tab starts a conversation: it appears in the chat list and on the home page.
    other_tab.goto(f"{live_server_url}/chat/")
    other_tab.click("#new-conversation")
    other_tab.wait_for_selector("#composer")
    for page in (chats, home):
        expect(page.locator("#conversation-list li, #home-conversation-list li")).to_have_count(
            1, timeout=30_000
        )

    # Another tab deletes the video: it goes from the list and the home page.
    other_tab.goto(f"{live_server_url}{video.get_absolute_url()}")
    other_tab.on("dialog", lambda dialog: dialog.accept())
    other_tab.click("button:has-text('Delete')")
    other_tab.wait_for_url(f"{live_server_url}/videos/")
    for page in (videos, home):
        expect(page.locator(".video-name", has_text="short.mp4")).to_have_count(0, timeout=30_000)

    for page in (videos, home, chats, search):
        assert page.evaluate("window.notReloaded") is True
        assert socket_stats(page)["errorCloses"] == 0
    for page in (videos, home, chats):
        assert converge(page) == []
    # The search result page was left as it was: no re-read replaced it.
    expect(search.locator("#search-results")).to_contain_text("Nothing in your videos matches")
