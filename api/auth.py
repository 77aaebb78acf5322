"""Who is calling: a personal API token (`Authorization: Bearer …`) or the browser's session.

A request that sends an `Authorization` header is judged by it alone: a
revoked or mistyped token is a 401 even with a session cookie beside it.
Without one, the session counts, with Django's CSRF check on unsafe methods
(the token in the `X-CSRFToken` header, as the pages' htmx sends it).
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth
from ninja.utils import check_csrf

from accounts.tokens import bearer_token, user_for_token
from api.errors import ApiError
from core.bodies import session_may_send

NOT_AUTHENTICATED = (
    "Log in first, or send one of your API tokens (made on your profile page) as "
    "“Authorization: Bearer <token>”."
)
REVOKED_OR_WRONG = (
    "This API token is not valid: it may have been revoked. Make a new one on your profile page."
)
CSRF_FAILED = (
    "The CSRF check failed. With the browser's session, send the csrftoken cookie's value "
    "in an X-CSRFToken header, or use an API token instead."
)


class ApiToken(HttpBearer):
    """A personal API token (its class name is its scheme's name in the OpenAPI schema)."""

    def __call__(self, request: HttpRequest):
        token = bearer_token(request)
        if token is None:
            return None
        user = user_for_token(token)
        if user is None:
            raise ApiError(401, "bad_token", REVOKED_OR_WRONG)
        # The services, rate limits and upload checks read request.user, as on the pages.
        request.user = user
        return user

    def authenticate(self, request: HttpRequest, token: str):  # pragma: no cover (__call__ does it)
        return user_for_token(token)


class BrowserSession(SessionAuth):
    """Django's session, with the CSRF check; only when no Authorization header came."""

    def __call__(self, request: HttpRequest):
        if "Authorization" in request.headers:
            return None
        return super().__call__(request)

    def _get_key(self, request: HttpRequest) -> str | None:
        if not request.user.is_authenticated:
            return None  # nobody is logged in: a 401, not a CSRF failure
        if check_csrf(request) is not None:
            raise ApiError(403, "csrf_failed", CSRF_FAILED)
        return request.COOKIES.get(self.param_name)


token_auth = ApiToken()
session_auth = BrowserSession()


def may_upload(request: HttpRequest) -> bool:
    """The server's question before it reads an API upload's body (core/bodies.py):
    would the view let it in? A token is enough; without one, the page's check."""
    token = bearer_token(request)
    if token is None:
        return session_may_send(request)
    return user_for_token(token, touch=False) is not None
