"""Reads of a user's videos and their analyses, each written once.

The pages, the home page, the jobs and (later) the API call these; none
queries the same thing its own way. Cache-first reads go through the owner's
version key (analysis/cache.py), which every change to their videos bumps.
"""

from __future__ import annotations

from uuid import UUID

from django.db.models import FloatField, OuterRef, Subquery
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.http import Http404
from django.shortcuts import get_object_or_404

from analysis import cache
from analysis.models import Analysis, Clip, Video
from core.paging import Page, paginate

VIDEOS_PER_PAGE = 24


def video_for_user(user, video_uuid: UUID) -> Video:
    """The video if this user owns it; 404 for anyone else, logged in or not."""
    if not user.is_authenticated:
        raise Http404("No such video.")
    return get_object_or_404(Video, uuid=video_uuid, owner=user)


def videos_page(user, number: int) -> Page:
    """Page `number` of the user's videos, cache-first (the list and the home page read it)."""
    return cache.cached(user.pk, f"list:{number}", lambda: _list_videos(user, number))


def _list_videos(user, page_number: int) -> Page:
    """One page of the user's videos, newest first, each with its newest poster and duration
    (and, for the API's summary, that analysis's id and time)."""
    latest = Analysis.objects.newest_local().filter(video=OuterRef("pk"))
    duration = latest.annotate(seconds=Cast(KT("metadata__duration"), FloatField())).values("seconds")[:1]
    videos = Video.objects.owned_by(user).annotate(
        poster=Subquery(latest.values("poster")[:1]),
        duration=Subquery(duration, output_field=FloatField()),
        analysis_id=Subquery(latest.values("pk")[:1]),
        analysis_at=Subquery(latest.values("created_at")[:1]),
    )
    return paginate(videos, page_number, VIDEOS_PER_PAGE)


def video_analyses(video: Video) -> list[Analysis]:
    """Every analysis of the video, newest first, cache-first."""
    return cache.cached(video.owner_id, f"analyses:{video.uuid.hex}", lambda: list(video.analyses.all()))


def newest_local(analyses: list[Analysis]) -> Analysis | None:
    """Of a video's analyses (newest first), the local one its page is built on."""
    return next((analysis for analysis in analyses if analysis.analyzer == Analysis.LOCAL), None)


def transcript_segments(video: Video, analysis: Analysis) -> list[dict]:
    """The analysis's transcript lines (start, end, text), cache-first."""
    return cache.cached(
        video.owner_id,
        f"segments:{analysis.pk}",
        lambda: list(analysis.segments.values("start", "end", "text")),
    )


def onscreen_spans(video: Video, analysis: Analysis) -> list[dict]:
    """The text the analysis read on screen (start, end, text, confidence, box, height), cache-first."""
    return cache.cached(
        video.owner_id,
        f"onscreen:{analysis.pk}",
        lambda: list(analysis.onscreen_spans.values("start", "end", "text", "confidence", "box", "height")),
    )


def clip_for_user(user, clip_uuid: UUID) -> Clip:
    """The user's clip (of one of the user's videos), or 404: a stranger's clip does not exist for them."""
    if not user.is_authenticated:
        raise Http404("No such clip.")
    return get_object_or_404(Clip.objects.select_related("video"), uuid=clip_uuid, video__owner=user)


def clips_of(user, *, video: Video | None = None) -> list[Clip]:
    """The user's clips, newest first (of one video when given)."""
    clips = Clip.objects.owned_by(user).select_related("video")
    if video is not None:
        clips = clips.filter(video=video)
    return list(clips[:200])
