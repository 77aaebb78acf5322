"""Files that belong to videos, in whatever storage is configured."""

from __future__ import annotations

import logging

from django.core.files.storage import default_storage

logger = logging.getLogger(__name__)


def delete_files(names: list[str]) -> None:
    """Delete stored files; one that cannot be deleted is logged, not raised."""
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not delete %s", name, exc_info=True)


def video_file_names(videos) -> list[str]:
    """Every stored name of these videos: sources, every analysis's images and every clip's files."""
    names: list[str] = []
    for video in videos:
        if video.file:
            names.append(video.file.name)
        for analysis in video.analyses.all():
            names.extend(analysis.media_names())
        for clip in video.clips.all():
            names.extend(clip.media_names())
    return names
