"""End to end in Debian's Chromium: a reply ends complete on the page in every ordering.

Pushes are hints and may come before the element they update, or be lost
while the socket reconnects; the page must still end as a reload shows it
(README, "Live updates"). Each test forces one ordering.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from chat import jobs
from chat.models import Conversation, Message
from conftest import PASSWORD
from testkit.browser import converge, hold_answers, log_in, open_window, pump_until, socket_stats
from testkit.live import rq_worker
from testkit.waiting import until

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _open_thread(page, base_url: str, email: str) -> Conversation:
    log_in(page, base_url, email, PASSWORD, next_url="/chat/")
    page.click("#new-conversation")
    page.wait_for_selector("#composer")
    page.wait_for_load_state("load")
    return Conversation.objects.get(owner__email=email)


def _send(page, text: str) -> None:
    page.fill("#composer-text", text)
    page.press("#composer-text", "Enter")


@pytest.mark.parametrize("hold_seconds", [0.5, 3.0])
def test_it_completes_replies_whose_pushes_came_before_the_send_answer(
    live_server_url, browser_page, make_user, hold_seconds
):
    make_user("held@example.com")
    page = browser_page
    forwarded: list[str] = []

    def without_new_message_pushes(ws) -> None:
        # The server also pushes new messages to every tab; drop those, so that the
        # held answer is the only way the reply's pending message element reaches this page.
        server = ws.connect_to_server()

        def from_server(message) -> None:
            if 'data-swap="append"' not in str(message):
                ws.send(message)
                forwarded.append(str(message))

        server.on_message(from_server)

    page.route_web_socket("**/ws/events/", without_new_message_pushes)
    conversation = _open_thread(page, live_server_url, "held@example.com")
    held = hold_answers(page, "**/send/")
    page.evaluate("window.notReloaded = true")
    with rq_worker("high"):
        for number in range(1, 4):
            _send(page, f"How long is my video? ({number})")
            pump_until(page, lambda: held)
            reply = conversation.messages.filter(role=Message.Role.ASSISTANT).order_by("-created_at").first()
            done = f'id="message-{reply.uuid}"'
            # Every push of the reply, to its last, reaches the page before the answer
            # that adds its pending message element; then a slow network on top.
            pump_until(
                page, lambda done=done: any(done in f and 'data-status="complete"' in f for f in forwarded)
            )
            page.wait_for_timeout(hold_seconds * 1000)
            route, answer = held.pop()
            route.fulfill(response=answer)
            replies = page.locator('.chat-message.role-assistant[data-status="complete"]')
            expect(replies).to_have_count(number, timeout=30_000)

    assert page.evaluate("window.notReloaded") is True
    assert conversation.messages.count() == 6
    assert page.locator(".chat-message").count() == 6
    assert page.locator(".typing").count() == 0
    assert converge(page) == []


def test_it_completes_a_reply_whose_socket_was_cut_mid_stream(live_server_url, browser_page, make_user):
    make_user("cut@example.com")
    page = browser_page
    routes: list = []
    cut: dict = {"route": None}

    def route_socket(ws) -> None:
        server = ws.connect_to_server()
        routes.append(ws)

        def from_server(message) -> None:
            if cut["route"] is ws:
                return  # everything after the cut is lost with the old socket
            ws.send(message)
            if cut["route"] is None and 'data-swap="chunk"' in str(message):
                # The reply's first chunk got through; the rest is sent to a socket that is gone.
                cut["route"] = ws
                ws.close(code=1011, reason="cut by the test")

        server.on_message(from_server)

    page.route_web_socket("**/ws/events/", route_socket)
    conversation = _open_thread(page, live_server_url, "cut@example.com")
    page.evaluate("window.notReloaded = true")
    with rq_worker("high"):
        _send(page, "When is it loudest?")
        expect(page.locator('.chat-message.role-assistant[data-status="complete"]')).to_have_count(
            1, timeout=30_000
        )

    assert cut["route"] is not None, "the socket was never cut mid-reply"
    assert routes[-1] is not cut["route"], "the page did not reconnect"
    stats = socket_stats(page)
    assert stats["opens"] >= 2
    assert stats["errorCloses"] >= 1
    assert page.evaluate("window.notReloaded") is True
    reply = conversation.messages.get(role=Message.Role.ASSISTANT)
    assert reply.status == Message.Status.COMPLETE
    assert converge(page) == []


def test_it_replaces_a_reply_cut_off_by_a_dead_worker_with_the_new_attempt(
    live_server_url, browser_page, make_user
):
    user = make_user("dead@example.com")
    page = browser_page
    log_in(page, live_server_url, "dead@example.com", PASSWORD, next_url="/chat/")
    conversation = Conversation.objects.create(owner=user, title="Half a reply")
    Message.objects.create(conversation=conversation, role=Message.Role.USER, text="Describe the clip.")
    # A worker died while writing this reply: it is "streaming", with what was saved of it.
    reply = Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        status=Message.Status.STREAMING,
        text="The clip is about",
        attempts=1,
        version=3,
        updated_at=timezone.now() - timedelta(hours=1),
    )
    page.goto(f"{live_server_url}{conversation.get_absolute_url()}")
    page.wait_for_load_state("load")
    expect(page.locator(f"#message-{reply.uuid} .typing")).to_have_count(1)
    until(lambda: socket_stats(page)["opens"] >= 1, timeout=60, what="the page's live socket")
    page.evaluate("window.notReloaded = true")

    # The queue's maintenance gives it to a new worker, which starts again from nothing.
    assert jobs.recover_replies() == 1
    with rq_worker("high"):
        expect(page.locator(f'#message-{reply.uuid}[data-status="complete"]')).to_have_count(
            1, timeout=30_000
        )

    reply.refresh_from_db()
    assert reply.status == Message.Status.COMPLETE
    assert "The clip is about" not in page.locator(f"#message-{reply.uuid}").inner_text()
    assert page.evaluate("window.notReloaded") is True
    assert converge(page) == []


def test_two_tabs_of_one_thread_show_the_same_messages(live_server_url, browser_page, make_user):
    make_user("tabs@example.com")
    first = browser_page
    _open_thread(first, live_server_url, "tabs@example.com")
    second = open_window(first, first.url)
    until(lambda: socket_stats(second)["opens"] >= 1, timeout=60, what="the second window's live socket")

    with rq_worker("high"):
        _send(first, "How long is it?")
        _send(second, "And is it loud?")
        for page in (first, second):
            expect(page.locator('.chat-message.role-assistant[data-status="complete"]')).to_have_count(
                2, timeout=30_000
            )
    for page in (first, second):
        assert page.locator(".chat-message.role-user").count() == 2
        assert converge(page) == []


def test_it_says_it_is_reconnecting_only_when_that_lasts(live_server_url, browser_page, make_user):
    make_user("notice@example.com")
    page = browser_page
    connected: list = []
    refused: list = []
    state = {"refuse": False}

    def route_socket(ws) -> None:
        if state["refuse"]:
            refused.append(ws)
            ws.close(code=1011, reason="the server is away")
            return
        connected.append(ws)
        ws.connect_to_server()

    page.route_web_socket("**/ws/events/", route_socket)
    log_in(page, live_server_url, "notice@example.com", PASSWORD, next_url="/videos/")
    page.wait_for_load_state("load")
    pump_until(page, lambda: socket_stats(page)["opens"] == 1)
    notice = page.locator("#live-status")
    expect(notice).to_be_hidden()

    # The server goes away: the page keeps trying, with growing delays, and says so after a while.
    state["refuse"] = True
    connected[-1].close(code=1011, reason="the server went away")
    expect(notice).to_be_visible(timeout=15_000)
    assert 2 <= len(refused) < 10, f"{len(refused)} attempts before the notice: no backoff"

    # It comes back: the page reconnects and the notice goes.
    state["refuse"] = False
    expect(notice).to_be_hidden(timeout=40_000)
    assert socket_stats(page)["opens"] == 2
    assert len(connected) == 2


def test_the_thread_s_videos_follow_messages_added_while_a_re_read_is_held(
    live_server_url, browser_page, make_user
):
    from analysis.models import Video
    from chat import services

    user = make_user("aside@example.com")
    videos = [
        Video.objects.create(
            owner=user,
            original_name=f"{name}.mp4",
            file=f"videos/{name}/source.mp4",
            size=1000,
            sha256=name[0] * 64,
            container="mp4",
            status=Video.Status.DONE,
        )
        for name in ("alpha", "bravo")
    ]
    conversation = Conversation.objects.create(owner=user, title="Two videos")
    page = browser_page
    log_in(page, live_server_url, "aside@example.com", PASSWORD, next_url=conversation.get_absolute_url())
    page.wait_for_load_state("load")
    pump_until(page, lambda: socket_stats(page)["opens"] >= 1)
    held = hold_answers(page, re.compile(r"part=attachments"))

    # Another device asks about the first video: the page reads its videos again, slowly...
    services.message_send(conversation=conversation, text="About alpha", videos=[videos[0]])
    pump_until(page, lambda: held)
    # ...and asks about the second before that answer is in.
    services.message_send(conversation=conversation, text="About bravo", videos=[videos[1]])
    expect(page.locator(".chat-message.role-user")).to_have_count(2)
    while page.locator("#chat-videos figure").count() != 2:
        pump_until(page, lambda: held or page.locator("#chat-videos figure").count() == 2)
        if held:
            route, answer = held.pop()
            route.fulfill(response=answer)
    assert page.locator("#chat-videos").inner_text().count(".mp4") == 2
    assert converge(page) == []
