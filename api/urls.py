"""The API's URL patterns (mounted at /api/v1/ by videochat/urls.py).

Three things ninja's patterns do not do by themselves:
- the upload's body limit and its gate (core/bodies.py): the server checks
  the size and the caller before it reads the body, as for the page's upload;
- a wrong method answers the API's JSON 405, not an empty one;
- any other URL under /api/v1/ (its root too) answers the API's JSON 404.

And one pattern of ours: ReDoc at /api/v1/redoc (api/docs.py), as ninja
serves only one docs UI (Swagger UI, /api/v1/docs).
"""

from __future__ import annotations

from functools import wraps

from django.http import HttpResponseNotAllowed
from django.urls import path, re_path

from analysis.upload import install_upload_handler, upload_body_bytes
from api.auth import may_upload
from api.docs import redoc
from api.errors import method_not_allowed, not_found_view
from api.main import api
from core.bodies import accepts_body

UPLOAD_URL_NAME = "videos"


def _json_405(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        return method_not_allowed(response) if isinstance(response, HttpResponseNotAllowed) else response

    return wrapper


def _streams_uploads(view):
    """The upload's streaming checks, in place before anything reads the body: the
    session's CSRF check reads it when the token came as a form field."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method == "POST":
            install_upload_handler(request)
        return view(request, *args, **kwargs)

    return wrapper


# The server checks the size and the caller (a token, or the session and CSRF) before it reads the body.
_upload_body = accepts_body(max_bytes=upload_body_bytes, members_only=True, what="upload", gate=may_upload)


def _patterns() -> list:
    patterns, _app, _namespace = api.urls
    for pattern in patterns:
        view = _json_405(pattern.callback)
        if pattern.name == UPLOAD_URL_NAME:
            view = _upload_body(_streams_uploads(view))
        if pattern.name == "api-root":
            view = not_found_view  # ninja's raises Http404: the site's HTML page
        pattern.callback = view
    return [
        *patterns,
        path("redoc", _json_405(redoc), name="redoc"),
        re_path(r"^.*$", not_found_view, name="not-found"),
    ]


app_name = "api"
urlpatterns = _patterns()
