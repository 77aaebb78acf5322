"""Sessions in the Redis cache, where an unreachable Redis is an outage, not a logout.

Django's cache session store reads a cache that raises as an empty session: a
Redis blip would serve every logged-in user as a stranger and delete their
cookie, so they stay logged out once Redis is back. This store raises PartDown
instead, and the outage middleware answers 503 (core/outages.py).
"""

from __future__ import annotations

from django.contrib.sessions.backends.cache import SessionStore as CacheSessionStore

from core.outages import REDIS, PartDown, part_down


class SessionStore(CacheSessionStore):
    def load(self) -> dict:
        try:
            session_data = self._cache.get(self.cache_key)
        except Exception as exc:
            if part_down(exc) is not None:
                raise PartDown(REDIS, str(exc)) from exc
            session_data = None  # as Django: a key the cache refuses is a fresh session
        if session_data is not None:
            return session_data
        self._session_key = None
        return {}
