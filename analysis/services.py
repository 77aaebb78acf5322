"""Writes shared by the views, the worker and the management commands."""

from __future__ import annotations

import unicodedata

from django.core.files import File
from django.db import IntegrityError, transaction

from analysis import cache, jobs, live
from analysis.files import delete_files, video_file_names
from analysis.models import Clip, Video

# A longer "extension" is part of the name ("notes.from the second day of filming").
LONGEST_EXTENSION = 16


def _name_cut_to(name: str, limit: int) -> str:
    """The name, if longer than `limit` characters, cut to fit while keeping its extension.

    The cut never separates what the eye reads as one character: a letter
    from its combining accent, an emoji from its skin tone or variation
    selector. (ZWJ sequences never get here: Django's multipart parser drops
    the joiner as non-printable.)
    """
    if len(name) <= limit:
        return name
    stem, dot, extension = name.rpartition(".")
    if not stem or len(dot + extension) > LONGEST_EXTENSION:
        stem, extension = name, ""
    else:
        extension = dot + extension
    end = limit - len(extension)
    while end > 0 and _joins_the_one_before(stem[end]):
        end -= 1
    return stem[:end] + extension


def _joins_the_one_before(char: str) -> bool:
    # Marks (Mn, Mc, Me) include combining accents and variation selectors.
    return unicodedata.category(char) in {"Mn", "Mc", "Me"} or "\U0001f3fb" <= char <= "\U0001f3ff"


def video_create(
    *, owner, file: File, original_name: str, size: int, sha256: str, container: str
) -> tuple[Video, bool]:
    """Store an accepted upload and queue its analysis.

    Returns (video, created). The same owner uploading the same content again
    gets the existing video back, and nothing is queued.

    The stored object and the row exist together or not at all: a storage
    failure (an OSError) leaves no row, and a failed row removes the object.
    So call it outside any transaction of your own, whose later rollback
    would leave the object behind.
    """
    existing = Video.objects.filter(owner=owner, sha256=sha256).first()
    if existing is not None:
        return existing, False
    original_name = _name_cut_to(original_name, Video._meta.get_field("original_name").max_length)
    video = Video(
        owner=owner,
        original_name=original_name,
        size=size,
        sha256=sha256,
        container=container,
    )
    # The file goes to storage first: a row never points at a missing file.
    video.file.save(original_name, file, save=False)
    try:
        with transaction.atomic():
            video.save()
            jobs.enqueue_analysis(video)
    except IntegrityError:
        # The same content arrived twice at once; keep the first.
        delete_files([video.file.name])
        return Video.objects.get(owner=owner, sha256=sha256), False
    except Exception:
        delete_files([video.file.name])
        raise
    cache.bump(owner.pk)
    live.push_videos_changed(owner.pk)
    return video, True


def video_reanalyze(*, video: Video) -> None:
    """Queue a fresh analysis; the earlier ones are kept."""
    with transaction.atomic():
        video.mark_queued()
        jobs.enqueue_analysis(video, reanalysis=True)
    cache.bump(video.owner_id)
    live.push_video(video)


def video_delete(*, video: Video) -> None:
    """Delete the video, its analyses and every file that belongs to it."""
    names = video_file_names([video])
    owner_id = video.owner_id
    with transaction.atomic():
        video.delete()
        transaction.on_commit(lambda: delete_files(names))
    cache.bump(owner_id)
    live.push_clips_changed(owner_id)
    live.push_videos_changed(owner_id)


# --- clips --------------------------------------------------------------------


def clip_create(
    *, video: Video, start: float, end: float, mode: str, captions: bool, animated_preview: bool
) -> Clip:
    """A new clip of the video, queued on the `low` queue once the row is committed.

    The range is the caller's to check (analysis.clip_views.ClipForm); the
    database refuses an end at or before the start all the same.
    """
    from analysis import clip_jobs

    with transaction.atomic():
        clip = Clip.objects.create(
            video=video, start=start, end=end, mode=mode, captions=captions, animated_preview=animated_preview
        )
        clip_jobs.enqueue_clip(clip)
    cache.bump(video.owner_id)
    live.push_clips_changed(video.owner_id)
    return clip


def clip_delete(*, clip: Clip) -> None:
    """Delete the clip and its files (once the delete commits)."""
    names = sorted(clip.media_names())
    owner_id = clip.video.owner_id
    with transaction.atomic():
        clip.delete()
        transaction.on_commit(lambda: delete_files(names))
    cache.bump(owner_id)
    live.push_clips_changed(owner_id)
