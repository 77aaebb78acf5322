"""End to end in Debian's Chromium: a whole conversation about an uploaded video."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from conftest import PASSWORD
from testkit.browser import csp_violations, log_in, wait_until
from testkit.live import rq_worker

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_person_asks_about_a_video_and_follows_a_time_link(live_server_url, browser_page, make_user, clips):
    make_user("talker@example.com")
    page = browser_page
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))

    log_in(page, live_server_url, "talker@example.com", PASSWORD, next_url="/chat/")
    page.click("#new-conversation")
    page.wait_for_selector("#composer")

    with rq_worker("high", "default", "low"):
        # Attach a new video through the composer: it uploads with its own progress bar
        # (the same client as /videos/), and the accepted video joins the message.
        page.click(".attach-picker summary")
        page.set_input_files("[data-attach-input]", [str(clips["short"].path)])
        accepted = page.locator("#attach-queue .upload-result.accepted")
        expect(accepted).to_have_count(1, timeout=30_000)
        attached = page.locator("#composer-attachments input[name=videos]")
        expect(attached).to_have_count(1)
        assert attached.get_attribute("value") == accepted.get_attribute("data-video")

        page.fill("#composer-text", "How long is it?")
        page.press("#composer-text", "Enter")
        # The question shows at once, then the answer (or, while the video is analysed,
        # a note and then the follow-up summary) streams in with times as links.
        expect(page.locator(".chat-message.role-user")).to_have_count(1)
        assert "How long is it?" in page.locator(".chat-message.role-user").inner_text()
        expect(
            page.locator('.chat-message.role-assistant[data-status="complete"] a.seek').first
        ).to_be_visible(timeout=60_000)
        expect(page.locator("#chat-videos .badge-done")).to_have_count(1, timeout=60_000)

    assert "offline" not in page.locator(".chat-message.role-user").inner_text()
    streamed = [f for f in frames if 'data-swap="chunk"' in f and "-stream" in f]
    assert len(streamed) >= 2, frames
    answer = page.locator('.chat-message.role-assistant[data-status="complete"]').last.inner_text()
    assert "00:04" in answer  # the clip is 4 s long

    # A time in the answer seeks the attached video's player.
    link = page.locator('.chat-message.role-assistant[data-status="complete"] a.seek').last
    seconds = float(link.get_attribute("data-seek"))
    wait_until(page, "document.querySelector('#chat-videos video').readyState >= 1")
    link.click()
    wait_until(page, f"Math.abs(document.querySelector('#chat-videos video').currentTime - {seconds}) < 0.5")

    # Reload: the whole history is still there.
    count = page.locator(".chat-message").count()
    page.reload()
    expect(page.locator(".chat-message")).to_have_count(count)
    assert "How long is it?" in page.locator(".chat-message.role-user").first.inner_text()

    # From the video's own page, "Ask about this video" opens a new conversation with it ticked.
    page.goto(f"{live_server_url}/videos/")
    page.click("#video-list .video-name")
    page.click("button:has-text('Ask about this video')")
    page.wait_for_url("**/chat/*/?attach=*")
    assert page.locator(".attach-picker input[type=checkbox]:checked").count() == 1
    with rq_worker("high"):
        page.fill("#composer-text", "When is it loudest?")
        page.press("#composer-text", "Enter")
        expect(page.locator('.chat-message.role-assistant[data-status="complete"]')).to_have_count(
            1, timeout=60_000
        )
    assert clips["short"].path.name in page.locator("#chat-videos").inner_text()
    assert csp_violations(page) == []
