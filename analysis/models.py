from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Exists, F, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from core.job_rows import JobRow

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


class Video(JobRow):
    """An uploaded video; its analysis is the queue job that works on the row (analysis.jobs)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="videos")
    original_name = models.CharField(max_length=255)
    file = models.FileField(upload_to=_video_upload_to, max_length=255)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    container = models.CharField(max_length=16)

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
    def latest_analysis(self) -> Analysis | None:
        """The newest local analysis: the one with the metadata, scenes and transcript."""
        return self.analyses.newest_local().first()

    @property
    def media_prefix(self) -> str:
        """Where this video's files live in storage (the source, every analysis's images, its clips)."""
        return f"videos/{self.uuid.hex}"

    def mark_queued(self) -> None:
        """Queued for a fresh analysis: its runs are counted from none again."""
        self.status = self.Status.QUEUED
        self.progress = 0
        self.stage = "Waiting in the queue"
        self.failure_reason = ""
        self.finished_at = None
        self.attempts = 0
        self._save_change(["status", "progress", "stage", "failure_reason", "finished_at", "attempts"])

    def mark_done(self) -> None:
        self._mark_done()


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


class AnalysisPartQuerySet(models.QuerySet):
    """Rows that belong to an analysis: transcript segments, on-screen text spans."""

    def current_for(self, user) -> AnalysisPartQuerySet:
        """What the user's videos say (or show) now: the rows of each one's newest local analysis.

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

    objects = AnalysisPartQuerySet.as_manager()

    class Meta:
        db_table = "transcript_segments"
        ordering = ["analysis", "start", "id"]
        indexes = [models.Index(fields=["analysis", "start"])]

    def __str__(self) -> str:
        return f"{self.start:.1f}-{self.end:.1f}: {self.text[:60]}"


class OnscreenTextSpan(models.Model):
    """A line of text seen on screen (a slide's heading, a caption, a title), from the local analysis.

    `box` is where it was, as fractions of the frame: [x0, y0, x1, y1]; `height` is
    its line's height over the frame's (what makes a title a title).
    """

    analysis = models.ForeignKey(Analysis, on_delete=models.CASCADE, related_name="onscreen_spans")
    start = models.FloatField()
    end = models.FloatField()
    text = models.TextField()
    confidence = models.FloatField(default=0.0)
    box = models.JSONField(default=list, blank=True)
    height = models.FloatField(default=0.0)

    objects = AnalysisPartQuerySet.as_manager()

    class Meta:
        db_table = "onscreen_text_spans"
        ordering = ["analysis", "start", "id"]
        indexes = [models.Index(fields=["analysis", "start"])]

    def __str__(self) -> str:
        return f"{self.start:.1f}-{self.end:.1f}: {self.text[:60]}"


class ClipQuerySet(models.QuerySet["Clip"]):
    def owned_by(self, user) -> ClipQuerySet:
        return self.filter(video__owner=user)


class Clip(JobRow):
    """A time range of one video cut into a file of its own, made by a queue job (analysis.clip_jobs).

    Its status, stage, progress and version follow a Video's rules (core.job_rows);
    its files are private media of the video's owner.
    """

    class Mode(models.TextChoices):
        EXACT = "exact", "Exact (re-encoded, frame-accurate)"
        FAST = "fast", "Fast (copied from the keyframe at or before the start)"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="clips")
    start = models.FloatField(help_text="Seconds into the video, as asked for.")
    end = models.FloatField(help_text="Seconds into the video, as asked for.")
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.EXACT)
    captions = models.BooleanField(default=False, help_text="The transcript's words burnt in.")
    animated_preview = models.BooleanField(default=True)
    # Where the made clip really starts: a fast cut starts at a keyframe at or before `start`.
    start_used = models.FloatField(null=True, blank=True)
    file = models.CharField(max_length=255, blank=True)
    preview = models.CharField(max_length=255, blank=True)
    poster = models.CharField(max_length=255, blank=True)
    size = models.BigIntegerField(null=True, blank=True)

    objects = ClipQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["video", "-created_at"]), models.Index(fields=["status"])]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="clip_ends_after_start"),
            models.CheckConstraint(condition=Q(start__gte=0), name="clip_starts_at_or_after_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.video} {self.start:.2f}-{self.end:.2f}"

    @property
    def owner_id(self) -> int:
        return self.video.owner_id

    @property
    def duration(self) -> float:
        return self.end - (self.start if self.start_used is None else self.start_used)

    @property
    def media_prefix(self) -> str:
        """Under the video's own prefix, so the video's storage rules cover its clips."""
        return f"{self.video.media_prefix}/clip-{self.uuid.hex}"

    def media_names(self) -> set[str]:
        return {name for name in (self.file, self.preview, self.poster) if name}

    def mark_done(self, *, file: str, preview: str, poster: str, size: int, start_used: float) -> None:
        self._mark_done(file=file, preview=preview, poster=poster, size=size, start_used=start_used)
