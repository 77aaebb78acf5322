"""Live pushes about videos to their owner's open pages."""

from __future__ import annotations

import logging

from django.template.loader import render_to_string

from analysis.models import Video
from videochat.events import push_html

logger = logging.getLogger(__name__)


def render_status(video: Video) -> str:
    return render_to_string("analysis/_status.html", {"video": video})


def push_video(video: Video) -> None:
    """Push the video's status badge; a push is a hint, so failures are only logged."""
    try:
        push_html(video.owner_id, render_status(video))
    except Exception:
        logger.warning("could not push the status of video %s", video.uuid, exc_info=True)
