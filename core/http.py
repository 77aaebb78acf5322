"""Small answers every app's views share."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect


def came_from(request: HttpRequest) -> str | None:
    """The page the request came from (its Referer), if it is one of ours: a safe link back."""
    referer = request.headers.get("Referer", "")
    if url_has_allowed_host_and_scheme(referer, {request.get_host()}, require_https=request.is_secure()):
        return referer
    return None


# The JSON API's URLs (api/) answer JSON whatever the client's Accept header says.
JSON_PATHS = ("/api/",)


def wants_json(request: HttpRequest) -> bool:
    """The client asked for JSON rather than a page (a script), or asked the JSON API."""
    if request.path_info.startswith(JSON_PATHS):
        return True
    return request.get_preferred_type(["text/html", "application/json"]) == "application/json"


def json_error(status: int, code: str, message: str, **extra) -> JsonResponse:
    """Every JSON error's one shape: a sentence for a person, a stable code for a program.

    `{"error": "...", "code": "not_found"}`, plus what the code needs
    (`fields` for invalid input, `retry_after` for 429 and 503).
    """
    return JsonResponse({"error": message, "code": code, **extra}, status=status)


def redirect_to(request: HttpRequest, to: str) -> HttpResponse:
    """A redirect: for htmx, one it follows with a full page load (HX-Redirect)."""
    return HttpResponseClientRedirect(to) if request.htmx else redirect(to)


def page_or_partial(
    request: HttpRequest,
    template: str,
    partial: str,
    context: dict,
    *,
    status: int = 200,
    defined_in: str | None = None,
) -> HttpResponse:
    """The whole page, or only one partial of it when htmx asked.

    `defined_in`: the template that defines the partial, when the page has it from an include.
    """
    fragment = f"{defined_in or template}#{partial}"
    response = render(request, fragment if request.htmx else template, context, status=status)
    # The same URL answers with a page or a fragment: caches must keep them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response
