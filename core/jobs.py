"""The job runner: what every queue job that works on one database row shares.

An app declares each kind of job it runs as a `JobKind` (the row's model and
statuses, the queue, how long a run may be silent, how many runs a row gets,
how to publish and how to fail one) and registers it from its AppConfig. The
kind then gives its job, and everyone else, the same rules:

- **Enqueue once**, on commit, under a job id derived from the row, so a
  second enqueue of the same row is harmless (core.queue.enqueue_once).
- **The job's state**: whether a delivery should run the row at all, and
  whether a run that finishes is still the newest one (only that one writes).
- **Retry or fail** after an unexpected error: back to waiting while RQ's
  retries last, failed with a reason after the last.
- **The lost/stale rule** (`why_waiting`): the row is the truth and Redis is
  transport. A job is alive when Redis really holds it alive
  (core.queue.why_not_alive) and the row's own sign of life is recent; a run
  whose row says it is alive is believed even when Redis restarted empty.
- **Recovery** (`recover`): every open row whose job will not run is queued
  again, or failed once it has had its runs.

Workers' maintenance (videochat/worker.py) and `manage.py queue` go through
`kinds()`, so they report and recover every kind the same way.
"""

from __future__ import annotations

import functools
import logging
from abc import ABC, abstractmethod
from datetime import timedelta

import django_rq
from django.conf import settings
from django.db import models, transaction
from rq import Retry, get_current_job

from core.job_rows import JobStatus
from core.queue import enqueue_once, fetch, why_not_alive

logger = logging.getLogger(__name__)

FAILURE_TTL = 7 * 24 * 3600


class JobKind(ABC):
    """One kind of queue job: one job per row of `model`, run by the function `job` names.

    A kind declares the attributes below and implements the abstract methods
    under "declared by the kind" (`fail` has a default). Values that come from settings are
    properties in the kind, read when used, so a changed setting takes effect.
    """

    name: str  # what logs call one row: "video", "reply"
    model: type[models.Model]  # with uuid, status, attempts, created_at, is_stalled(), mark_failed()
    waiting: str  # the row's status while its job waits in a queue
    running: str  # the row's status while a run has it
    job: str  # dotted path of the job function, called with the row's pk
    job_prefix: str  # the job id is f"{job_prefix}-{row.uuid.hex}"
    description: str  # RQ's description of a job, before the row's uuid
    queue: str  # where a job goes unless the caller names another; recovery always
    retry: Retry
    job_timeout: int
    result_ttl: int
    stale_seconds: int  # a run silent for longer is dead
    stale_note: str  # why_waiting's words for a silent run, before "for over N s"
    max_attempts: int  # runs a row gets before recovery gives up on it
    gave_up: str  # the row's failure reason then
    unexpected: str  # the row's failure reason when an unexpected error used up RQ's retries
    owner_path: str = "owner"  # the row's owner, as select_related spells it
    title: str  # `queue status`'s heading for the open rows
    counted: tuple[str, str]  # `queue recover`'s words for one row and for several

    # --- declared by the kind ------------------------------------------------

    @abstractmethod
    def publish(self, row) -> None:
        """Tell the pages and the caches of a change of state. Best effort: the row is saved."""

    @abstractmethod
    def requeue(self, row, reason: str) -> bool:
        """Recovery: a dead run's row back to waiting (`reason` says how it died). True if done."""

    @abstractmethod
    def retry_later(self, row) -> None:
        """A run's row back to waiting after an unexpected error, for RQ's retry."""

    @abstractmethod
    def doing(self, row) -> str:
        """What `queue status` says the row is doing."""

    def fail(self, row, reason: str) -> None:
        row.mark_failed(reason)
        self.publish(row)

    # --- enqueue once -------------------------------------------------------

    def job_id(self, row) -> str:
        return f"{self.job_prefix}-{row.uuid.hex}"

    def enqueue(self, row, *, queue: str | None = None, force: bool = False) -> bool:
        """Queue the row's job unless it is alive already (`force`: recovery has decided it is not)."""
        return enqueue_once(
            queue or self.queue,
            self.job,
            row.pk,
            job_id=self.job_id(row),
            force=force,
            retry=self.retry,
            job_timeout=self.job_timeout,
            result_ttl=self.result_ttl,
            failure_ttl=FAILURE_TTL,
            description=f"{self.description} {row.uuid}",
        )

    def enqueue_on_commit(self, row, *, queue: str | None = None) -> None:
        """Queue the job once the current transaction commits.

        If Redis is unreachable then, the row stays waiting and recovery
        (workers' maintenance, `manage.py queue recover`) queues it later.
        """
        transaction.on_commit(lambda: self.enqueue(row, queue=queue), robust=True)

    # --- the job's state ----------------------------------------------------

    @property
    def stale_after(self) -> timedelta:
        return timedelta(seconds=self.stale_seconds)

    def is_live_run(self, row) -> bool:
        """A run has the row and has shown a sign of life lately."""
        return row.status == self.running and not row.is_stalled(self.stale_after)

    def why_skip(self, row) -> str | None:
        """Why this delivery of the job must leave the row alone (None: run it)."""
        if row.status not in (self.waiting, self.running):
            return f"already {row.status}"
        if self.is_live_run(row):
            return "running elsewhere"  # a duplicate delivery while the first run is alive
        return None

    def superseded(self, row) -> bool:
        """Whether a later run took the row over since this one claimed it (call in a transaction).

        Only the newest run may write its result: if recovery took this run
        for dead and gave the row to another, that one's stands. Locks the row.
        """
        current = self.model.objects.select_for_update().filter(pk=row.pk).values("attempts").first()
        return current is None or current["attempts"] != row.attempts

    # --- retry or fail ------------------------------------------------------

    def retry_or_fail(self, row) -> None:
        """After an unexpected error in a run: RQ runs it again while retries are left; after the last, it fails."""
        job = get_current_job()
        if job is not None and (job.retries_left or 0) > 0:
            self.retry_later(row)
            self.publish(row)
        else:
            self.fail(row, self.unexpected)

    # --- the lost/stale rule and recovery -----------------------------------

    def open_rows(self) -> models.QuerySet:
        """The rows whose job should be alive: waiting for it, or being run."""
        return (
            self.model.objects.filter(status__in=[self.waiting, self.running])
            .select_related(self.owner_path)
            .order_by("created_at")
        )

    def owner(self, row):
        return functools.reduce(getattr, self.owner_path.split("__"), row)

    def why_waiting(self, row) -> str | None:
        """Why an open row's job will not run as things stand (None: it will, or does)."""
        connection = django_rq.get_connection(self.queue)
        job = fetch(self.job_id(row), connection)
        reason = why_not_alive(job, connection)
        if reason is not None and job is None and self.is_live_run(row):
            return None  # a Redis restarted empty remembers no job, running or not
        if reason is None and row.is_stalled(self.stale_after):
            reason = f"{self.stale_note} for over {self.stale_seconds} s"
        return reason

    def recover(self) -> list:
        """Queue again every open row whose job will not run; fail those that have had their runs.

        Safe at any time: a row whose job is queued, or running on a live
        worker with a recent sign of life, is left alone. A dead run's row goes
        back to waiting first, so the new run does not take the dead one for a
        live one. Returns the rows queued again or failed.
        """
        recovered = []
        for row in self.open_rows():
            reason = self.why_waiting(row)
            if reason is None:
                continue
            if not self.model.objects.filter(pk=row.pk, status=row.status, attempts=row.attempts).exists():
                continue  # it finished, or a new run took it, since we read it
            if row.attempts >= self.max_attempts:
                self.fail(row, self.gave_up)
                logger.warning(
                    "gave up on %s %s after %d runs: %s", self.name, row.uuid, row.attempts, reason
                )
            else:
                if row.status == self.running:
                    if not self.requeue(row, reason):
                        continue  # the compare-and-set lost: the row changed since we read it
                    self.publish(row)
                self.enqueue(row, force=True)
                logger.warning("re-queued %s %s: %s", self.name, row.uuid, reason)
            recovered.append(row)
        return recovered

    def recovery_plan(self, row) -> str:
        """What recovery does with an open row whose job will not run, in `queue status`'s words."""
        if row.attempts >= self.max_attempts:
            return f"fails it (it has had {row.attempts} runs)"
        return "queues it again"


class JobRowKind(JobKind):
    """A kind whose rows are core.job_rows.JobRow: their state changes are the row's own.

    Its job starts with `claim` and ends with the row's `mark_done` (or the
    kind's `fail`, or `retry_or_fail`), publishing each change.
    """

    waiting = JobStatus.QUEUED
    running = JobStatus.PROCESSING
    result_ttl = 24 * 3600

    @property
    def job_timeout(self) -> int:
        return settings.RQ_JOB_TIMEOUT

    @property
    def stale_seconds(self) -> int:
        # A run beats its row's heartbeat every few seconds (analysis.jobs._heartbeat).
        return settings.ANALYSIS_STALE_SECONDS

    def requeue(self, row, reason: str) -> bool:
        return row.mark_requeued(reason)

    def retry_later(self, row) -> None:
        row.mark_retrying()

    def doing(self, row) -> str:
        return row.stage

    def claim(self, row) -> str | None:
        """Take the row for this run and publish it; or say why this delivery must leave it alone."""
        if (skipped := self.why_skip(row)) is not None:
            return skipped
        if row.attempts >= self.max_attempts:
            # RQ's retries after runs that recovery gave back: enough.
            self.fail(row, self.gave_up)
            return "gave up"
        if not row.mark_processing():
            return "running elsewhere"  # another copy of the job claimed it first
        self.publish(row)
        return None


_kinds: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    """Make a kind known to the workers' maintenance and `manage.py queue` (from AppConfig.ready)."""
    _kinds[kind.name] = kind
    return kind


def kinds() -> list[JobKind]:
    """Every registered kind, in the order the apps registered them."""
    return list(_kinds.values())
