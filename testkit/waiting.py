"""Waiting for what another process or thread does: one poller for the tests and benchmarks."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def until(
    condition: Callable[[], T],
    *,
    timeout: float,
    what: str | None = None,
    interval: float = 0.05,
    sleep: Callable[[float], object] = time.sleep,
) -> T:
    """Call `condition` until it returns something truthy, and return that; AssertionError after `timeout` s.

    An exception from `condition` ends the wait at once. `sleep` passes the time
    between calls: the browser tests pass one that keeps Playwright delivering events.
    """
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what or condition}")
        sleep(interval)
    return value


def wait_for_http(
    url: str, process: subprocess.Popen | None = None, *, timeout: float = 120, any_status: bool = False
) -> None:
    """Until `url` answers 2xx or 3xx, or with `any_status` any HTTP status (a server with a part down answers 503).

    RuntimeError if `process`, the server, exits first: no use waiting for it.
    """

    def answered() -> bool:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before answering {url}")
        try:
            urllib.request.urlopen(url, timeout=5).close()  # noqa: S310 (our own http:// URL)
        except urllib.error.HTTPError as error:
            error.close()
            return any_status
        except OSError:
            return False
        return True

    until(answered, timeout=timeout, what=f"an answer from {url}", interval=0.2)
