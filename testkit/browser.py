"""Helpers for the end-to-end tests in Chromium."""

from __future__ import annotations

import time

from testkit.waiting import until

# Debian's Chromium (apt-get install chromium); Playwright's own browser builds cannot be fetched here.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def launch_chromium(playwright):
    """Debian's headless Chromium, as every browser test and benchmark runs it."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def csp_violations(page) -> list[str]:
    """What the page logged about the Content-Security-Policy (nothing, we hope)."""
    return [m for m in page.console_messages if "Content Security Policy" in m or "Refused to" in m]


def wait_until(page, expression: str, *, timeout: float = 15) -> None:
    """Poll a JS expression from outside the page.

    page.wait_for_function would evaluate the string inside the page, which our
    CSP (no eval) refuses.
    """
    until(lambda: page.evaluate(expression), timeout=timeout, what=expression, interval=0.1)


def log_in(page, base_url: str, email: str, password: str, *, next_url: str = "/") -> None:
    page.goto(f"{base_url}/accounts/login/?next={next_url}")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{base_url}{next_url}")


# Every live element on a page (README, "Live updates"): its id, version, status and text.
_LIVE_STATE = """() => Array.from(document.querySelectorAll('[data-version]')).map(e => [
  e.id, e.getAttribute('data-version'), e.getAttribute('data-status') || '',
  e.innerText.replace(/\\s+/g, ' ').trim()])"""


def live_state(page) -> dict[str, tuple[str, str, str]]:
    """id -> (version, status, text) of every live element the page shows now."""
    return {row[0]: tuple(row[1:]) for row in page.evaluate(_LIVE_STATE)}


def reload_state(page) -> dict[str, tuple[str, str, str]]:
    """What a reload of `page` would show: the same URL loaded afresh in a new tab."""
    fresh = page.context.new_page()
    try:
        fresh.goto(page.url)
        fresh.wait_for_load_state("load")
        return live_state(fresh)
    finally:
        fresh.close()


def differences(page) -> list[str]:
    """How the long-open `page` differs from what a reload shows (empty when it converged).

    Every live element of the reload must be on the page at the same version,
    status and text. The page may also hold elements a reload no longer lists
    (older messages above the newest page of a thread), never duplicates.
    """
    shown, truth = live_state(page), reload_state(page)
    problems = [
        f"{key}: page {shown.get(key)} != reload {value}"
        for key, value in truth.items()
        if shown.get(key) != value
    ]
    ids = page.evaluate("() => Array.from(document.querySelectorAll('[id]')).map(e => e.id)")
    problems += [f"{key} is on the page twice" for key in {i for i in ids if ids.count(i) > 1}]
    return problems


def converge(page, *, timeout: float = 30) -> list[str]:
    """Wait (bounded) until the page matches a reload; the differences left, if any."""
    deadline = time.monotonic() + timeout
    while True:
        problems = differences(page)
        if not problems or time.monotonic() > deadline:
            return problems
        time.sleep(0.5)


def socket_stats(page) -> dict:
    """The page's live socket counters (static/js/live.js): opens, closes, errorCloses, pushes."""
    return page.evaluate("() => Object.assign({}, window.liveStats)")


def hold_answers(page, pattern: str) -> list:
    """Let matching requests reach the server, but hold their answers back.

    Returns the list the held (route, answer) pairs go into; the test gives
    each to the page with `route.fulfill(response=answer)` once whatever must
    come first has happened. The test keeps Playwright running meanwhile (see
    `pump_until`), so pushes still reach the page while an answer is held.
    """
    held: list = []
    page.route(pattern, lambda route: held.append((route, route.fetch())))
    return held


def pump_until(page, condition, *, timeout: float = 30) -> None:
    """Wait for `condition()` (a Python check) while Playwright keeps delivering events."""
    until(condition, timeout=timeout, sleep=lambda seconds: page.wait_for_timeout(seconds * 1000))


def open_window(page, url: str):
    """Open `url` in a window of its own (same browser context), loaded.

    Not a second tab: Chromium runs a tab that is not the front one of its
    window at a lower CPU priority, and on a busy machine such a page falls far
    behind its socket. Pages a test watches for a while each get a window.
    """
    with page.context.expect_page() as opened:
        page.evaluate("(url) => { window.open(url, '_blank', 'popup,noopener'); }", url)
    window = opened.value
    window.wait_for_load_state("load")
    return window
