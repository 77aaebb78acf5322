"""The API's one error shape, and how every failure becomes it.

`{"error": "<a sentence for a person>", "code": "<stable, for a program>"}`,
plus `fields` (each invalid field's messages) for `invalid`, and
`retry_after` (seconds, also the Retry-After header) for `rate_limited` and
`unavailable`. The site's other JSON answers (413, 408, the CSRF page, an
outage's 503) have the same shape: core.http.json_error makes them all.
"""

from __future__ import annotations

import logging

from django.core.exceptions import SuspiciousOperation, TooManyFilesSent
from django.http import Http404, HttpRequest, HttpResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from ninja import Schema
from ninja.errors import HttpError, ValidationError

from core.http import json_error
from core.outages import part_down, unavailable
from core.ratelimits import Limit, wait_words

logger = logging.getLogger(__name__)

UNREADABLE = "The request's body could not be read. Please try again."
SERVER_ERROR = "Something went wrong on our side. Please try again; if it keeps happening, tell us."
# The places a field can be in, as ninja names them (its errors' `loc` begins with one).
_SOURCES = {"body", "query", "path", "header", "cookie", "form", "file"}


class Error(Schema):
    """Every error answer."""

    error: str
    code: str
    fields: dict[str, list[str]] | None = None
    retry_after: int | None = None


# What any endpoint may answer besides its own: invalid input, not logged in, a failed
# CSRF check, not yours (or none such), a wrong method, over a rate limit, a part down.
ERRORS = (400, 401, 403, 404, 405, 429, 503)


def answers(ok: dict, *more: int) -> dict:
    """An endpoint's `response=`: its own answers, and the Error of every code it may fail with."""
    return {**dict.fromkeys((*ERRORS, *more), Error), **ok}


class ApiError(HttpError):
    def __init__(self, status: int, code: str, message: str, **extra) -> None:
        super().__init__(status, message)
        self.code = code
        self.extra = extra


def invalid(fields: dict[str, list[str]], message: str | None = None) -> ApiError:
    """A 400 naming each invalid field and what is wrong with it."""
    if message is None:
        message = " ".join(f"{name}: {' '.join(errors)}" for name, errors in fields.items())
    return ApiError(400, "invalid", message, fields=fields)


def from_form(form) -> ApiError:
    """A Django form's errors (the same form the page validates with) as a 400."""
    fields = {name: list(errors) for name, errors in form.errors.items() if name != "__all__"}
    general = list(form.non_field_errors())
    message = " ".join([*general, *(f"{name}: {' '.join(errors)}" for name, errors in fields.items())])
    return invalid(fields, message)


def check_limit(request: HttpRequest, limit: Limit) -> None:
    """Count this request against one of the pages' limits; over it, a 429 with Retry-After."""
    wait = limit.exceeded(request)
    if wait:
        message = f"Too many {limit.what}. Please try again in {wait_words(wait)}."
        raise ApiError(429, "rate_limited", message, retry_after=wait)


def _field_name(loc) -> str:
    parts = [str(part) for part in loc]
    if parts and parts[0] in _SOURCES:
        parts = parts[1:]
    # A body given as one schema is named by its parameter: drop it (payload.text is "text").
    if len(parts) > 1 and parts[0] == "payload":
        parts = parts[1:]
    return ".".join(parts) or "body"


def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    fields: dict[str, list[str]] = {}
    for error in exc.errors:
        fields.setdefault(_field_name(error.get("loc", ())), []).append(str(error.get("msg", "is not valid")))
    return _answer(invalid(fields))


def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc, ApiError):
        return _answer(exc)
    if exc.status_code == 401:
        from api.auth import NOT_AUTHENTICATED

        return json_error(401, "not_authenticated", NOT_AUTHENTICATED)
    if exc.status_code == 400:
        return json_error(
            400, "invalid", f"{exc.message}: send a JSON object.", fields={"body": [exc.message]}
        )
    return json_error(exc.status_code, "error", str(exc))


def _answer(exc: ApiError) -> HttpResponse:
    response = json_error(exc.status_code, exc.code, exc.message, **exc.extra)
    if "retry_after" in exc.extra:
        response["Retry-After"] = str(exc.extra["retry_after"])
    return response


def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    message = str(exc) if str(exc).startswith("No such") else "No such thing among yours."
    return json_error(404, "not_found", message)


def _unreadable(request: HttpRequest, exc: Exception) -> HttpResponse:
    if isinstance(exc, TooManyFilesSent):
        return json_error(400, "too_many_files", str(exc) or UNREADABLE)
    logger.info("unreadable API request body", exc_info=True)
    return json_error(400, "unreadable", UNREADABLE)


def _anything_else(request: HttpRequest, exc: Exception) -> HttpResponse:
    if part_down(exc) is not None:
        return unavailable(request, exc)  # 503 with Retry-After, in the same shape
    logger.error("API error: %s %s", request.method, request.path, exc_info=exc)
    return json_error(500, "server_error", SERVER_ERROR)


def install(api) -> None:
    api.add_exception_handler(ValidationError, _validation_error)
    api.add_exception_handler(HttpError, _http_error)
    api.add_exception_handler(Http404, _not_found)
    for unreadable in (MultiPartParserError, SuspiciousOperation, UnreadablePostError):
        api.add_exception_handler(unreadable, _unreadable)
    api.add_exception_handler(Exception, _anything_else)


def not_found_view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """Any other URL under the API: a JSON 404, not the site's page."""
    return json_error(404, "not_found", "There is no such API endpoint; see /api/v1/docs.")


def method_not_allowed(response: HttpResponse) -> HttpResponse:
    allowed = response.get("Allow", "")
    answer = json_error(405, "method_not_allowed", f"This endpoint takes only {allowed or 'other methods'}.")
    answer["Allow"] = allowed
    return answer
