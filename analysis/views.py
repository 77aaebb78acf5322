"""Video pages, and the private media view that serves a video's files to its owner only."""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import PurePosixPath
from typing import IO
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.core.handlers.asgi import ASGIRequest
from django.db.models import FloatField, OuterRef, Subquery
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect

from analysis import cache, charts, search, services
from analysis.models import Analysis, Video
from analysis.upload import upload_limits
from videochat.paging import Page, paginate, requested_page
from videochat.ratelimits import limit_exceeded, too_many_requests

# What the browser is told each stored container is (the upload check names them).
VIDEO_TYPES = {
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "matroska": "video/x-matroska",
    "avi": "video/x-msvideo",
    "mpegts": "video/mp2t",
    "mpegps": "video/mpeg",
}
IMAGE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}
CHUNK_SIZE = 64 * 1024
# Pictures are written once under unique names, so the browser may keep them a while.
MEDIA_MAX_AGE = 60 * 60
VIDEOS_PER_PAGE = 24
RANGE_RE = re.compile(r"bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*")

logger = logging.getLogger(__name__)


class RangeNotSatisfiable(Exception):
    pass


def _get_video_for_user(request: HttpRequest, video_uuid: UUID) -> Video:
    """The video if the logged-in user owns it; 404 for anyone else, logged in or not."""
    if not request.user.is_authenticated:
        raise Http404("No such video.")
    return get_object_or_404(Video, uuid=video_uuid, owner=request.user)


def _redirect(request: HttpRequest, to: str) -> HttpResponse:
    return HttpResponseClientRedirect(to) if request.htmx else redirect(to)


def _page(request: HttpRequest, template: str, partial: str, context: dict) -> HttpResponse:
    """The whole page, or only one partial of it when htmx asked."""
    response = render(request, f"{template}#{partial}" if request.htmx else template, context)
    # The same URL answers with a page or a fragment: caches must keep them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


# --- pages ------------------------------------------------------------------


def _list_videos(user, page_number: int) -> Page:
    """One page of the user's videos, newest first, each with its latest poster and duration."""
    latest = Analysis.objects.filter(video=OuterRef("pk"), analyzer=Analysis.LOCAL).order_by(
        "-created_at", "-id"
    )
    duration = latest.annotate(seconds=Cast(KT("metadata__duration"), FloatField())).values("seconds")[:1]
    videos = Video.objects.owned_by(user).annotate(
        poster=Subquery(latest.values("poster")[:1]),
        duration=Subquery(duration, output_field=FloatField()),
    )
    return paginate(videos, page_number, VIDEOS_PER_PAGE)


def _analyses(video: Video) -> list[Analysis]:
    """Every analysis of the video, newest first, cache-first (the owner's version key)."""
    return cache.cached(video.owner_id, f"analyses:{video.uuid.hex}", lambda: list(video.analyses.all()))


def videos_page(user, number: int) -> Page:
    """Page `number` of the user's videos, cache-first (the list and the home page read it)."""
    return cache.cached(user.pk, f"list:{number}", lambda: _list_videos(user, number))


@login_required
@require_GET
def video_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    query = request.GET.get("q", "").strip()
    if query:
        wait = limit_exceeded(request, group="search-user", key="user", rate=settings.RATELIMIT_SEARCH_USER)
        if wait:
            return too_many_requests(
                request, retry_after=wait, what="searches", back=reverse("analysis:video-list")
            )
        context = {
            "query": query,
            "hits": search.search_videos(user, query),
            "upload_limits": upload_limits(),
        }
        return _page(request, "analysis/video_list.html", "search-results", context)
    number = requested_page(request)
    page = videos_page(user, number)
    context = {"videos": page.items, "page": page, "upload_limits": upload_limits()}
    return _page(request, "analysis/video_list.html", "video-list", context)


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
    }


def _start_time(request: HttpRequest) -> str:
    """The `?t=` a scene link carries when there is no script: where the player starts."""
    try:
        seconds = float(request.GET.get("t", ""))
    except ValueError:
        return ""
    return f"{seconds:g}" if math.isfinite(seconds) and seconds > 0 else ""


def _segments(video: Video, analysis: Analysis) -> list[dict]:
    return cache.cached(
        video.owner_id,
        f"segments:{analysis.pk}",
        lambda: list(analysis.segments.values("start", "end", "text")),
    )


def _detail_context(video: Video) -> dict:
    analyses = _analyses(video)
    # The page is built on the newest local analysis (metadata, scenes, transcript).
    analysis = next((a for a in analyses if a.analyzer == Analysis.LOCAL), None)
    context = {
        "video": video,
        "analyses": analyses,
        "analysis": analysis,
        "charts": [],
        "storyboard": None,
        "segments": [],
        "speech": {},
    }
    if analysis is not None:
        context["segments"] = _segments(video, analysis)
        context["speech"] = analysis.extra.get("speech") or {}
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
    return _page(request, "analysis/video_detail.html", "results", context)


@login_required
@require_POST
def video_reanalyze(request: HttpRequest, video_uuid: UUID) -> HttpResponse:
    video = _get_video_for_user(request, video_uuid)
    wait = limit_exceeded(request, group="reanalyse-user", key="user", rate=settings.RATELIMIT_REANALYSE_USER)
    if wait:
        return too_many_requests(
            request, retry_after=wait, what="fresh analyses asked for", back=video.get_absolute_url()
        )
    if video.is_finished:
        services.video_reanalyze(video=video)
        messages.success(request, "A fresh analysis is queued. The earlier ones are kept.")
    else:
        messages.info(request, "This video is being analysed already.")
    # Back to the video, where the new analysis's progress shows live.
    return _redirect(request, video.get_absolute_url())


@login_required
@require_POST
def video_delete(request: HttpRequest, video_uuid: UUID) -> HttpResponse:
    video = _get_video_for_user(request, video_uuid)
    name = video.original_name
    services.video_delete(video=video)
    messages.success(request, f"Deleted “{name}” with its analyses and files.")
    return _redirect(request, reverse("analysis:video-list"))


# --- private media ------------------------------------------------------------


@require_safe
def video_file(request: HttpRequest, video_uuid: UUID) -> HttpResponse:
    """The video's own bytes, with Range support so the player can seek."""
    video = _get_video_for_user(request, video_uuid)
    return _serve(
        request,
        video.file.name,
        VIDEO_TYPES.get(video.container, "application/octet-stream"),
        etag=f'"{video.sha256}"' if video.sha256 else None,
        filename=video.original_name,
    )


@require_safe
def video_media(request: HttpRequest, video_uuid: UUID, name: str) -> HttpResponse:
    """A poster, scene thumbnail or storyboard of one of the video's analyses, by storage name."""
    video = _get_video_for_user(request, video_uuid)
    if name not in {n for analysis in _analyses(video) for n in analysis.media_names()}:
        raise Http404("No such picture.")
    content_type = IMAGE_TYPES.get(PurePosixPath(name).suffix.lower(), "application/octet-stream")
    return _serve(request, name, content_type, max_age=MEDIA_MAX_AGE)


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The (first, last) byte of a single `bytes=` range, inclusive.

    None means "send the whole file": RFC 9110 lets a server ignore a Range
    it does not support (several ranges) or that is malformed. Raises
    RangeNotSatisfiable when the range lies wholly beyond the end.
    """
    match = RANGE_RE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first:
        if not last:
            return None
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(0, size - suffix), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable
    return start, min(end, size - 1)


def _chunks(fh: IO[bytes], start: int, length: int) -> Iterator[bytes]:
    try:
        fh.seek(start)
        while length > 0:
            chunk = fh.read(min(CHUNK_SIZE, length))
            if not chunk:
                break
            length -= len(chunk)
            yield chunk
    finally:
        fh.close()


async def _achunks(fh: IO[bytes], start: int, length: int) -> AsyncIterator[bytes]:
    # Under ASGI, Django would gather a sync iterator into one list (the whole
    # file in memory), so reads happen in a thread and chunks go out one by one.
    try:
        await asyncio.to_thread(fh.seek, start)
        while length > 0:
            chunk = await asyncio.to_thread(fh.read, min(CHUNK_SIZE, length))
            if not chunk:
                break
            length -= len(chunk)
            yield chunk
    finally:
        fh.close()


def _serve(
    request: HttpRequest,
    name: str,
    content_type: str,
    *,
    etag: str | None = None,
    filename: str | None = None,
    max_age: int | None = None,
) -> HttpResponse:
    """Stream a stored file, whole (200) or one byte range of it (206), never read whole.

    A storage that signs URLs (Supabase Storage) serves the bytes itself, Range
    and all: the owner, already checked by the caller, is sent there instead.
    """
    if not name:
        raise Http404("No such file.")
    if hasattr(default_storage, "signed_url"):
        return _redirect_to_signed_url(name)
    try:
        size = default_storage.size(name)
    except OSError as exc:
        raise Http404("No such file.") from exc

    byte_range = None
    header = request.headers.get("Range")
    if_range = request.headers.get("If-Range")
    if header and (if_range is None or (etag is not None and if_range == etag)):
        try:
            byte_range = parse_range(header, size)
        except RangeNotSatisfiable:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return _media_headers(response, content_type, etag, filename, max_age)

    first, last = byte_range or (0, size - 1)
    length = max(0, last - first + 1)
    status = 206 if byte_range else 200
    if request.method == "HEAD":
        response = HttpResponse(status=status)
    else:
        try:
            fh = default_storage.open(name, "rb")
        except OSError as exc:
            raise Http404("No such file.") from exc
        stream = _achunks if isinstance(request, ASGIRequest) else _chunks
        response = StreamingHttpResponse(stream(fh, first, length), status=status)
    response["Content-Length"] = str(length)
    if byte_range:
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    return _media_headers(response, content_type, etag, filename, max_age)


def _redirect_to_signed_url(name: str) -> HttpResponse:
    try:
        url = default_storage.signed_url(name)
    except FileNotFoundError as exc:
        raise Http404("No such file.") from exc
    except OSError:
        logger.exception("could not sign a URL for %s", name)
        return HttpResponse(
            "The media storage did not answer. Please try again in a moment.",
            status=503,
            content_type="text/plain; charset=utf-8",
        )
    response = HttpResponseRedirect(url)
    # The URL is a bearer token for a while: for this user only, never kept.
    response["Cache-Control"] = "private, no-store"
    return response


def _media_headers(
    response: HttpResponse, content_type: str, etag: str | None, filename: str | None, max_age: int | None
) -> HttpResponse:
    response["Content-Type"] = content_type
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private" if max_age is None else f"private, max-age={max_age}"
    response["X-Content-Type-Options"] = "nosniff"
    if etag:
        response["ETag"] = etag
    if filename:
        response["Content-Disposition"] = content_disposition_header(False, filename)
    return response
