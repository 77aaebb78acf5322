"""Fixtures for video tests: generated clips and Video rows backed by real files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from django.core.files import File

from analysis.models import Video


@pytest.fixture
def make_video(db):
    """Create a queued Video row from a file on disk, as an accepted upload would be."""

    def make(owner, path: Path, *, name: str | None = None, container: str = "mp4", **fields) -> Video:
        data = Path(path).read_bytes()
        fields.setdefault("sha256", hashlib.sha256(data).hexdigest())
        video = Video(
            owner=owner, original_name=name or Path(path).name, size=len(data), container=container, **fields
        )
        with open(path, "rb") as fh:
            video.file.save(Path(path).name, File(fh), save=False)
        video.save()
        return video

    return make
