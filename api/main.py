"""The JSON API, /api/v1/: one NinjaAPI, its routers, its docs and its error handling."""

from __future__ import annotations

import json

from django.http import HttpRequest
from ninja import NinjaAPI, Swagger
from ninja.parser import Parser

from api import chat, errors, videos
from api.auth import session_auth, token_auth

DESCRIPTION = """
Your videos and conversations, for scripts and other front ends: the same data
and the same rules as the pages (limits, checks, rate limits).

**Authentication**: an API token from your profile page, sent as
`Authorization: Bearer <token>`; or, from a page of this site, the browser's
session with its CSRF token in an `X-CSRFToken` header.

**Errors** all look alike: `{"error": "<a sentence for a person>", "code":
"<stable>"}`, with `fields` (what is wrong with each field) for `invalid`, and
`retry_after` (seconds, also in the `Retry-After` header) for `rate_limited`
(429) and `unavailable` (503). Another user's video, conversation or message
is a 404, as one that does not exist.

**Live replies**: a sent message's reply is written by a worker; poll
`GET …/messages/{id}` until its `status` is `complete` or `failed`, or hold
the site's websocket (`/ws/events/`) for its chunks.
"""


class ObjectParser(Parser):
    """Every body the API takes is a JSON object. Ninja reads a schema from any value's
    attributes (an array, a string: `"x".title` is a method), so anything else is refused here."""

    def parse_body(self, request: HttpRequest) -> dict:
        data = json.loads(request.body)
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        return data


api = NinjaAPI(
    title="VideoChat API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    auth=[token_auth, session_auth],
    # Served from our static files (no CDN); no validator badge fetched from elsewhere.
    docs=Swagger(settings={"validatorUrl": None, "persistAuthorization": True}),
    docs_url="/docs",
    openapi_url="/openapi.json",
    parser=ObjectParser(),
)
errors.install(api)
api.add_router("", videos.router)
api.add_router("", chat.router)
