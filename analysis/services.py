"""Writes shared by the views, the worker and the management commands."""

from __future__ import annotations

from django.core.files import File
from django.db import IntegrityError, transaction

from analysis import cache, jobs, live
from analysis.files import delete_files, video_file_names
from analysis.models import Video


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
    video = Video(
        owner=owner,
        original_name=original_name[:255],
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
    live.push_videos_changed(owner_id)
