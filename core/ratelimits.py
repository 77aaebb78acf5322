"""Rate limits on the Redis cache, with one way to answer "too many".

Views call `over_limit(...)` for each limit that applies to them and return
its answer when there is one: a 429 page (or an htmx fragment, from
`too_many_requests`) that says what happened and when to try again. When the limit cannot be
counted because Redis is down, `limit_exceeded` raises `PartDown` and the
outage middleware answers 503: the request is neither let through unlimited
nor blamed on the user with a 429.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_ratelimit.core import get_usage

from core.outages import REDIS, PartDown, part_down

KeyFn = Callable[[str, HttpRequest], str]


def limit_exceeded(request: HttpRequest, *, group: str, key: str | KeyFn, rate: str) -> int | None:
    """Count this request against a limit; the seconds to wait if it is over, else None.

    Raises PartDown("redis") when Redis cannot keep the count.
    """
    try:
        usage = get_usage(request, group=group, key=key, rate=rate, increment=True)
    except Exception as exc:
        if part_down(exc) != REDIS:
            raise
        raise PartDown(REDIS, f"the rate limiter {group!r}: {exc}") from exc
    if usage is None:  # not limited at all (RATELIMIT_ENABLE off)
        return None
    if usage["count"] == 0:
        # Counting this request makes the count at least 1; 0 is django-ratelimit's
        # "the cache kept no count" (as when django-redis is told to ignore errors).
        raise PartDown(REDIS, f"the rate limiter {group!r} could not count")
    if not usage["should_limit"]:
        return None
    return max(1, int(usage["time_left"]))


@dataclass(frozen=True)
class Limit:
    """One rate limit, declared once beside the views it guards."""

    group: str  # the counter's name; two places with one group count together
    key: str | KeyFn  # whose count: "ip", "user", or a function of the request
    setting: str  # the setting that holds its rate ("30/h"), read per request
    what: str  # what there were too many of, for the 429 page ("uploads")

    def exceeded(self, request: HttpRequest) -> int | None:
        """Count this request; the seconds to wait if it is over the limit, else None."""
        return limit_exceeded(request, group=self.group, key=self.key, rate=getattr(settings, self.setting))


def over_limit(request: HttpRequest, limit: Limit, *, back: str | None = None) -> HttpResponse | None:
    """Count this request against `limit`; the 429 answer when it is over, else None.

    `back` is the page the answer links back to (see too_many_requests).
    """
    wait = limit.exceeded(request)
    return too_many_requests(request, retry_after=wait, what=limit.what, back=back) if wait else None


def too_many_requests(
    request: HttpRequest, *, retry_after: int, what: str, back: str | None = None
) -> HttpResponse:
    """The 429 answer: a whole page, or the message fragment for htmx requests.

    `back` is the page to return to; without it, the URL asked for (right for
    a form that is also a page, wrong for a POST-only endpoint).
    """
    context = {
        "what": what,
        "retry_after": retry_after,
        "wait": wait_words(retry_after),
        "back": back or request.get_full_path(),
    }
    template = "429.html#message" if getattr(request, "htmx", False) else "429.html"
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def wait_words(seconds: int) -> str:
    """How long to wait, in words: "30 seconds", "2 minutes"."""
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
