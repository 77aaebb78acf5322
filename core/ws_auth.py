"""Who opened a websocket: a personal API token in the handshake, else the browser's session.

A script holding an API token sends it as `Authorization: Bearer …` on the
handshake, as it does on the JSON API. A handshake that sends an Authorization
header is judged by it alone: a revoked or mistyped token leaves the socket
anonymous (the consumer closes it with CLOSE_UNAUTHENTICATED) even with a
session cookie beside it. Without one, Channels' session auth decides.
"""

from __future__ import annotations

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser


def _authorization(scope: dict) -> str | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"authorization":
            return value.decode("latin-1")
    return None


@database_sync_to_async
def _user_for_header(header: str):
    from accounts.tokens import user_for_token

    scheme, _, token = header.strip().partition(" ")
    user = user_for_token(token.strip()) if scheme.lower() == "bearer" else None
    return user or AnonymousUser()


class TokenAuthMiddleware:
    """Sets scope["user"] from the handshake's bearer token; session auth when there is none."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.session_stack = AuthMiddlewareStack(inner)

    async def __call__(self, scope, receive, send):
        header = _authorization(scope)
        if header is None:
            return await self.session_stack(scope, receive, send)
        return await self.inner({**scope, "user": await _user_for_header(header)}, receive, send)
