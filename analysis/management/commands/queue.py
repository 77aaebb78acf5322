"""`manage.py queue status` and `manage.py queue recover`: keep the queue healthy."""

from __future__ import annotations

from datetime import timedelta

import django_rq
from django.conf import settings
from django.core.management.base import BaseCommand
from rq import Worker
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from analysis.jobs import job_is_pending, recover_lost
from analysis.models import Video

QUEUES = ("high", "default", "low")


class Command(BaseCommand):
    help = "Show the state of the job queues, or re-queue videos the queue has lost."

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["status", "recover"])

    def handle(self, *args, action: str, **options) -> None:
        if action == "status":
            self.print_status()
        else:
            recovered = self.recover()
            self.stdout.write(f"re-queued {recovered} video(s)")

    def print_status(self) -> None:
        connection = django_rq.get_connection("default")
        self.stdout.write("queue     waiting  running  scheduled  failed")
        for name in QUEUES:
            queue = django_rq.get_queue(name)
            self.stdout.write(
                f"{name:<9} {queue.count:>7}  {StartedJobRegistry(queue=queue).count:>7}  "
                f"{ScheduledJobRegistry(queue=queue).count:>9}  {FailedJobRegistry(queue=queue).count:>6}"
            )
        workers = Worker.all(connection=connection)
        self.stdout.write(f"workers: {len(workers)}")
        for worker in workers:
            job = worker.get_current_job()
            self.stdout.write(
                f"  {worker.name} {worker.get_state()}{f' on {job.description}' if job else ''}"
            )
        stale = timedelta(seconds=settings.ANALYSIS_STALE_SECONDS)
        unfinished = list(Video.objects.unfinished().order_by("created_at"))
        self.stdout.write(f"unfinished videos: {len(unfinished)}")
        for video in unfinished:
            if video.is_stalled(stale):
                note = "stalled: its worker stopped; `queue recover` re-queues it"
            elif video.status == Video.Status.QUEUED and not job_is_pending(video):
                note = "lost: not in the queue; `queue recover` re-queues it"
            else:
                note = f"{video.stage} ({video.progress}%)"
            self.stdout.write(f"  {video.uuid} {video.status:<10} {video.owner.email}: {note}")

    def recover(self) -> int:
        return len(recover_lost())
