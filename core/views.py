from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.views import NEW_ACCOUNT
from analysis.selectors import videos_page
from chat.selectors import conversations_page
from core import outages
from core.http import came_from, json_error, wants_json

HOME_VIDEOS = 4
HOME_CONVERSATIONS = 5
HOME_PARTS = {"videos", "conversations"}


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The welcome page; logged in, the latest videos and conversations (from their lists' cache)."""
    if not request.user.is_authenticated:
        return render(request, "home.html")
    videos, conversations = videos_page(request.user, 1), conversations_page(request.user, 1)
    context = {
        "new_account": bool(request.session.get(NEW_ACCOUNT)),
        "videos": videos.items[:HOME_VIDEOS],
        "video_count": videos.count,
        "conversations": conversations.items[:HOME_CONVERSATIONS],
        "conversation_count": conversations.count,
    }
    # The two lists re-read themselves live (templates/home.html).
    part = request.GET.get("part")
    if request.htmx and part in HOME_PARTS:
        return render(request, f"home.html#{part}", context)
    return render(request, "home.html", context)


@outages.exempt
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 with every part up; 503 naming the parts that are down (never the outage page)."""
    parts = outages.part_states()
    down = [name for name, state in parts.items() if state != "up"]
    body = {"status": "ok" if not down else "down", "parts": parts}
    if down:
        body["down"] = down
    return JsonResponse(body, status=503 if down else 200)


CSRF_FAILED = (
    "The page was open for too long, or your browser is blocking cookies for this site. "
    "Reload the page and try again."
)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: our 403 for a failed CSRF check, with a way back to the form.

    Django's `reason` is for the log (CsrfViewMiddleware logs it), not for the user.
    """
    if wants_json(request):
        return json_error(403, "csrf_failed", CSRF_FAILED)
    context = {"message": CSRF_FAILED, "came_from": came_from(request)}
    template = "403_csrf.html#message" if request.htmx else "403_csrf.html"
    return render(request, template, context, status=403)
