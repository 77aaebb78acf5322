"""Personal API tokens: made (shown once), found by their hash, revoked.

The API's authentication (api/auth.py) and the server's check before an
upload's body is read (core/bodies.py, through the API's gate) both find a
token with `user_for_token`; the profile page makes and revokes them.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from functools import wraps

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from accounts.models import ApiToken, User

# A token's last use is written at most this often: not one write per request.
LAST_USED_PRECISION = timedelta(minutes=1)
MAX_TOKEN_LENGTH = 200  # what a header may carry before it is plainly not one of ours


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
        token.save(update_fields=["revoked_at"])


def user_for_token(token: str, *, touch: bool = True) -> User | None:
    """The active user whose active token this is, or None; notes its use (at most once a minute)."""
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.startswith(ApiToken.PREFIX):
        return None
    row = ApiToken.objects.active().select_related("user").filter(digest=_digest(token)).first()
    if row is None or not row.user.is_active:
        return None
    now = timezone.now()
    if touch and (row.last_used_at is None or now - row.last_used_at > LAST_USED_PRECISION):
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return row.user


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
