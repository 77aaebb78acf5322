from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

# File name extensions for the containers the upload check recognises.
CONTAINER_EXTENSIONS = {
    "mp4": ".mp4",
    "mov": ".mov",
    "webm": ".webm",
    "matroska": ".mkv",
    "avi": ".avi",
    "mpegts": ".ts",
    "mpegps": ".mpg",
}


def _video_upload_to(video: Video, filename: str) -> str:
    # The stored name is random; the name the user gave is kept for display only.
    suffix = CONTAINER_EXTENSIONS.get(video.container, "")
    return f"videos/{video.uuid.hex}/source-{uuid.uuid4().hex}{suffix}"


class VideoQuerySet(models.QuerySet["Video"]):
    def owned_by(self, user) -> VideoQuerySet:
        return self.filter(owner=user)

    def unfinished(self) -> VideoQuerySet:
        return self.filter(status__in=[Video.Status.QUEUED, Video.Status.PROCESSING])


class Video(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="videos")
    original_name = models.CharField(max_length=255)
    file = models.FileField(upload_to=_video_upload_to, max_length=255)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    container = models.CharField(max_length=16)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    stage = models.CharField(max_length=80, default="Waiting in the queue")
    failure_reason = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Touched by the running job every few seconds: a stale one means its worker died.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Goes up with every change a page shows (status, stage, progress): a page
    # keeps the newest version of the status it has seen, whatever order the
    # pushes and answers arrive in (README, "Live updates").
    version = models.PositiveIntegerField(default=1)

    objects = VideoQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "-created_at"]), models.Index(fields=["status"])]
        constraints = [
            models.UniqueConstraint(fields=["owner", "sha256"], name="video_owner_content_unique"),
        ]

    def __str__(self) -> str:
        return self.original_name

    def get_absolute_url(self) -> str:
        return reverse("analysis:video-detail", args=[self.uuid])

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.FAILED}

    @property
    def latest_analysis(self) -> Analysis | None:
        """The newest local analysis: the one with the metadata, scenes and transcript."""
        return self.analyses.newest_local().first()

    @property
    def media_prefix(self) -> str:
        """Where this video's files live in storage (the source and every analysis's images)."""
        return f"videos/{self.uuid.hex}"

    # --- state changes, each one save() of the fields it touches (and the version) ---

    def _save_change(self, fields: list[str]) -> None:
        self.version += 1
        self.save(update_fields=[*fields, "version"])

    def mark_queued(self) -> None:
        """Queued for a fresh analysis: its runs are counted from none again."""
        self.status = self.Status.QUEUED
        self.progress = 0
        self.stage = "Waiting in the queue"
        self.failure_reason = ""
        self.finished_at = None
        self.attempts = 0
        self._save_change(["status", "progress", "stage", "failure_reason", "finished_at", "attempts"])

    def mark_processing(self) -> bool:
        """Claim the video for one run: True if this run has it.

        Compare-and-set on (status, attempts) as this copy read them, so two
        copies of one job (a retry and a recovery, say) cannot both claim it.
        """
        now = timezone.now()
        fields = {
            "status": self.Status.PROCESSING,
            "progress": 0,
            "stage": "Starting",
            "failure_reason": "",
            "attempts": self.attempts + 1,
            "started_at": now,
            "heartbeat_at": now,
            "finished_at": None,
            "version": self.version + 1,
        }
        claimed = Video.objects.filter(pk=self.pk, status=self.status, attempts=self.attempts).update(
            **fields
        )
        if claimed:
            for name, value in fields.items():
                setattr(self, name, value)
        return bool(claimed)

    def set_progress(self, percent: int, stage: str) -> None:
        self.progress = max(0, min(100, int(percent)))
        self.stage = stage[:80]
        self.heartbeat_at = timezone.now()
        self._save_change(["progress", "stage", "heartbeat_at"])

    def mark_done(self) -> None:
        self.status = self.Status.DONE
        self.progress = 100
        self.stage = "Done"
        self.finished_at = timezone.now()
        self._save_change(["status", "progress", "stage", "finished_at"])

    def mark_retrying(self) -> None:
        """Back in the queue after an unexpected error, while RQ's retries last."""
        self.status = self.Status.QUEUED
        self.stage = "Retrying after an error"
        self._save_change(["status", "stage"])

    def mark_requeued(self, reason: str) -> bool:
        """Back in the queue because the run that had it stopped (`reason` says how).

        Only if the row is still as read (processing, same attempt): a run that
        finished or a new run that claimed it meanwhile is left alone. True if done.
        """
        fields = {
            "status": self.Status.QUEUED,
            "stage": "Queued again: the worker running it stopped",
            "version": self.version + 1,
        }
        changed = Video.objects.filter(
            pk=self.pk, status=self.Status.PROCESSING, attempts=self.attempts
        ).update(**fields)
        if changed:
            for name, value in fields.items():
                setattr(self, name, value)
        return bool(changed)

    def mark_failed(self, reason: str) -> None:
        self.status = self.Status.FAILED
        self.stage = "Failed"
        self.failure_reason = reason
        self.finished_at = timezone.now()
        self._save_change(["status", "stage", "failure_reason", "finished_at"])

    def is_stalled(self, stale_after: timedelta) -> bool:
        """Processing, but its job has not shown a sign of life for stale_after."""
        if self.status != self.Status.PROCESSING:
            return False
        last_seen = self.heartbeat_at or self.started_at
        return last_seen is None or timezone.now() - last_seen > stale_after


class AnalysisQuerySet(models.QuerySet["Analysis"]):
    def newest_local(self) -> AnalysisQuerySet:
        """Local analyses, newest first: the first is the one with the metadata, scenes and transcript."""
        return self.filter(analyzer=Analysis.LOCAL).order_by("-created_at", "-id")


class Analysis(models.Model):
    """One analysis of a video. Re-analysis adds a row; the history is kept."""

    LOCAL = "local"

    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="analyses")
    analyzer = models.CharField(max_length=32)
    analyzer_version = models.CharField(max_length=32)
    metadata = models.JSONField(default=dict)
    scenes = models.JSONField(default=list)
    timelines = models.JSONField(default=dict)
    silences = models.JSONField(default=list)
    storyboard = models.JSONField(
        default=dict, help_text="Sprite geometry: columns, rows, tile size, interval."
    )
    # Storage names (not URLs): the media view serves them to the owner only.
    poster = models.CharField(max_length=255, blank=True)
    storyboard_image = models.CharField(max_length=255, blank=True)
    # Analyzer-specific results that have no column of their own (transcripts, model output).
    extra = models.JSONField(default=dict, blank=True)
    wall_time = models.FloatField(help_text="Seconds the analysis took.")
    created_at = models.DateTimeField(default=timezone.now)

    objects = AnalysisQuerySet.as_manager()

    class Meta:
        db_table = "video_analysis"
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "analyses"

    def __str__(self) -> str:
        return f"{self.analyzer} {self.analyzer_version} of {self.video}"

    @property
    def duration(self) -> float | None:
        return self.metadata.get("duration")

    def media_names(self) -> set[str]:
        """The storage names of this analysis's images (what the media view may serve)."""
        names = {self.poster, self.storyboard_image, *(s.get("thumbnail", "") for s in self.scenes)}
        return {name for name in names if name}


class TranscriptSegmentQuerySet(models.QuerySet["TranscriptSegment"]):
    def current_for(self, user) -> TranscriptSegmentQuerySet:
        """What the user's videos say now: the segments of each one's newest local analysis.

        "Newest" is an anti-join (no newer local analysis of the same video), so the
        database checks only the segments it has already matched (a search's few
        hits) rather than working out every video's newest analysis first.
        """
        newer = Analysis.objects.filter(video=OuterRef("analysis__video"), analyzer=Analysis.LOCAL).filter(
            Q(created_at__gt=OuterRef("analysis__created_at"))
            | Q(created_at=OuterRef("analysis__created_at"), id__gt=OuterRef("analysis__id"))
        )
        return self.filter(analysis__video__owner=user, analysis__analyzer=Analysis.LOCAL).exclude(
            Exists(newer)
        )


class TranscriptSegment(models.Model):
    """A stretch of speech in a video, from the local analysis's transcription."""

    analysis = models.ForeignKey(Analysis, on_delete=models.CASCADE, related_name="segments")
    start = models.FloatField()
    end = models.FloatField()
    text = models.TextField()

    objects = TranscriptSegmentQuerySet.as_manager()

    class Meta:
        db_table = "transcript_segments"
        ordering = ["analysis", "start", "id"]
        indexes = [models.Index(fields=["analysis", "start"])]

    def __str__(self) -> str:
        return f"{self.start:.1f}-{self.end:.1f}: {self.text[:60]}"
