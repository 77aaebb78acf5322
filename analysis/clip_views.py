"""Clips: make one from a range of a video, list them, watch, download and delete them.

The cut is the worker's (analysis.clip_jobs); these views check the request,
write through analysis.services and read through analysis.selectors.
"""

from __future__ import annotations

import math
from uuid import UUID

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST, require_safe

from accounts.tokens import token_or_session
from analysis import media, selectors, services
from analysis.models import Clip, Video
from core.http import page_or_partial, redirect_to
from core.ratelimits import Limit, over_limit

CLIPS = Limit("clip-user", "user", "RATELIMIT_CLIP_USER", "clips asked for")


def _seconds(value: str) -> float:
    """Seconds from "83.5", "1:23.5" or "0:01:23"; ValueError for anything else."""
    parts = value.strip().split(":")
    if not 1 <= len(parts) <= 3 or any(not p.strip() for p in parts):
        raise ValueError(value)
    seconds = 0.0
    for part in parts:
        number = float(part)
        if not math.isfinite(number) or number < 0:
            raise ValueError(value)
        seconds = seconds * 60 + number
    return seconds


class TimeField(forms.Field):
    """A time in the video: seconds ("83.5") or minutes:seconds ("1:23.5"), as a float of seconds."""

    default_error_messages = {"invalid": "Give a time as seconds (83.5) or minutes:seconds (1:23.5)."}

    def to_python(self, value) -> float | None:
        if value in self.empty_values or (isinstance(value, str) and not value.strip()):
            return None
        try:
            if len(str(value)) > 16:
                raise ValueError(value)
            return _seconds(str(value))
        except ValueError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class ClipForm(forms.Form):
    start = TimeField()
    end = TimeField()
    mode = forms.ChoiceField(choices=Clip.Mode.choices, initial=Clip.Mode.EXACT)
    captions = forms.BooleanField(required=False)
    animated_preview = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, video: Video, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.video = video

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start is None or end is None:
            return data
        if end <= start:
            raise forms.ValidationError("The clip must end after it starts.", code="order")
        if end - start > settings.CLIP_MAX_SECONDS:
            raise forms.ValidationError(
                f"A clip can be at most {settings.CLIP_MAX_SECONDS} seconds long.", code="too_long"
            )
        analysis = self.video.latest_analysis
        duration = analysis.duration if analysis is not None else None
        if duration is None:
            raise forms.ValidationError(
                "The video's length is not known yet: wait for its analysis to finish.", code="unknown_length"
            )
        if end > duration + 1e-3:
            raise forms.ValidationError(
                f"The video is only {duration:.2f} seconds long: the clip must end by then.", code="range"
            )
        if data.get("captions") and data.get("mode") == Clip.Mode.FAST:
            raise forms.ValidationError(
                "A fast cut copies the pictures as they are: captions need an exact cut.", code="captions"
            )
        return data


def _lines_range(video: Video, data) -> dict:
    """The form's data with start and end set from the transcript lines chosen (`line`: their starts).

    The page sends each chosen line's start; the range runs from the first
    chosen line's start to the last one's end, in the newest transcript.
    """
    if "line" not in data:
        return data
    chosen = data.getlist("line")
    data = data.copy()
    analysis = video.latest_analysis
    starts = set()
    for value in chosen[:1000]:
        try:
            starts.add(round(float(value), 3))
        except ValueError:
            continue
    segments = [
        segment
        for segment in (analysis.segments.order_by("start") if analysis is not None else [])
        if round(segment.start, 3) in starts
    ]
    if segments:
        data["start"], data["end"] = f"{segments[0].start:.3f}", f"{segments[-1].end:.3f}"
    else:
        data["start"] = data["end"] = ""
    return data


@login_required
@require_POST
def clip_create(request: HttpRequest, video_uuid: UUID) -> HttpResponse:
    """Make a clip of a range: typed in, a scene's, a search hit's, or the transcript lines chosen."""
    video = selectors.video_for_user(request.user, video_uuid)
    data = _lines_range(video, request.POST)
    form = ClipForm(data, video=video)
    if "line" in data and not data["start"]:
        form.is_valid()
        form.add_error(None, "Choose one or more lines of the transcript to clip.")
    if not form.is_valid():
        context = {"video": video, "form": form, "clips": selectors.clips_of(request.user, video=video)}
        return render(request, "analysis/clip_list.html", context, status=400)
    if refused := over_limit(request, CLIPS, back=video.get_absolute_url()):
        return refused
    clip = services.clip_create(video=video, **form.cleaned_data)
    messages.success(request, f"The clip from {clip.start:.1f} s to {clip.end:.1f} s is queued.")
    return redirect_to(request, reverse("analysis:clip-list") + f"?video={video.uuid}")


@login_required
@require_GET
def clip_list(request: HttpRequest) -> HttpResponse:
    video = None
    if wanted := request.GET.get("video"):
        try:
            video = selectors.video_for_user(request.user, UUID(wanted))
        except ValueError:
            raise Http404("No such video.") from None
    # A link from a search hit or an assistant's reply names the range: the form comes filled in.
    initial = {name: request.GET[name][:16] for name in ("start", "end") if name in request.GET}
    context = {
        "video": video,
        "form": ClipForm(video=video, initial=initial) if video is not None else None,
        "clips": selectors.clips_of(request.user, video=video),
    }
    # htmx asks for the list alone when it re-reads itself (live).
    return page_or_partial(
        request, "analysis/clip_list.html", "clip-items", context, defined_in="analysis/_clips.html"
    )


@login_required
@require_POST
def clip_delete(request: HttpRequest, clip_uuid: UUID) -> HttpResponse:
    clip = selectors.clip_for_user(request.user, clip_uuid)
    services.clip_delete(clip=clip)
    messages.success(request, "Deleted the clip and its files.")
    return redirect_to(request, reverse("analysis:clip-list"))


@require_safe
@token_or_session
def clip_file(request: HttpRequest, clip_uuid: UUID) -> HttpResponse:
    """The clip's video, with Range; `?download=1` names it for saving."""
    clip = selectors.clip_for_user(request.user, clip_uuid)
    stem = clip.video.original_name.rsplit(".", 1)[0]
    filename = f"{stem} {clip.start:.1f}-{clip.end:.1f}.mp4" if request.GET.get("download") else None
    return media.serve_stored(request, clip.file, "video/mp4", etag=f'"{clip.uuid.hex}"', filename=filename)


@require_safe
@token_or_session
def clip_picture(request: HttpRequest, clip_uuid: UUID, which: str) -> HttpResponse:
    """The clip's animated preview (WebP) or poster (JPEG)."""
    clip = selectors.clip_for_user(request.user, clip_uuid)
    name = {"preview": clip.preview, "poster": clip.poster}.get(which, "")
    content_type = "image/webp" if which == "preview" else "image/jpeg"
    return media.serve_stored(request, name, content_type, max_age=media.PICTURE_MAX_AGE)
