"""Small answers every app's views share."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
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


def wants_json(request: HttpRequest) -> bool:
    """The client asked for JSON rather than a page (a script, an API client)."""
    return request.get_preferred_type(["text/html", "application/json"]) == "application/json"


def redirect_to(request: HttpRequest, to: str) -> HttpResponse:
    """A redirect: for htmx, one it follows with a full page load (HX-Redirect)."""
    return HttpResponseClientRedirect(to) if request.htmx else redirect(to)


def page_or_partial(
    request: HttpRequest, template: str, partial: str, context: dict, *, status: int = 200
) -> HttpResponse:
    """The whole page, or only one partial of it when htmx asked."""
    response = render(request, f"{template}#{partial}" if request.htmx else template, context, status=status)
    # The same URL answers with a page or a fragment: caches must keep them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response
