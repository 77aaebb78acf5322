"""Accessibility end to end in Debian's Chromium (issue 16).

axe-core on every page and state, logged in and out, at phone (390 px, touch)
and desktop (1280 px) width, in light and dark colour schemes: no serious or
critical violation. No page scrolls sideways on the phone. And a keyboard-only
journey, with `page.keyboard` alone, from signing up to deleting a conversation.
"""

from __future__ import annotations

import os

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template.loader import render_to_string
from django.test import RequestFactory
from playwright.sync_api import expect

from analysis import jobs as analysis_jobs
from analysis.models import Video
from analysis.tests.conftest import make_video  # noqa: F401 (a fixture)
from analysis.tests.speech import espeak_exe, make_speech_clip
from analysis.tests.test_pages_transitions import with_transition
from chat import jobs as chat_jobs
from chat.models import Conversation, Message
from conftest import PASSWORD
from testkit.axe import (
    BLOCKING,
    axe_violations,
    describe,
    impact_counts,
    overflowing,
    sideways_overflow,
    small_targets,
)
from testkit.browser import csp_violations, launch_chromium, log_in, pump_until, wait_until
from testkit.live import daphne_server, rq_worker

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# A phone (touch, coarse pointer) and a desktop window.
WIDTHS = {
    390: {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    1280: {"viewport": {"width": 1280, "height": 800}},
}
SCHEMES = ("light", "dark")
WAIT = 30_000  # ms an answer may take on a busy machine (the suite runs two at a time)


@pytest.fixture(scope="module")
def speech_clip(tmp_path_factory):
    if espeak_exe() is None and not os.environ.get("CI"):
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    return make_speech_clip(
        tmp_path_factory.mktemp("a11y") / "meeting.mp4",
        [(1.0, "Welcome to the quarterly budget review."), (5.0, "Our next meeting is in Berlin.")],
        duration=8.0,
    )


@pytest.fixture
def chromium():
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop vs. Django ORM in-test
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser, width: int):
    context = browser.new_context(**WIDTHS[width])
    page = context.new_page()
    page.console_messages = []
    page.on("console", lambda msg: page.console_messages.append(f"{msg.type}: {msg.text}"))
    return page


# No finite animation or transition running (the "writing…" blink runs forever, and changes no colour).
SETTLED = "document.getAnimations().every(a => a.effect.getTiming().iterations === Infinity)"


class Audit:
    """axe-core's counts for each (state, width, scheme), and each phone page's sideways overflow."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, int, str, dict[str, int], int | None, str]] = []
        self.problems: list[str] = []
        self.details: set[str] = set()  # every violation, of any impact, by state

    def check(self, page, state: str, width: int) -> None:
        page.wait_for_load_state("load")
        for scheme in SCHEMES:
            page.emulate_media(color_scheme=scheme)
            # Colours change with a transition here and there: measure them where they end.
            wait_until(page, SETTLED)
            violations = axe_violations(page)
            overflow = sideways_overflow(page) if width == 390 else None
            rules = ", ".join(f"{v['id']}x{len(v['nodes'])}" for v in violations)
            self.rows.append((state, width, scheme, impact_counts(violations), overflow, rules))
            self.problems += [f"{state} @{width} {scheme}: {line}" for line in describe(violations, BLOCKING)]
            self.details.update(f"{state}: {line}" for line in describe(violations))
            if width == 390 and scheme == "light":
                self.problems += [f"{state} @390: a small target: {t}" for t in small_targets(page)]
            if overflow:
                self.problems.append(
                    f"{state} @{width} {scheme}: scrolls sideways by {overflow}px: {overflowing(page)}"
                )
        page.emulate_media(color_scheme="light")

    def report(self) -> str:
        lines = [f"{'state':34} {'width':>5} {'scheme':6}  crit ser  mod  min  overflow  rules"]
        for state, width, scheme, c, overflow, rules in self.rows:
            lines.append(
                f"{state:34} {width:>5} {scheme:6}  {c['critical']:>4} {c['serious']:>3} {c['moderate']:>4}"
                f" {c['minor']:>4}  {'' if overflow is None else overflow:>8}  {rules}"
            )
        return "\n".join(lines)


def rendered(template: str, context: dict, user) -> str:
    """One of our pages rendered here, as the server would render it for `user`."""
    request = RequestFactory().get("/")
    request.user = user
    return render_to_string(template, context, request=request)


def serve(page, url: str, html: str, status: int, csp: str) -> None:
    """Show `html` at `url` with the real site's CSP: the error pages the test server cannot show.

    It runs with DEBUG on, where Django answers a 404 or a 500 with its own technical pages.
    """
    headers = {"content-type": "text/html; charset=utf-8", "content-security-policy": csp}
    page.route(url, lambda route: route.fulfill(status=status, body=html, headers=headers))
    page.goto(url)


def hold_requests(page, pattern: str) -> list:
    """Hold matching requests before they reach the server; the test lets each go with `continue_()`.

    Not testkit.browser.hold_answers: its route.fetch() sends an upload without its file.
    """
    held: list = []

    def hold(route) -> None:
        held.append(route)

    page.route(pattern, hold)
    return held


ERROR_PAGES = [
    ("400.html", {}, 400),
    ("403.html", {}, 403),
    ("403_csrf.html", {"message": "The page was open for too long. Reload the page and try again."}, 403),
    ("404.html", {}, 404),
    ("429.html", {"what": "log-in attempts", "wait": "5 minutes", "back": "/accounts/login/"}, 429),
    ("500.html", {}, 500),
    (
        "503.html",
        {
            "headline": "Logging in cannot be done right now.",
            "detail": "Part of VideoChat is down.",
            "again": "/",
        },
        503,
    ),
    ("body_refused.html", {"title": "Too large", "message": "The upload is larger than 500 MB."}, 413),
]


@pytest.fixture
def audit_server_url(transactional_db):
    """The app with a low log-in limit, so that its 429 is a few attempts away."""
    with daphne_server(RATELIMIT_LOGIN_EMAIL="2/d") as url:
        yield url


def test_every_page_and_state_passes_axe_and_fits_a_phone(
    audit_server_url,
    chromium,
    make_user,
    make_video,  # noqa: F811 (the fixture imported above)
    clips,
    speech_clip,
):
    base = audit_server_url
    user = make_user("alexandra.auditor@example.com")  # as long as real addresses are
    audit = Audit()
    widths = list(WIDTHS)

    # --- logged out ---------------------------------------------------------
    anon = {width: new_page(chromium, width) for width in widths}
    csp = anon[390].goto(f"{base}/").headers["content-security-policy"]
    for width, page in anon.items():
        page.goto(f"{base}/")
        audit.check(page, "home (logged out)", width)
        page.goto(f"{base}/accounts/login/")
        audit.check(page, "log in", width)
        page.fill("#id_username", f"nobody{width}@example.com")
        page.fill("#id_password", "wrong")
        page.click("#login-form button[type=submit]")
        expect(page.locator("#login-form .alert.error")).to_be_visible(timeout=WAIT)
        audit.check(page, "log in: wrong password", width)
        for attempt in ("wrong again", "and again"):  # the limit is 2 a day
            if page.locator("#rate-limited").count():
                break
            page.fill("#id_password", attempt)
            with page.expect_response(lambda r: r.url.endswith("/accounts/login/")):
                page.click("#login-form button[type=submit]")
            page.wait_for_selector("#rate-limited, #login-form:not(.htmx-settling):not(.htmx-request)")
        expect(page.locator("#rate-limited")).to_be_visible(timeout=WAIT)
        audit.check(page, "log in: 429", width)
        page.goto(f"{base}/accounts/signup/")
        audit.check(page, "sign up", width)
        page.fill("#id_email", f"new{width}@example.com")
        page.fill("#id_password1", "short")
        page.fill("#id_password2", "different")
        page.click("#signup-form button[type=submit]")
        expect(page.locator("#signup-form .has-errors").first).to_be_visible(timeout=WAIT)
        audit.check(page, "sign up: errors", width)
        for template, context, status in ERROR_PAGES:
            serve(page, f"{base}/error/{template}", rendered(template, context, AnonymousUser()), status, csp)
            audit.check(page, f"{template} (logged out)", width)

    # --- logged in, nothing yet ---------------------------------------------
    pages = {width: new_page(chromium, width) for width in widths}
    for width, page in pages.items():
        log_in(page, base, user.email, PASSWORD)
        audit.check(page, "home: empty", width)
        page.goto(f"{base}/videos/")
        audit.check(page, "videos: empty", width)
        page.goto(f"{base}/chat/")
        audit.check(page, "chat list: empty", width)
        page.goto(f"{base}/accounts/profile/")
        audit.check(page, "profile", width)
        page.fill("#token-form input[name=name]", f"Backup script {width}")
        page.click("#token-form button[type=submit]")
        expect(page.locator("#new-token")).to_be_visible(timeout=WAIT)
        audit.check(page, "profile: a new API token", width)
        for template, context, status in ERROR_PAGES:
            serve(page, f"{base}/error/{template}", rendered(template, context, user), status, csp)
            audit.check(page, f"{template} (logged in)", width)

    # --- an upload on its way, then its verdict -----------------------------
    for width, page in pages.items():
        page.goto(f"{base}/videos/")
        page.wait_for_load_state("load")
        held = hold_requests(page, "**/videos/upload/")
        page.set_input_files("#upload-files", [str(clips["other"].path)])
        pump_until(page, lambda held=held: held)
        expect(page.locator("#upload-queue .upload-item")).to_have_count(1, timeout=WAIT)
        audit.check(page, "videos: uploading", width)
        held.pop().continue_()
        expect(page.locator("#upload-queue .upload-result")).to_have_count(1, timeout=WAIT)
        expect(page.locator("#upload-queue .upload-result.accepted")).to_have_count(1, timeout=WAIT)
        audit.check(page, "videos: upload verdict", width)
        page.unroute("**/videos/upload/")

    # --- videos in every state: queued (the upload), analysing, done, failed ---
    done = make_video(user, speech_clip.path, name="meeting.mp4")
    assert analysis_jobs.analyze_video(done.pk) == "done"
    processing = make_video(
        user,
        clips["short"].path,
        name="holiday.mp4",
        status=Video.Status.PROCESSING,
        progress=40,
        stage="Finding scenes",
    )
    failed = make_video(
        user,
        clips["short"].path,
        name="broken.mp4",
        sha256="f" * 64,
        status=Video.Status.FAILED,
        failure_reason="The file has no video stream we can read.",
    )
    fading = make_video(user, clips["short"].path, name="fade.mp4", sha256="e" * 64)
    with_transition(fading, clips["short"].duration, "fade")
    queued = Video.objects.get(owner=user, original_name="other.mp4")
    from analysis import cache as video_cache

    video_cache.bump(user.pk)
    for width, page in pages.items():
        page.goto(f"{base}/")
        audit.check(page, "home: videos", width)
        page.goto(f"{base}/videos/")
        audit.check(page, "videos: every state", width)
        page.goto(f"{base}/videos/?q=budget")
        expect(page.locator(".search-results .moments a").first).to_be_visible(timeout=WAIT)
        audit.check(page, "search: hits", width)
        page.goto(f"{base}/videos/?q=zebra")
        audit.check(page, "search: no hits", width)
        for video, state in [
            (done, "done"),
            (fading, "done: a scene begins with a fade"),
            (processing, "analysing"),
            (failed, "failed"),
            (queued, "queued"),
        ]:
            page.goto(f"{base}{video.get_absolute_url()}")
            if state == "done":
                expect(page.locator(".transcript-segment").first).to_be_visible(timeout=WAIT)
            if video is fading:
                expect(page.locator(".scene-transition")).to_have_text("fade", timeout=WAIT)
                # In the page itself: a live swap of the scene strip may replace the element at any time.
                page.evaluate(
                    "document.querySelector('.scene-transition')?.scrollIntoView({block: 'center'})"
                )
            audit.check(page, f"video: {state}", width)

    # --- conversations: finished, being written, failed, a refusal ------------
    finished = Conversation.objects.create(owner=user, title="About the meeting")
    question = Message.objects.create(
        conversation=finished, role=Message.Role.USER, text="When is Berlin said?"
    )
    question.videos.set([done])
    reply = Message.objects.create(
        conversation=finished, role=Message.Role.ASSISTANT, status=Message.Status.PENDING, reply_to=question
    )
    assert chat_jobs.write_reply(reply.pk)
    writing = Conversation.objects.create(owner=user, title="Still being answered")
    Message.objects.create(conversation=writing, role=Message.Role.USER, text="How long is it?")
    Message.objects.create(
        conversation=writing,
        role=Message.Role.ASSISTANT,
        status=Message.Status.STREAMING,
        provider="local",
        text="The video is 00:08 long and",
    )
    broken = Conversation.objects.create(owner=user, title="A failed reply")
    Message.objects.create(conversation=broken, role=Message.Role.USER, text="Hello?")
    failed_reply = Message.objects.create(
        conversation=broken,
        role=Message.Role.ASSISTANT,
        status=Message.Status.FAILED,
        failure_reason="The assistant could not answer. Try again.",
    )
    from chat import cache as chat_cache

    chat_cache.bump(user.pk)
    for width, page in pages.items():
        page.goto(f"{base}/chat/")
        audit.check(page, "chat list", width)
        page.goto(f"{base}/")
        audit.check(page, "home: videos and conversations", width)
        page.goto(f"{base}{finished.get_absolute_url()}")
        expect(page.locator(".chat-message.role-assistant a.seek").first).to_be_visible(timeout=WAIT)
        audit.check(page, "chat: finished reply", width)
        page.focus("#composer-text")
        page.keyboard.press("Enter")  # nothing written: refused under the composer
        expect(page.locator("#composer-errors .error")).to_be_visible(timeout=WAIT)
        audit.check(page, "chat: refused message", width)
        page.goto(f"{base}{writing.get_absolute_url()}")
        audit.check(page, "chat: reply being written", width)
        page.goto(f"{base}{broken.get_absolute_url()}")
        audit.check(page, "chat: failed reply", width)

    # Reduced motion: the "writing…" mark does not blink.
    page = pages[1280]
    page.goto(f"{base}{writing.get_absolute_url()}")
    page.emulate_media(reduced_motion="reduce")
    assert page.locator(".typing").evaluate("e => parseFloat(getComputedStyle(e).animationDuration)") < 0.01
    page.emulate_media(reduced_motion="no-preference")

    # The focus survives a swap of the element that held it: Retry is replaced with the reply it asks for,
    # and the focus moves to that reply rather than falling back to the top of the page.
    page.goto(f"{base}{broken.get_absolute_url()}")
    page.wait_for_load_state("load")
    tab_to(page, "button.retry")
    page.keyboard.press("Enter")
    expect(page.locator(f"#message-{failed_reply.uuid}")).to_have_attribute(
        "data-status", "pending", timeout=WAIT
    )
    wait_until(page, f"document.activeElement.id === 'message-{failed_reply.uuid}'")

    print("\naxe-core, offending elements by impact (overflow: px of sideways scroll at 390 px)")
    print(audit.report())
    print("\n".join(sorted(audit.details)))
    print("\n".join(audit.problems))
    for page in [*anon.values(), *pages.values()]:
        assert csp_violations(page) == []
    assert audit.problems == []


# --- the keyboard-only journey -------------------------------------------------

# What the page's announcer (#announcer, static/js/app.js) says, in order: collected by the test.
_LISTEN = """() => {
  window.announced = [];
  const announcer = document.getElementById('announcer');
  new MutationObserver(() => {
    const text = announcer.textContent.trim();
    if (text) window.announced.push(text);
  }).observe(announcer, {childList: true, characterData: true, subtree: true});
}"""

# The focused element: a description, and whether its focus shows (an outline or a ring).
_FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return {name: 'body', visible: false};
  const style = getComputedStyle(e);
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
  return {
    name: e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' ' + (e.getAttribute('aria-label') || e.textContent).trim().slice(0, 60),
    visible: outline || style.boxShadow !== 'none',
  };
}"""


def tab_to(page, selector: str, *, limit: int = 120, backwards: bool = False) -> None:
    """Press Tab (or Shift+Tab) until the element `selector` has the focus; assert its focus is visible."""
    target = page.locator(selector).first
    target.wait_for()
    for _ in range(limit):
        if target.evaluate("e => e === document.activeElement"):
            focused = page.evaluate(_FOCUSED)
            assert focused["visible"], f"the focus on {focused['name']} does not show"
            return
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
    raise AssertionError(f"{limit} presses of Tab never reached {selector}; at {page.evaluate(_FOCUSED)}")


def player_at(page, seconds: float, player: str = "#player") -> None:
    wait_until(page, f"Math.abs(document.querySelector('{player}').currentTime - {seconds}) < 0.3")


def announced(page) -> list[str]:
    return page.evaluate("window.announced")


def test_a_keyboard_only_journey(live_server_url, chromium, speech_clip):
    """Sign up to deleting a conversation with the keyboard alone (plus the OS's file picker and confirm)."""
    base = live_server_url
    page = new_page(chromium, 1280)
    page.on("dialog", lambda dialog: dialog.accept())  # the browser's own "Delete …?" box: Enter, in effect
    # Playwright turns Chromium's file-chooser interception on when the first listener
    # arrives, without waiting for it: listen from the start, so the picker the
    # keyboard opens later is always caught and never opened natively (and missed).
    page.on("filechooser", lambda _chooser: None)
    page.goto(f"{base}/")
    page.wait_for_load_state("load")

    # Sign up.
    tab_to(page, "header a[href='/accounts/signup/']")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/accounts/signup/")
    page.wait_for_load_state("load")
    tab_to(page, "#id_email")
    page.keyboard.type("keys@example.com")
    tab_to(page, "#id_password1")
    page.keyboard.type(PASSWORD)
    tab_to(page, "#id_password2")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/")
    expect(page.locator("h1")).to_have_text("Welcome to VideoChat", timeout=WAIT)

    with rq_worker("high", "default", "low"):
        # Upload: the drop zone's button opens the file picker.
        page.wait_for_load_state("load")
        tab_to(page, "main a:has-text('Upload videos')")
        page.keyboard.press("Enter")
        page.wait_for_url(f"{base}/videos/")
        page.wait_for_load_state("load")
        page.evaluate(_LISTEN)
        tab_to(page, "[data-pick-files]")
        with page.expect_file_chooser() as chooser:
            page.keyboard.press("Enter")
        chooser.value.set_files(str(speech_clip.path))

        # Progress: the verdict, then the analysis, each announced once.
        expect(page.locator("#upload-queue .upload-result.accepted")).to_have_count(1, timeout=30_000)
        expect(page.locator('#video-list [data-status="done"]')).to_have_count(1, timeout=120_000)
        pump_until(page, lambda: "“meeting.mp4” is analysed." in announced(page))
        said = announced(page)
        assert said.count("“meeting.mp4” is analysed.") == 1, said
        assert any(s.startswith("meeting.mp4: Uploaded") for s in said), said
        assert not any("%" in s for s in said), said  # no progress ticks read out

        # Open the video.
        tab_to(page, "#video-list .video-name")
        page.keyboard.press("Enter")
        page.wait_for_url(f"{base}/videos/*/")
        page.wait_for_load_state("load")
        wait_until(page, "document.getElementById('player').readyState >= 1", timeout=30)

        # Play with the player's own controls, from the keyboard.
        tab_to(page, "#player")
        page.keyboard.press("Space")
        wait_until(page, "!document.getElementById('player').paused")
        page.keyboard.press("Space")
        wait_until(page, "document.getElementById('player').paused")

        # Seek by storyboard frame, chart, transcript line and scene: each a link.
        tab_to(page, ".storyboard-frame[tabindex='0']")
        for _ in range(3):
            page.keyboard.press("ArrowRight")  # one tab stop; the arrows move between frames
        frame = page.locator(".storyboard-frame").nth(3)
        assert frame.evaluate("e => e === document.activeElement")
        page.keyboard.press("Enter")
        player_at(page, float(frame.get_attribute("data-seek")))

        tick = page.locator(".chart-loudness .chart-tick").nth(2)
        tab_to(page, ".chart-loudness .chart-tick >> nth=2")
        page.keyboard.press("Enter")
        player_at(page, float(tick.get_attribute("data-seek")))

        line = page.locator(".transcript-segment", has_text="Berlin")
        tab_to(page, ".transcript-segment:has-text('Berlin')", backwards=True)
        page.keyboard.press("Enter")
        player_at(page, float(line.get_attribute("data-seek")))

        scene = page.locator(".scenes .scene").first  # the clip is one shot: back to its start
        tab_to(page, ".scenes .scene")
        page.keyboard.press("Enter")
        player_at(page, float(scene.get_attribute("data-seek")))
        assert page.url.endswith("/")  # each seek stayed on the page (the links' ?t= is for no script)

        # Ask a question about it.
        tab_to(page, "button:has-text('Ask about this video')", backwards=True)
        page.keyboard.press("Enter")
        page.wait_for_url("**/chat/*/?attach=*")
        page.wait_for_load_state("load")
        page.evaluate(_LISTEN)
        tab_to(page, "#composer-text")
        page.keyboard.type("When is Berlin said?")
        page.keyboard.press("Enter")
        reply = page.locator('.chat-message.role-assistant[data-status="complete"]')
        expect(reply.locator("a.seek").first).to_be_visible(timeout=60_000)
        pump_until(page, lambda: any(s.startswith("The assistant replied:") for s in announced(page)))
        said = announced(page)
        assert said.count("The assistant is writing a reply.") == 1, said
        assert len([s for s in said if s.startswith("The assistant replied:")]) == 1, said
        assert "Berlin" in next(s for s in said if s.startswith("The assistant replied:"))
        assert page.evaluate("document.activeElement.id") == "composer-text"  # ready for the next question

        # Follow a time link in the reply: the attached video's player seeks there.
        link = reply.locator("a.seek").first
        wait_until(page, "document.querySelector('#chat-videos video').readyState >= 1", timeout=30)
        tab_to(page, '.chat-message.role-assistant[data-status="complete"] a.seek', backwards=True)
        page.keyboard.press("Enter")
        player_at(page, float(link.get_attribute("data-seek")), "#chat-videos video")

        # Rename: the form is swapped by htmx, and the focus stays in its field.
        tab_to(page, "#conversation-title-input", backwards=True)
        page.keyboard.press("Control+A")
        page.keyboard.type("Berlin meeting")
        with page.expect_response("**/title/"):
            page.keyboard.press("Enter")
        expect(page.locator("#thread-title")).to_have_text("Berlin meeting", timeout=WAIT)
        wait_until(page, "document.activeElement.id === 'conversation-title-input'")

        # Delete it.
        tab_to(page, "#conversation-delete button")
        page.keyboard.press("Enter")
        page.wait_for_url(f"{base}/chat/")
        expect(page.locator("#messages")).to_contain_text(
            "Deleted the conversation “Berlin meeting”", timeout=WAIT
        )
        expect(page.locator("#conversation-list")).to_have_count(0, timeout=WAIT)
    assert csp_violations(page) == []
