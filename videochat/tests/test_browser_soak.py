"""Soak, end to end in Debian's Chromium: pages held open for minutes miss nothing.

A thread and the video list stay open (no reload) while another tab sends a
message every few seconds, attaching new videos now and then, and the worker
analyses the videos and streams the replies. At the end every live element on
the long-open pages must be what a reload shows, and their sockets must never
have closed on an error. SOAK_SECONDS sets the length (at least 90 in CI).
"""

from __future__ import annotations

import os
import time

import pytest

from analysis.models import Video
from analysis.tests.clips import make_clip
from chat.models import Conversation, Message
from conftest import PASSWORD
from testkit.browser import (
    converge,
    live_state,
    log_in,
    open_window,
    pump_until,
    reload_state,
    socket_stats,
)
from testkit.live import rq_worker

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "90"))
SEND_EVERY_SECONDS = 4  # the pace of the other tab's questions
VIDEO_EVERY = 4  # every 4th question attaches a new upload


def _open(opener, url: str):
    page = open_window(opener, url)
    pump_until(page, lambda: socket_stats(page)["opens"] >= 1)
    page.evaluate("window.notReloaded = true")
    return page


def _lost(page) -> tuple[int, int]:
    """(live elements a reload shows, how many of them the page shows otherwise)."""
    truth, shown = reload_state(page), live_state(page)
    return len(truth), sum(1 for key, value in truth.items() if shown.get(key) != value)


def _settled(conversation: Conversation) -> bool:
    open_messages = conversation.messages.filter(
        status__in=[Message.Status.PENDING, Message.Status.STREAMING]
    )
    return not open_messages.exists() and not Video.objects.unfinished().exists()


def test_pages_open_for_minutes_show_every_update(live_server_url, browser_page, make_user, tmp_path):
    make_user("soak@example.com")
    driver = browser_page
    log_in(driver, live_server_url, "soak@example.com", PASSWORD, next_url="/chat/")
    driver.click("#new-conversation")
    driver.wait_for_selector("#composer")
    driver.wait_for_load_state("load")
    conversation = Conversation.objects.get(owner__email="soak@example.com")
    thread = _open(driver, driver.url)
    videos = _open(driver, f"{live_server_url}/videos/")

    sent = uploads = 0
    with rq_worker("high", "default"):
        started = time.monotonic()
        while time.monotonic() - started < SOAK_SECONDS:
            if sent % VIDEO_EVERY == 0:
                uploads += 1
                clip = make_clip(
                    tmp_path / f"soak-{uploads}.mp4", duration=2.0 + uploads / 2, size=(320, 180), cuts=(1.0,)
                )
                if uploads == 1:
                    driver.click(".attach-picker summary")
                driver.set_input_files("[data-attach-input]", [str(clip.path)])
                pump_until(
                    driver,
                    lambda: driver.locator("#attach-queue .upload-result.accepted").count() == 1,
                    timeout=60,
                )
            driver.fill("#composer-text", f"Question {sent + 1}: how long is it, and when is it loudest?")
            driver.press("#composer-text", "Enter")
            sent += 1
            pump_until(
                driver,
                lambda sent=sent: (
                    conversation.messages.filter(role=Message.Role.USER).count() == sent
                    and not conversation.messages.filter(
                        reply_to__isnull=False, status__in=[Message.Status.PENDING, Message.Status.STREAMING]
                    ).exists()
                ),
                timeout=120,
            )
            driver.wait_for_timeout(SEND_EVERY_SECONDS * 1000)
        pump_until(driver, lambda: _settled(conversation), timeout=180)
        soaked = time.monotonic() - started

    for page in (thread, videos):
        assert converge(page) == []
    expected_thread, lost_thread = _lost(thread)
    expected_videos, lost_videos = _lost(videos)
    stats = [socket_stats(page) for page in (thread, videos)]
    print(
        f"\nsoak: {soaked:.0f} s, {sent} questions, {uploads} videos, "
        f"updates expected {expected_thread + expected_videos}, lost {lost_thread + lost_videos}, "
        f"socket error closes {sum(s['errorCloses'] for s in stats)}, pushes {sum(s['pushes'] for s in stats)}"
    )
    assert soaked >= SOAK_SECONDS
    assert uploads >= 2
    assert Video.objects.filter(status=Video.Status.DONE).count() == uploads
    assert expected_videos == uploads
    assert lost_thread == 0
    assert lost_videos == 0
    assert [s["errorCloses"] for s in stats] == [0, 0]
    assert [s["opens"] for s in stats] == [1, 1]  # the sockets stayed up the whole time
    for page in (thread, videos):
        assert page.evaluate("window.notReloaded") is True
