"""A model loaded once per process, on first use, whichever thread asks first; the cores it may use."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerProcess(Generic[T]):
    """``load()``'s result, made on the first :meth:`get` and then shared in this process.

    Threads that ask while it loads wait for that one load. A process forked
    after it loaded (RQ's work horse) cannot use the parent's: onnxruntime's
    thread pool and CTranslate2 do not survive ``fork()``. There :meth:`get`
    loads its own, or, where ``forked`` is given, raises ``forked(parent_pid)``
    (for a library that cannot even load again in such a process).
    """

    def __init__(
        self, load: Callable[[], T], *, forked: Callable[[int], BaseException] | None = None
    ) -> None:
        self._load = load
        self._forked = forked
        self._value: T | None = None
        self._pid = 0  # the process that loaded _value
        self._lock = threading.Lock()
        # Another thread may have held the lock when the process forked; in the
        # child nobody would ever release it.
        os.register_at_fork(after_in_child=self._new_lock)

    def get(self) -> T:
        with self._lock:
            if self._pid and self._pid != os.getpid():
                if self._forked is not None:
                    raise self._forked(self._pid)
                self._value = None
            if self._value is None:
                self._value = self._load()
                self._pid = os.getpid()
            return self._value

    def fresh(self) -> PerProcess[T]:
        """The same loader, nothing loaded yet (for tests that load again)."""
        return PerProcess(self._load, forked=self._forked)

    def _new_lock(self) -> None:
        self._lock = threading.Lock()


def cores() -> int:
    """CPU cores this process may use (a container's CPU set, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
