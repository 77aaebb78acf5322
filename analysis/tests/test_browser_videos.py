"""End to end in Debian's Chromium: upload two videos, watch them finish live, seek by scene."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from conftest import PASSWORD
from testkit.browser import csp_violations, log_in, wait_until
from testkit.live import rq_worker

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_person_uploads_two_videos_and_seeks_by_scene(live_server_url, browser_page, make_user, clips):
    make_user("viewer@example.com")
    page = browser_page
    log_in(page, live_server_url, "viewer@example.com", PASSWORD, next_url="/videos/")
    page.wait_for_selector("#video-list .empty")

    # No worker yet: both uploads wait in the queue, each with its progress bar.
    page.set_input_files("#upload-files", [str(clips["short"].path), str(clips["other"].path)])
    expect(page.locator(".upload-result.accepted")).to_have_count(2)
    expect(page.locator("#video-list .video-card progress")).to_have_count(2)
    assert page.locator("#video-list .badge-queued").count() == 2
    assert set(page.locator("#video-list .video-name").all_inner_texts()) == {"short.mp4", "other.mp4"}

    # A worker starts; both reach "Done" on this page without a reload.
    page.evaluate("window.notReloaded = true")
    with rq_worker("default"):
        expect(page.locator('#video-list [data-status="done"]')).to_have_count(2, timeout=120_000)
    assert page.evaluate("window.notReloaded") is True
    assert page.locator("#video-list .badge-done").all_inner_texts() == ["Done", "Done"]
    # The list re-read itself once they finished: posters and durations are in.
    expect(page.locator("#video-list .video-thumb img")).to_have_count(2)
    assert page.locator("#video-list .video-thumb img").evaluate_all(
        "imgs => imgs.every(i => i.naturalWidth > 0)"
    )

    page.click("#video-list .video-name:text('short.mp4')")
    page.wait_for_selector(".scenes .scene")
    wait_until(page, "document.getElementById('player').readyState >= 1", timeout=30)
    scene = page.locator(".scenes .scene").nth(2)
    start = float(scene.get_attribute("data-seek"))
    assert start == pytest.approx(clips["short"].cuts[1], abs=0.2)
    scene.click()
    wait_until(page, f"Math.abs(document.getElementById('player').currentTime - {start}) <= 0.5")
    assert page.url.endswith("/")  # seeking did not follow the link's ?t= fallback
    assert page.locator(".chart-svg").count() == 3

    # Re-analyse: the page shows the new analysis once it is done, without a reload.
    page.click("button:has-text('Re-analyse')")
    expect(page.locator(".badge-queued")).to_have_count(1)
    page.evaluate("window.notReloaded = true")
    with rq_worker("low"):
        expect(page.locator(".history tbody tr")).to_have_count(2, timeout=120_000)
    assert page.evaluate("window.notReloaded") is True
    expect(page.locator(".badge-done")).to_have_count(2)  # the status and the "shown" mark

    # Delete, after confirming: back to the list, which has the other video only.
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Delete')")
    page.wait_for_url(f"{live_server_url}/videos/")
    expect(page.locator("#messages")).to_contain_text("Deleted “short.mp4”")
    assert page.locator("#video-list .video-name").all_inner_texts() == ["other.mp4"]
    assert csp_violations(page) == []
