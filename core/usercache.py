"""Per-user read caches in Redis, under versioned keys.

Every write to what a user sees bumps that user's version in the namespace,
so invalidation is one increment and entries under old versions simply
expire. Each app has its own namespace (`videos`, `chat`).

A namespace can name a boolean setting that switches its cache off (reads
then go straight to the database, e.g. while debugging); it is read at call
time, so `override_settings` and a restart with a new environment both apply.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache

T = TypeVar("T")
logger = logging.getLogger(__name__)


class UserCache:
    def __init__(self, namespace: str, *, ttl: int = 60 * 60, enabled_setting: str | None = None) -> None:
        self.namespace = namespace
        self.ttl = ttl
        self.enabled_setting = enabled_setting

    @property
    def enabled(self) -> bool:
        return self.enabled_setting is None or bool(getattr(settings, self.enabled_setting, True))

    def _version_key(self, user_id: int) -> str:
        return f"{self.namespace}:v:{int(user_id)}"

    def version(self, user_id: int) -> int:
        key = self._version_key(user_id)
        value = cache.get(key)
        if value is None:  # first use: start at 1 (add, so a concurrent start is not lost)
            cache.add(key, 1, timeout=None)
            value = cache.get(key, 1)
        return int(value)

    def bump(self, user_id: int) -> None:
        """Invalidate everything cached in this namespace for this user."""
        try:
            cache.incr(self._version_key(user_id))
        except ValueError:  # no version yet: nothing is cached under one either
            cache.add(self._version_key(user_id), 1, timeout=None)

    def bump_after_save(self, user_id: int) -> None:
        """bump(), for a job whose result is already saved: a Redis that is away is
        logged, not raised, so it cannot fail (or kill) the job. Entries expire anyway."""
        try:
            self.bump(user_id)
        except Exception:
            logger.warning(
                "could not refresh the cached %s pages of user %s", self.namespace, user_id, exc_info=True
            )

    def key(self, user_id: int, name: str) -> str:
        return cache.make_key(f"{self.namespace}:{int(user_id)}:{self.version(user_id)}:{name}")

    def cached(self, user_id: int, name: str, build: Callable[[], T]) -> T:
        """Read `name` for this user from the cache, building and storing it on a miss."""
        if not self.enabled:
            return build()
        entry = f"{self.namespace}:{int(user_id)}:{self.version(user_id)}:{name}"
        value = cache.get(entry)
        if value is None:
            value = build()
            cache.set(entry, value, timeout=self.ttl)
        return value
