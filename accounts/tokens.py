"""Personal API tokens: made (shown once), found by their hash, revoked.

The API's authentication (api/auth.py) and the server's check before an
upload's body is read (core/bodies.py, through the API's gate) both find a
token with `user_for_token`; the profile page makes and revokes them.

A token found in the database is remembered in Redis (its hash → its user)
until its last use is due to be written again, so a script's requests need
no database until then. Whatever could make that answer wrong replaces the
entry with a tombstone as it is saved (signals, below): revoking the token,
deleting it, any save of its user (deactivated, say). Entries are only ever
*added*, so a request that read the row just before the change cannot put it
back: the very next request reads the database again and is refused.
"""

from __future__ import annotations

import hashlib
import secrets
from contextlib import contextmanager
from datetime import timedelta
from functools import wraps

from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiToken, User
from core.outages import REDIS, part_down

# A token's last use is written at most this often: not one write per request.
LAST_USED_PRECISION = timedelta(minutes=1)
MAX_TOKEN_LENGTH = 200  # what a header may carry before it is plainly not one of ours
# How long a changed token is kept out of the cache: longer than any request
# that read its row before the change can take to finish (SQLite may keep its
# write of the last use waiting 20 s for the lock).
TOMBSTONE_SECONDS = 2 * 60
_TOMBSTONE = "changed"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for `user`; returns the row and the token, which is not kept anywhere."""
    token = ApiToken.PREFIX + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(
        user=user, name=name.strip()[:80], digest=_digest(token), hint=token[: len(ApiToken.PREFIX) + 6]
    )
    return row, token


def token_revoke(*, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        # Its post_save forgets the cached token; if Redis cannot hear of it, the revoke is undone.
        with transaction.atomic():
            token.save(update_fields=["revoked_at"])


def forget_tokens(digests) -> None:
    """Tombstone these tokens' cache entries: a change that makes them wrong is being saved.

    A Redis that is away raises: a change it could not hear of must fail, not
    leave the token working from the cache.
    """
    if digests:
        cache.set_many({_cache_key(digest): _TOMBSTONE for digest in digests}, timeout=TOMBSTONE_SECONDS)


def token_saved(sender, instance: ApiToken, created: bool, **kwargs) -> None:
    """post_save of a token (revoked, say): its cached entry is wrong now. A new one has none."""
    if not created:
        forget_tokens([instance.digest])


def token_deleted(sender, instance: ApiToken, **kwargs) -> None:
    """post_delete of a token, by itself or with its user."""
    forget_tokens([instance.digest])


def user_saved(sender, instance: User, created: bool, **kwargs) -> None:
    """post_save of a user (deactivated, say): the user their tokens' entries carry is out of date."""
    if not created:
        forget_tokens(list(instance.api_tokens.active().values_list("digest", flat=True)))


def user_for_token(token: str, *, touch: bool = True) -> User | None:
    """The active user whose active token this is, or None; notes its use (at most once a minute)."""
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.startswith(ApiToken.PREFIX):
        return None
    digest = _digest(token)
    entry = _cached(digest)
    if isinstance(entry, User):
        return entry  # its use was written less than a minute ago
    row = _active_row(digest, touch=touch)
    if row is None:
        return None
    if entry is None:  # not while a tombstone stands
        _remember(digest, row)
    return row.user


def _active_row(digest: str, *, touch: bool) -> ApiToken | None:
    """The token's row, if it and its user are active; its use written if it is due.

    The user comes without the password's hash: it goes into the cache, and the
    API never needs it (a save writes only the fields that were loaded)."""
    row = (
        ApiToken.objects.active().select_related("user").defer("user__password").filter(digest=digest).first()
    )
    if row is None or not row.user.is_active:
        return None
    now = timezone.now()
    if touch and (row.last_used_at is None or now - row.last_used_at > LAST_USED_PRECISION):
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        row.last_used_at = now
    return row


def _cache_key(digest: str) -> str:
    return f"api-token:{digest}"


@contextmanager
def _unless_redis_is_away():
    """Redis is only a shortcut for reading tokens: while it is away the database
    answers, as it did before there was one."""
    try:
        yield
    except Exception as exc:
        if part_down(exc) != REDIS:
            raise


def _cached(digest: str) -> User | str | None:
    """The token's entry: its user, a tombstone, or None."""
    with _unless_redis_is_away():
        return cache.get(_cache_key(digest))
    return None


def _remember(digest: str, row: ApiToken) -> None:
    """Cache the token's user until its last use is due to be written again (a hit
    needs no check of that). `add`, so that it never replaces a tombstone."""
    if row.last_used_at is None:
        return
    seconds = int((row.last_used_at + LAST_USED_PRECISION - timezone.now()).total_seconds())
    if seconds > 0:
        with _unless_redis_is_away():
            cache.add(_cache_key(digest), row.user, timeout=seconds)


def bearer_token(request) -> str | None:
    """The token of the request's Authorization header; None without one; "" if it is no bearer token."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def token_or_session(view):
    """For a read-only page an API client fetches too (a video's bytes, its pictures):
    with an Authorization header, its token alone says who is asking."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        token = bearer_token(request)
        if token is not None:
            request.user = user_for_token(token) or AnonymousUser()
        return view(request, *args, **kwargs)

    return wrapper
