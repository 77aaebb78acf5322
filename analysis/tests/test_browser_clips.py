"""End to end in Debian's Chromium: make a clip of a scene with one click, watch it arrive live, play it."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from playwright.sync_api import expect

from analysis import jobs
from analysis.models import Clip, Video
from conftest import PASSWORD
from testkit.browser import csp_violations, log_in, wait_until
from testkit.live import rq_worker

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_person_clips_a_scene_and_plays_the_clip(
    live_server_url, browser_page, make_user, make_video, clips, settings
):
    settings.TRANSCRIBE_SPEECH = False
    owner = make_user("clipper@example.com")
    video = make_video(owner, clips["short"].path)
    assert jobs.analyze_video(video.pk) == "done"
    scenes = video.latest_analysis.scenes
    assert len(scenes) == 3

    page = browser_page
    log_in(page, live_server_url, "clipper@example.com", PASSWORD, next_url=video.get_absolute_url())
    clip_button = page.get_by_role("button", name="Make a clip of scene 2")
    expect(clip_button).to_be_visible()
    clip_button.click()

    # The clip list of this video: the new clip waits in the queue, then a worker on `low`
    # cuts it and the finished clip, with its player, arrives without a reload.
    page.wait_for_url(f"{live_server_url}/videos/clips/?video={video.uuid}")
    expect(page.locator(".clip .badge-queued")).to_have_count(1)
    clip = Clip.objects.get(video=video)
    assert (clip.start, clip.end) == (pytest.approx(scenes[1]["start"]), pytest.approx(scenes[1]["end"]))
    page.evaluate("window.notReloaded = true")
    with rq_worker("low"):
        expect(page.locator(".clip .badge-done")).to_have_count(1, timeout=120_000)
    assert page.evaluate("window.notReloaded") is True

    player = page.locator(".clip video")
    expect(player).to_have_count(1)
    player.evaluate("v => { v.muted = true; v.play(); }")
    wait_until(page, "document.querySelector('.clip video').currentTime > 0.2", timeout=30)
    duration = player.evaluate("v => v.duration")
    assert duration == pytest.approx(scenes[1]["end"] - scenes[1]["start"], abs=0.1)
    expect(page.get_by_role("link", name="Download")).to_have_attribute(
        "href", f"/videos/clips/{clip.uuid}/file?download=1"
    )
    assert csp_violations(page) == []

    clip.refresh_from_db()
    assert clip.status == Video.Status.DONE
    assert default_storage.exists(clip.file)


def _analysed_video_page(live_server_url, page, owner, make_video, clips):
    """The short clip, analysed, uploaded by ``owner``, whose page ``page`` opens logged in."""
    video = make_video(owner, clips["short"].path)
    assert jobs.analyze_video(video.pk) == "done"
    log_in(page, live_server_url, owner.email, PASSWORD, next_url=video.get_absolute_url())
    return video


CAUGHT_UP = (
    "window.liveStats && window.liveStats.opens >= 1"
    " && !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
)


def test_a_person_takes_a_clips_start_and_end_from_the_player_with_the_keyboard(
    live_server_url, browser_page, make_user, make_video, clips, settings
):
    settings.TRANSCRIBE_SPEECH = False
    page = browser_page
    video = _analysed_video_page(live_server_url, page, make_user("marks@example.com"), make_video, clips)
    wait_until(page, "document.getElementById('player').readyState >= 1", timeout=30)
    # The socket opened and the page caught up (its results read again): the buttons
    # pressed below are the ones that stay.
    wait_until(page, CAUGHT_UP)
    start_button = page.get_by_role("button", name="Start at the player's time")
    expect(start_button).to_be_visible()  # shown once the script runs

    for seconds, button, field in ((1.25, start_button, "#clip-start"), (3.5, None, "#clip-end")):
        page.evaluate(f"document.getElementById('player').currentTime = {seconds}")
        wait_until(page, f"Math.abs(document.getElementById('player').currentTime - {seconds}) < 0.05")
        target = button or page.get_by_role("button", name="End at the player's time")
        target.focus()
        page.keyboard.press("Enter")
        expect(page.locator(field)).to_have_value(f"{seconds:.2f}")
    page.locator("#clip-end").focus()
    page.keyboard.press("Enter")  # submits the form

    page.wait_for_url(f"{live_server_url}/videos/clips/?video={video.uuid}")
    clip = Clip.objects.get(video=video)
    assert (clip.start, clip.end, clip.mode) == (1.25, 3.5, "exact")
    assert csp_violations(page) == []


def test_times_typed_into_the_clip_form_survive_the_page_catching_up_after_the_socket_opens(
    live_server_url, browser_page, make_user, make_video, clips, settings
):
    """The results (and the clip form in them) are read again whenever the live socket
    (re)connects; what the person typed stays."""
    settings.TRANSCRIBE_SPEECH = False
    page = browser_page
    video = _analysed_video_page(live_server_url, page, make_user("typing@example.com"), make_video, clips)
    page.fill("#clip-start", "0:01")
    page.fill("#clip-end", "0:03")
    region = f"#video-{video.uuid}-results"
    with page.expect_response(
        lambda response: (
            response.url.endswith(f"/videos/{video.uuid}/")
            and response.request.headers.get("hx-request") == "true"
        )
    ):
        page.evaluate("htmx.trigger(document.body, 'live-open')")
    expect(page.locator(f"{region} .htmx-settling")).to_have_count(0)
    expect(page.locator("#clip-start")).to_have_value("0:01")
    expect(page.locator("#clip-end")).to_have_value("0:03")
    page.locator("#clip-end").press("Enter")
    page.wait_for_url(f"{live_server_url}/videos/clips/?video={video.uuid}")
    clip = Clip.objects.get(video=video)
    assert (clip.start, clip.end) == (1.0, 3.0)
    assert csp_violations(page) == []
