"""End to end in Debian's Chromium: a word that is only on screen is found, and its hit opens the player there."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from analysis.models import Analysis, OnscreenTextSpan, TranscriptSegment
from conftest import PASSWORD
from testkit.browser import csp_violations, log_in, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PLAYER_AT = "(() => {{ const p = document.getElementById('player'); return p.readyState >= 1 && Math.abs(p.currentTime - {at}) <= 0.3; }})()"


def test_a_word_only_on_screen_is_found_and_opens_the_player_at_its_moment(
    live_server_url, browser_page, make_user, make_video, clips
):
    viewer = make_user("viewer@example.com")
    video = make_video(viewer, clips["short"].path, name="lecture.mp4")
    analysis = video.analyses.create(
        analyzer=Analysis.LOCAL, analyzer_version="1.0", wall_time=1.0, metadata={"duration": 4.0}
    )
    TranscriptSegment.objects.create(analysis=analysis, start=0.2, end=1.0, text="welcome to the review")
    OnscreenTextSpan.objects.create(
        analysis=analysis, start=2.6, end=3.8, text="Revenue grew 17%", box=[0.1, 0.1, 0.9, 0.2], height=0.1
    )
    video.mark_done()

    page = browser_page
    log_in(page, live_server_url, "viewer@example.com", PASSWORD, next_url="/videos/")
    moment = _search_on_screen(page, "revenue")
    expect(moment.locator("mark")).to_have_text("Revenue")
    assert page.locator(".search-results .moment-spoken").count() == 0

    moment.locator("a").first.click()
    page.wait_for_url(f"**{video.get_absolute_url()}?t=2.6#player")
    wait_until(page, PLAYER_AT.format(at=2.6), timeout=30)

    # On the page, the span is listed and highlighted while it is on screen; a click seeks to it.
    span = page.locator("#onscreen .onscreen-span", has_text="Revenue grew 17%")
    expect(span).to_have_class("transcript-segment onscreen-span current")
    page.evaluate("document.getElementById('player').currentTime = 0.5")
    expect(span).not_to_have_class("transcript-segment onscreen-span current")
    span.click()
    wait_until(page, PLAYER_AT.format(at=2.6))
    expect(span).to_have_attribute("aria-current", "true")
    assert csp_violations(page) == []


def test_a_slides_word_read_by_the_analysis_is_found_and_opens_the_player_there(
    live_server_url, browser_page, make_user, make_video, settings, tmp_path
):
    from analysis import jobs
    from testkit import textclips

    settings.ONSCREEN_TEXT = True
    settings.TRANSCRIBE_SPEECH = False  # the slides have no speech: "Lisbon" is only on screen
    viewer = make_user("viewer@example.com")
    video = make_video(viewer, textclips.slides_clip(tmp_path / "slides.mp4").path)
    assert jobs.analyze_video(video.pk) == "done"
    span = OnscreenTextSpan.objects.get(analysis__video=video, text__icontains="Lisbon")

    page = browser_page
    log_in(page, live_server_url, "viewer@example.com", PASSWORD, next_url="/videos/")
    moment = _search_on_screen(page, "Lisbon")
    moment.locator("a").first.click()
    page.wait_for_url(f"**{video.get_absolute_url()}?t=*#player")
    wait_until(page, PLAYER_AT.format(at=span.start), timeout=30)
    expect(page.locator("#onscreen .onscreen-span.current", has_text="Lisbon")).to_have_count(1)
    assert csp_violations(page) == []


def _search_on_screen(page, word: str):
    """Search the videos for ``word``: its one moment, marked as on screen."""
    page.fill("input[name=q]", word)
    page.press("input[name=q]", "Enter")
    moment = page.locator(".search-results .moment-on_screen")
    expect(moment).to_have_count(1)
    expect(moment.locator(".moment-kind")).to_have_text("on screen")
    return moment
