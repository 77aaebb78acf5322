"""The video analysis job: one video, analysed in a worker, its outcome on its row.

The job is idempotent: it reads the row, skips finished work, and writes the
outcome to the row. Enqueueing, retries and the recovery of lost jobs are the
job runner's (core.jobs); this module declares the kind (`ANALYSIS`) and runs
one video.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection, models, transaction
from django.dispatch import Signal
from django.utils import timezone
from rq import Retry

from analysis import cache, gemini, live
from analysis.analyzers.local import ANALYZER_NAME, ANALYZER_VERSION, AnalysisError, analyze
from analysis.analyzers.onscreen import MODEL_NAME as ONSCREEN_MODEL
from analysis.analyzers.onscreen import OnscreenTextUnavailable, read_onscreen_text
from analysis.analyzers.transcribe import MODEL_NAME, TranscriptionUnavailable, transcribe
from analysis.files import delete_files
from analysis.models import Analysis, OnscreenTextSpan, TranscriptSegment, Video
from core.jobs import JobRowKind

logger = logging.getLogger(__name__)

# Sent when a video's analysis ends: sender=Video, video=..., analysis=the new
# Analysis, or None when the video failed.
analysis_finished = Signal()

RETRY = Retry(max=3, interval=[10, 60, 300])
HEARTBEAT_SECONDS = 5
# Progress: the local analysis takes the first part of the bar; the transcript and
# the on-screen text (those switched on) share the rest equally.
LOCAL_SHARE = 70
TRANSCRIBE_STAGE = "Transcribing speech"
ONSCREEN_STAGE = "Reading on-screen text"


class VideoAnalysis(JobRowKind):
    name = "video"
    model = Video
    job = "analysis.jobs.analyze_video"
    job_prefix = "analyze"
    description = "analyse video"
    queue = "default"  # re-analysis goes to "low"
    retry = RETRY
    stale_note = "no sign of life from its analysis"
    gave_up = "The analysis stopped several times before it could finish, so we gave up on it."
    unexpected = (
        "The analysis stopped on an unexpected error. Try “Re-analyse”; if it fails again, "
        "the file may use a format we cannot read."
    )
    title = "unfinished videos"
    counted = ("video(s)", "video(s)")

    @property
    def max_attempts(self) -> int:
        return settings.ANALYSIS_MAX_ATTEMPTS

    def publish(self, video: Video) -> None:
        # A Redis that is away must not fail (or kill) the job that saved the row.
        cache.bump_after_save(video.owner_id)
        live.push_video(video)

    def fail(self, video: Video, reason: str) -> None:
        super().fail(video, reason)
        _announce(video, None)


ANALYSIS = VideoAnalysis()
job_id = ANALYSIS.job_id
why_waiting = ANALYSIS.why_waiting
recover_lost = ANALYSIS.recover


def enqueue_analysis(video: Video, *, reanalysis: bool = False) -> None:
    """Queue the analysis once the current transaction commits (re-analysis on the `low` queue)."""
    ANALYSIS.enqueue_on_commit(video, queue="low" if reanalysis else "default")


@contextmanager
def _heartbeat(video_id: int, model: type[models.Model] = Video):
    """Touch the row (a Video's, or a Clip's) every few seconds while the job runs, from a thread."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(HEARTBEAT_SECONDS):
                try:
                    model.objects.filter(pk=video_id).update(heartbeat_at=timezone.now())
                except DatabaseError:
                    # A blip: drop the connection and beat again next time, or the run looks dead.
                    logger.warning("could not touch video %s's heartbeat", video_id, exc_info=True)
                    connection.close()
        finally:
            # This thread's own connection: closed now, not left to the garbage collector.
            connection.close()

    thread = threading.Thread(target=beat, name=f"heartbeat-{video_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=HEARTBEAT_SECONDS + 5)


@contextmanager
def _local_path(video: Video):
    """A path on local disk for the video: the file itself, or one streamed copy.

    A remote storage that can `download(name, target)` writes straight into the
    copy; opening the file instead would spool a second copy first.
    """
    try:
        yield Path(video.file.path)
        return
    except NotImplementedError:
        pass
    download = getattr(video.file.storage, "download", None)
    with tempfile.NamedTemporaryFile(suffix=Path(video.file.name).suffix) as tmp:
        if download is not None:
            download(video.file.name, tmp)
        else:
            with video.file.open("rb") as source:
                shutil.copyfileobj(source, tmp, 1024 * 1024)
        tmp.flush()
        yield Path(tmp.name)


class _Progress:
    """Writes progress to the row and pushes it, at most a few times a second."""

    def __init__(self, video: Video) -> None:
        self.video = video
        self.last = 0.0

    def __call__(self, percent: int, stage: str) -> None:
        now = time.monotonic()
        if stage == self.video.stage and now - self.last < 0.5 and percent < 100:
            return
        self.last = now
        self.video.set_progress(percent, stage)
        live.push_video(self.video)


def _top() -> int:
    """Where the local stages end on the progress bar: Gemini's stage, when on, takes the rest."""
    return gemini.PROGRESS_FROM if gemini.enabled() else 99


def _later_stages() -> list[str]:
    """The stages after the local analysis that are switched on, in the order they run."""
    return [
        stage
        for stage, on in (
            (TRANSCRIBE_STAGE, settings.TRANSCRIBE_SPEECH),
            (ONSCREEN_STAGE, settings.ONSCREEN_TEXT),
        )
        if on
    ]


def _stage_progress(stage: str, report: _Progress):
    """Report the stage's progress (a fraction done) within its share of the bar."""
    stages = _later_stages()
    width = (_top() - LOCAL_SHARE) / len(stages)
    start = LOCAL_SHARE + stages.index(stage) * width
    report(int(start), stage)
    return lambda done: report(int(start + done * width), stage)


def _transcribe(path: Path, metadata: dict, report: _Progress) -> dict:
    """The speech stage: a transcript, or a note saying why there is none."""
    progress = _stage_progress(TRANSCRIBE_STAGE, report)
    try:
        speech = transcribe(path, duration=metadata.get("duration"), progress=progress)
    except TranscriptionUnavailable as exc:
        # The rest of the analysis stands; the page says why the transcript is missing.
        logger.warning("no transcript: %s (%s)", exc.reason, getattr(exc, "detail", ""))
        return {"segments": [], "note": f"No transcript: {exc.reason}", "model": MODEL_NAME}
    return speech


def _read_onscreen_text(path: Path, result: dict, report: _Progress) -> dict:
    """The on-screen text stage: the spans read where the picture changes, or a note saying why none."""
    progress = _stage_progress(ONSCREEN_STAGE, report)
    try:
        onscreen = read_onscreen_text(
            path, duration=result["metadata"].get("duration"), cuts=result.get("cuts", []), progress=progress
        )
    except OnscreenTextUnavailable as exc:
        # As with speech: the rest of the analysis stands; the page says why there is no text.
        logger.warning("no on-screen text: %s (%s)", exc.reason, getattr(exc, "detail", ""))
        onscreen = {"spans": [], "note": f"No on-screen text: {exc.reason}", "model": ONSCREEN_MODEL}
    if note := onscreen.get("note"):
        onscreen["note"] = note if note.endswith(".") else f"{note}."  # shown as a sentence
    return onscreen


def _store(video: Video, result: dict, out_dir: Path, wall_time: float, saved: list[str]) -> Analysis:
    """Save the images to storage (their names go into `saved`) and create the row."""
    prefix = f"{video.media_prefix}/analysis-{timezone.now():%Y%m%d%H%M%S%f}"

    def save(name: str | None) -> str:
        if not name:
            return ""
        with open(out_dir / name, "rb") as fh:
            stored = default_storage.save(f"{prefix}/{name}", File(fh))
        saved.append(stored)
        return stored

    scenes = [{**scene, "thumbnail": save(scene.get("thumbnail"))} for scene in result["scenes"]]
    storyboard = dict(result.get("storyboard") or {})
    storyboard_image = save(storyboard.pop("image", None))
    speech = result.get("speech") or {}
    onscreen = result.get("onscreen") or {}
    analysis = Analysis.objects.create(
        video=video,
        analyzer=ANALYZER_NAME,
        analyzer_version=ANALYZER_VERSION,
        metadata=result["metadata"],
        scenes=scenes,
        timelines=result["timelines"],
        silences=result.get("silences", []),
        storyboard=storyboard,
        poster=save(result.get("poster")),
        storyboard_image=storyboard_image,
        extra={
            "cuts": result.get("cuts", []),
            "speech": {key: value for key, value in speech.items() if key != "segments"},
            "onscreen": {key: value for key, value in onscreen.items() if key != "spans"},
        },
        wall_time=round(wall_time, 3),
    )
    TranscriptSegment.objects.bulk_create(
        TranscriptSegment(analysis=analysis, start=s["start"], end=s["end"], text=s["text"])
        for s in speech.get("segments", [])
    )
    OnscreenTextSpan.objects.bulk_create(
        OnscreenTextSpan(
            analysis=analysis,
            start=s["start"],
            end=s["end"],
            text=s["text"],
            confidence=s.get("confidence", 0.0),
            box=list(s.get("box") or []),
            height=s.get("height", 0.0),
        )
        for s in onscreen.get("spans", [])
    )
    return analysis


class _Superseded(Exception):
    """Another run of the same video started after this one: this one's result is dropped."""


def _announce(video: Video, analysis: Analysis | None) -> None:
    """Tell the listeners (chat's follow-up summaries). Their failure is theirs: the
    outcome is saved, and the job must not fail (or be run again) because of it."""
    for receiver, result in analysis_finished.send_robust(sender=Video, video=video, analysis=analysis):
        if isinstance(result, Exception):
            logger.error("after video %s: %s failed: %s", video.uuid, receiver, result, exc_info=result)


def analyze_video(video_id: int) -> str:
    """The queue job: analyse one video and record the outcome on its row."""
    video = Video.objects.select_related("owner").filter(pk=video_id).first()
    if video is None:
        return "video deleted"
    if (skipped := ANALYSIS.claim(video)) is not None:
        return skipped
    saved: list[str] = []
    try:
        with _heartbeat(video.pk), _local_path(video) as path, tempfile.TemporaryDirectory() as out:
            started = time.monotonic()
            report = _Progress(video)
            share = LOCAL_SHARE if _later_stages() else (gemini.PROGRESS_FROM if gemini.enabled() else 100)
            result = analyze(
                path,
                out,
                # The analyzer's own "Done" would flash before the later stages start.
                progress=lambda percent, stage: (
                    report(percent * share // 100, stage) if share == 100 or percent < 100 else None
                ),
            )
            if settings.TRANSCRIBE_SPEECH:
                result["speech"] = _transcribe(path, result["metadata"], report)
            if settings.ONSCREEN_TEXT:
                result["onscreen"] = _read_onscreen_text(path, result, report)
            local_seconds = time.monotonic() - started
            # Network only, outside the transaction; it never raises (a failure is its outcome).
            duration = result["metadata"].get("duration")
            asked = (
                gemini.ask_gemini(video, path, duration=duration, progress=report)
                if gemini.enabled()
                else None
            )
            with transaction.atomic():
                if ANALYSIS.superseded(video):
                    raise _Superseded
                analysis = _store(video, result, Path(out), local_seconds, saved)
                if asked is not None:
                    asked.save(video=video)
                video.mark_done()
    except _Superseded:
        delete_files(saved)
        return "superseded by a later run"
    except Exception as exc:
        if not Video.objects.filter(pk=video.pk).exists():
            # Deleted while it was being analysed: drop what this run wrote, and stop.
            delete_files(saved)
            return "video deleted"
        if not isinstance(exc, AnalysisError):
            ANALYSIS.retry_or_fail(video)
            raise
        # The file itself is the problem: trying again will not help.
        ANALYSIS.fail(video, exc.reason)
        return "failed"
    ANALYSIS.publish(video)
    _announce(video, analysis)
    return "done"
