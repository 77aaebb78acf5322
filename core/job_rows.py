"""A row that one queue job works on at a time, with the status a page shows live.

A video's analysis and a clip's cut are both such rows: queued, claimed by one
run, moved along with a stage and a progress, then done or failed. `JobRow`
holds those fields and their state changes once; the model adds its own
fields and its own `mark_done`. Its kind is a core.jobs.JobRowKind.

Every change a page shows raises `version`: a page keeps the newest version
of a status it has seen, whatever order the pushes and answers arrive in
(README, "Live updates").
"""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.utils import timezone


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    PROCESSING = "processing", "Processing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class JobRow(models.Model):
    Status = JobStatus

    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    stage = models.CharField(max_length=80, default="Waiting in the queue")
    failure_reason = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Touched by the running job every few seconds: a stale one means its worker died.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        abstract = True

    @property
    def is_finished(self) -> bool:
        return self.status in {JobStatus.DONE, JobStatus.FAILED}

    # --- state changes, each one save() of the fields it touches (and the version) ---

    def _save_change(self, fields: list[str]) -> None:
        self.version += 1
        self.save(update_fields=[*fields, "version"])

    def _claim(self, fields: dict, **expected) -> bool:
        """Compare-and-set: write `fields` (and the next version) only if the row is still as `expected`."""
        fields = {**fields, "version": self.version + 1}
        changed = type(self).objects.filter(pk=self.pk, **expected).update(**fields)
        if changed:
            for name, value in fields.items():
                setattr(self, name, value)
        return bool(changed)

    def mark_processing(self) -> bool:
        """Claim the row for one run: True if this run has it.

        Compare-and-set on (status, attempts) as this copy read them, so two
        copies of one job (a retry and a recovery, say) cannot both claim it.
        """
        now = timezone.now()
        return self._claim(
            {
                "status": JobStatus.PROCESSING,
                "progress": 0,
                "stage": "Starting",
                "failure_reason": "",
                "attempts": self.attempts + 1,
                "started_at": now,
                "heartbeat_at": now,
                "finished_at": None,
            },
            status=self.status,
            attempts=self.attempts,
        )

    def set_progress(self, percent: int, stage: str) -> None:
        self.progress = max(0, min(100, int(percent)))
        self.stage = stage[:80]
        self.heartbeat_at = timezone.now()
        self._save_change(["progress", "stage", "heartbeat_at"])

    def _mark_done(self, **fields) -> None:
        """Done, with the model's own result `fields` saved in the same change."""
        for name, value in fields.items():
            setattr(self, name, value)
        self.status = JobStatus.DONE
        self.progress = 100
        self.stage = "Done"
        self.finished_at = timezone.now()
        self._save_change(["status", "progress", "stage", "finished_at", *fields])

    def mark_retrying(self) -> None:
        """Back in the queue after an unexpected error, while RQ's retries last."""
        self.status = JobStatus.QUEUED
        self.stage = "Retrying after an error"
        self._save_change(["status", "stage"])

    def mark_requeued(self, reason: str) -> bool:
        """Back in the queue because the run that had it stopped (`reason` says how).

        Only if the row is still as read (processing, same attempt): a run that
        finished or a new run that claimed it meanwhile is left alone. True if done.
        """
        return self._claim(
            {"status": JobStatus.QUEUED, "stage": "Queued again: the worker running it stopped"},
            status=JobStatus.PROCESSING,
            attempts=self.attempts,
        )

    def mark_failed(self, reason: str) -> None:
        self.status = JobStatus.FAILED
        self.stage = "Failed"
        self.failure_reason = reason
        self.finished_at = timezone.now()
        self._save_change(["status", "stage", "failure_reason", "finished_at"])

    def is_stalled(self, stale_after: timedelta) -> bool:
        """Processing, but its job has not shown a sign of life for stale_after."""
        if self.status != JobStatus.PROCESSING:
            return False
        last_seen = self.heartbeat_at or self.started_at
        return last_seen is None or timezone.now() - last_seen > stale_after
