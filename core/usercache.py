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


def _version_key(namespace: str, user_id: int) -> str:
    return f"{namespace}:v:{int(user_id)}"


def _first_version(key: str) -> int:
    """First use: start at 1 (add, so a concurrent start is not lost)."""
    cache.add(key, 1, timeout=None)
    return int(cache.get(key, 1))


def versions(user_id: int, *namespaces: str) -> list[int]:
    """The user's version in each of these namespaces, in one round trip to Redis: for
    an entry named by another namespace's version too (messages name their videos')."""
    keys = [_version_key(namespace, user_id) for namespace in namespaces]
    found = cache.get_many(keys)
    return [int(found[key]) if key in found else _first_version(key) for key in keys]


class UserCache:
    def __init__(self, namespace: str, *, ttl: int = 60 * 60, enabled_setting: str | None = None) -> None:
        self.namespace = namespace
        self.ttl = ttl
        self.enabled_setting = enabled_setting

    @property
    def enabled(self) -> bool:
        return self.enabled_setting is None or bool(getattr(settings, self.enabled_setting, True))

    def _version_key(self, user_id: int) -> str:
        return _version_key(self.namespace, user_id)

    def version(self, user_id: int) -> int:
        key = self._version_key(user_id)
        value = cache.get(key)
        return _first_version(key) if value is None else int(value)

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

    def cached(self, user_id: int, name: str, build: Callable[[], T], *, version: int | None = None) -> T:
        """Read `name` for this user from the cache, building and storing it on a miss.

        `version`: the user's version here, when the caller has read it already (`versions`).
        """
        if not self.enabled:
            return build()
        if version is None:
            version = self.version(user_id)
        entry = f"{self.namespace}:{int(user_id)}:{version}:{name}"
        value = cache.get(entry)
        if value is None:
            value = build()
            cache.set(entry, value, timeout=self.ttl)
        return value
