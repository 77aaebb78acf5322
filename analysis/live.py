"""Live pushes about videos to their owner's open pages."""

from __future__ import annotations

import logging

from django.template.loader import render_to_string

from analysis.models import Video
from core.consumers import push_event, push_html

logger = logging.getLogger(__name__)

# The event a page's video lists listen for (the first page of /videos/, the home page).
VIDEOS_CHANGED = "videos-changed"
# The event the clip lists listen for (the Clips page, a video's page).
CLIPS_CHANGED = "clips-changed"


def render_status(video: Video) -> str:
    return render_to_string("analysis/_status.html", {"video": video})


def push_video(video: Video) -> None:
    """Push the video's status badge; a push is a hint, so failures are only logged."""
    try:
        push_html(video.owner_id, render_status(video))
    except Exception:
        logger.warning("could not push the status of video %s", video.uuid, exc_info=True)


def push_videos_changed(owner_id: int) -> None:
    """A video was added or deleted: the owner's open lists re-read themselves."""
    push_event(owner_id, VIDEOS_CHANGED)


def push_clips_changed(owner_id: int) -> None:
    """A clip was asked for or deleted: the owner's open clip lists re-read themselves."""
    push_event(owner_id, CLIPS_CHANGED)
