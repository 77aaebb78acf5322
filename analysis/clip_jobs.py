"""The clip job: cut one Clip's range of its video in a worker, its outcome on its row.

Like the analysis job (analysis/jobs.py) it is idempotent and leaves
enqueueing, retries and recovery to the job runner (core.jobs); this module
declares the kind (`CLIP`, on the `low` queue: a clip must never hold up a
fresh upload's analysis) and runs one clip. The cutting itself is the pure
analysis/analyzers/cut.py.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.template.loader import render_to_string
from rq import Retry

from analysis import cache
from analysis.analyzers.cut import Caption, CutError, cut
from analysis.files import delete_files
from analysis.jobs import _heartbeat, _local_path
from analysis.models import Clip, TranscriptSegment
from core.consumers import push_html
from core.jobs import JobRowKind

logger = logging.getLogger(__name__)


class ClipCut(JobRowKind):
    name = "clip"
    model = Clip
    job = "analysis.clip_jobs.cut_clip"
    job_prefix = "clip"
    description = "cut clip"
    queue = "low"
    retry = Retry(max=2, interval=[10, 60])
    owner_path = "video__owner"
    stale_note = "no sign of life from its cut"
    gave_up = "The cut stopped several times before it could finish, so we gave up on it."
    unexpected = "The cut stopped on an unexpected error. Delete this clip and try again."
    title = "unfinished clips"
    counted = ("clip(s)", "clip(s)")

    @property
    def max_attempts(self) -> int:
        return settings.CLIP_MAX_ATTEMPTS

    def publish(self, clip: Clip) -> None:
        # Best effort, like a video's: the row is saved whatever Redis does.
        cache.bump_after_save(clip.video.owner_id)
        push_clip(clip)


CLIP = ClipCut()


def push_clip(clip: Clip) -> None:
    """Push the clip's status badge; a push is a hint, so failures are only logged."""
    try:
        push_html(clip.video.owner_id, render_to_string("analysis/_clip_status.html", {"clip": clip}))
    except Exception:
        logger.warning("could not push the status of clip %s", clip.uuid, exc_info=True)


def enqueue_clip(clip: Clip) -> None:
    CLIP.enqueue_on_commit(clip)


def _captions(clip: Clip) -> list[Caption]:
    """The lines of the video's newest transcript that overlap the clip."""
    analysis = clip.video.latest_analysis
    if analysis is None:
        return []
    segments = TranscriptSegment.objects.filter(analysis=analysis, end__gt=clip.start, start__lt=clip.end)
    return [Caption(s.start, s.end, s.text) for s in segments]


def cut_clip(clip_id: int) -> str:
    """The queue job: cut one clip and record the outcome on its row."""
    clip = Clip.objects.select_related("video__owner").filter(pk=clip_id).first()
    if clip is None:
        return "clip deleted"
    if (skipped := CLIP.claim(clip)) is not None:
        return skipped
    saved: list[str] = []
    try:
        with _heartbeat(clip.pk, Clip), _local_path(clip.video) as path, tempfile.TemporaryDirectory() as out:
            clip.set_progress(10, "Cutting")
            push_clip(clip)
            result = cut(
                path,
                out,
                start=clip.start,
                end=clip.end,
                mode=clip.mode,
                captions=_captions(clip) if clip.captions and clip.mode == Clip.Mode.EXACT else (),
                preview=clip.animated_preview,
            )
            clip.set_progress(90, "Saving")
            push_clip(clip)

            def save(local: Path | None) -> str:
                if local is None:
                    return ""
                with open(local, "rb") as fh:
                    stored = default_storage.save(f"{clip.media_prefix}/{local.name}", File(fh))
                saved.append(stored)
                return stored

            names = {
                "file": save(result.clip),
                "preview": save(result.preview),
                "poster": save(result.poster),
            }
            with transaction.atomic():
                if CLIP.superseded(clip):
                    delete_files(saved)
                    return "superseded by a later run"
                clip.mark_done(**names, size=result.clip.stat().st_size, start_used=result.start_used)
    except Exception as exc:
        if not Clip.objects.filter(pk=clip.pk).exists():
            delete_files(saved)
            return "clip deleted"
        delete_files(saved)
        if not isinstance(exc, CutError):
            CLIP.retry_or_fail(clip)
            raise
        logger.warning("clip %s failed: %s", clip.uuid, exc.detail)
        CLIP.fail(clip, exc.reason)
        return "failed"
    CLIP.publish(clip)
    return "done"
