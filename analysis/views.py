"""Video pages, and the private media view that serves a video's files to its owner only."""

from __future__ import annotations

import logging
import math
from pathlib import PurePosixPath
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST, require_safe

from accounts.tokens import token_or_session
from analysis import charts, media, search, selectors, services
from analysis.clip_views import ClipForm
from analysis.models import Analysis, Video
from analysis.upload import upload_limits
from core.http import page_or_partial, redirect_to
from core.paging import requested_page
from core.ratelimits import Limit, over_limit

logger = logging.getLogger(__name__)

SEARCHES = Limit("search-user", "user", "RATELIMIT_SEARCH_USER", "searches")
REANALYSES = Limit("reanalyse-user", "user", "RATELIMIT_REANALYSE_USER", "fresh analyses asked for")


def _get_video_for_user(request: HttpRequest, video_uuid: UUID) -> Video:
    return selectors.video_for_user(request.user, video_uuid)


# --- pages ------------------------------------------------------------------


@login_required
@require_GET
def video_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    query = request.GET.get("q", "").strip()
    if query:
        if refused := over_limit(request, SEARCHES, back=reverse("analysis:video-list")):
            return refused
        context = {
            "query": query,
            "hits": search.search_videos(user, query),
            "upload_limits": upload_limits(),
        }
        return page_or_partial(request, "analysis/video_list.html", "search-results", context)
    number = requested_page(request)
    page = selectors.videos_page(user, number)
    context = {"videos": page.items, "page": page, "upload_limits": upload_limits()}
    return page_or_partial(request, "analysis/video_list.html", "video-list", context)


def _storyboard(analysis: Analysis) -> dict | None:
    """The sprite's geometry for the page, or None when this analysis has none."""
    board = analysis.storyboard or {}
    try:
        columns, rows = int(board["columns"]), int(board["rows"])
        width, height = int(board["tile_width"]), int(board["tile_height"])
        interval, count = float(board["interval"]), int(board.get("count") or columns * rows)
    except (KeyError, TypeError, ValueError):
        return None
    if not analysis.storyboard_image or min(columns, rows, width, height, count) <= 0 or interval <= 0:
        return None
    return {
        "image": analysis.storyboard_image,
        "columns": columns,
        "rows": rows,
        "count": count,
        "interval": interval,
        "sheet_width": columns * width,
        "sheet_height": rows * height,
        # Each frame is a link that plays from its moment (over the sprite, one per tile).
        "frames": [round(index * interval, 3) for index in range(min(count, columns * rows))],
    }


def _start_time(request: HttpRequest) -> str:
    """The `?t=` a scene link carries when there is no script: where the player starts."""
    try:
        seconds = float(request.GET.get("t", ""))
    except ValueError:
        return ""
    return f"{seconds:g}" if math.isfinite(seconds) and seconds > 0 else ""


def _detail_context(video: Video) -> dict:
    analyses = selectors.video_analyses(video)
    # The page is built on the newest local analysis (metadata, scenes, transcript, on-screen text).
    analysis = selectors.newest_local(analyses)
    context = {
        "video": video,
        "analyses": analyses,
        "analysis": analysis,
        "charts": [],
        "storyboard": None,
        "segments": [],
        "speech": {},
        "onscreen_spans": [],
        "onscreen": {},
        "clips": selectors.clips_of(video.owner, video=video),
        "clip_form": ClipForm(video=video) if analysis is not None else None,
    }
    if analysis is not None:
        context["segments"] = selectors.transcript_segments(video, analysis)
        context["speech"] = analysis.extra.get("speech") or {}
        context["onscreen_spans"] = selectors.onscreen_spans(video, analysis)
        context["onscreen"] = analysis.extra.get("onscreen") or {}
        context["charts"] = charts.timeline_charts(
            timelines=analysis.timelines, silences=analysis.silences, duration=analysis.duration
        )
        context["storyboard"] = _storyboard(analysis)
    return context


@login_required
@require_GET
def video_detail(request: HttpRequest, video_uuid: UUID) -> HttpResponse:
    video = _get_video_for_user(request, video_uuid)
    context = _detail_context(video)
    context["start"] = _start_time(request)
    return page_or_partial(request, "analysis/video_detail.html", "results", context)


@login_required
@require_POST
def video_reanalyze(request: HttpRequest, video_uuid: UUID) -> HttpResponse:
    video = _get_video_for_user(request, video_uuid)
    if refused := over_limit(request, REANALYSES, back=video.get_absolute_url()):
        return refused
    if video.is_finished:
        services.video_reanalyze(video=video)
        messages.success(request, "A fresh analysis is queued. The earlier ones are kept.")
    else:
        messages.info(request, "This video is being analysed already.")
    # Back to the video, where the new analysis's progress shows live.
    return redirect_to(request, video.get_absolute_url())


@login_required
@require_POST
def video_delete(request: HttpRequest, video_uuid: UUID) -> HttpResponse:
    video = _get_video_for_user(request, video_uuid)
    name = video.original_name
    services.video_delete(video=video)
    messages.success(request, f"Deleted “{name}” with its analyses and files.")
    return redirect_to(request, reverse("analysis:video-list"))


# --- private media ------------------------------------------------------------


@require_safe
@token_or_session  # the API's clients fetch it with their token
def video_file(request: HttpRequest, video_uuid: UUID) -> HttpResponse:
    """The video's own bytes, with Range support so the player can seek."""
    video = _get_video_for_user(request, video_uuid)
    return media.serve_stored(
        request,
        video.file.name,
        media.VIDEO_TYPES.get(video.container, "application/octet-stream"),
        etag=f'"{video.sha256}"' if video.sha256 else None,
        filename=video.original_name,
    )


@require_safe
@token_or_session
def video_media(request: HttpRequest, video_uuid: UUID, name: str) -> HttpResponse:
    """A poster, scene thumbnail or storyboard of one of the video's analyses, by storage name."""
    video = _get_video_for_user(request, video_uuid)
    if name not in {n for analysis in selectors.video_analyses(video) for n in analysis.media_names()}:
        raise Http404("No such picture.")
    content_type = media.IMAGE_TYPES.get(PurePosixPath(name).suffix.lower(), "application/octet-stream")
    return media.serve_stored(request, name, content_type, max_age=media.PICTURE_MAX_AGE)
