"""Helpers for the end-to-end tests in Chromium."""

from __future__ import annotations

import time


def csp_violations(page) -> list[str]:
    """What the page logged about the Content-Security-Policy (nothing, we hope)."""
    return [m for m in page.console_messages if "Content Security Policy" in m or "Refused to" in m]


def wait_until(page, expression: str, *, timeout: float = 15) -> None:
    """Poll a JS expression from outside the page.

    page.wait_for_function would evaluate the string inside the page, which our
    CSP (no eval) refuses.
    """
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout}s: {expression}")
        time.sleep(0.1)


def log_in(page, base_url: str, email: str, password: str, *, next_url: str = "/") -> None:
    page.goto(f"{base_url}/accounts/login/?next={next_url}")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{base_url}{next_url}")
