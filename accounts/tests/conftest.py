"""Fixtures for the log-in limits: their counts in Redis and a clock that stays still."""

from __future__ import annotations

import time

import pytest


class LimiterClock:
    """The rate limiter's clock, stopped: no window can end in the middle of a test."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now

    def pass_windows(self) -> None:
        """Move a day on: every window counted in so far has passed."""
        self.now += 24 * 3600


@pytest.fixture
def limiter_clock(monkeypatch) -> LimiterClock:
    clock = LimiterClock()
    monkeypatch.setattr("django_ratelimit.core.time", clock)
    return clock


@pytest.fixture
def login_counts(redis_client, limiter_clock):
    """The counts the log-in limits keep in Redis (per IP and per email, per window), ascending.

    It stops the limiter's clock: a window ending mid-test would split a count in two.
    """
    return lambda: sorted(int(redis_client.get(key)) for key in redis_client.scan_iter("*rl:*"))
