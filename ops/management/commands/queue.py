"""`manage.py queue status` and `manage.py queue recover`: keep the queue healthy.

Both read the same rule the workers' maintenance uses (core.queue): a job is
alive only if the queue still holds it or a live worker runs it.
"""

from __future__ import annotations

import django_rq
from django.core.management.base import BaseCommand
from rq import Worker
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from analysis import jobs as analysis_jobs
from analysis.models import Video
from chat import jobs as chat_jobs
from chat.models import Message
from core.queue import is_worker_alive, release_stale_scheduler_locks

QUEUES = ("high", "default", "low")


class Command(BaseCommand):
    help = "Show the state of the job queues, or queue again the work they lost."

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["status", "recover"])

    def handle(self, *args, action: str, **options) -> None:
        if action == "status":
            self.print_status()
            return
        released = release_stale_scheduler_locks(django_rq.get_connection("default"), QUEUES)
        if released:
            self.stdout.write(f"released the stale scheduler lock of {', '.join(released)}")
        videos = analysis_jobs.recover_lost()
        replies = chat_jobs.recover_replies()
        self.stdout.write(
            f"re-queued {len(videos)} video(s) and {replies} repl{'y' if replies == 1 else 'ies'}"
        )

    def print_status(self) -> None:
        connection = django_rq.get_connection("default")
        self.stdout.write("queue     waiting  running  scheduled  failed")
        for name in QUEUES:
            queue = django_rq.get_queue(name)
            self.stdout.write(
                f"{name:<9} {queue.count:>7}  {StartedJobRegistry(queue=queue).count:>7}  "
                f"{ScheduledJobRegistry(queue=queue).count:>9}  {FailedJobRegistry(queue=queue).count:>6}"
            )
        workers = [w for w in Worker.all(connection=connection) if is_worker_alive(connection, w.name)]
        self.stdout.write(f"live workers: {len(workers)}")
        for worker in workers:
            job = worker.get_current_job()
            self.stdout.write(
                f"  {worker.name} {worker.get_state()}{f' on {job.description}' if job else ''}"
            )
        self.print_waiting(
            "unfinished videos",
            [
                (f"{v.uuid} {v.status:<10} {v.owner.email}", v.stage, analysis_jobs.why_waiting(v))
                for v in Video.objects.unfinished().select_related("owner").order_by("created_at")
            ],
        )
        self.print_waiting(
            "open replies",
            [
                (f"{m.uuid} {m.status:<10} {m.conversation.owner.email}", "writing", chat_jobs.why_waiting(m))
                for m in Message.objects.filter(status__in=[Message.Status.PENDING, Message.Status.STREAMING])
                .select_related("conversation__owner")
                .order_by("created_at")
            ],
        )

    def print_waiting(self, title: str, rows: list[tuple[str, str, str | None]]) -> None:
        self.stdout.write(f"{title}: {len(rows)}")
        for label, doing, reason in rows:
            if reason is None:
                note = f"{doing}; its job is queued or running on a live worker"
            else:
                note = f"{reason}: recovery (every worker, every 30 s, or `queue recover`) queues it again"
            self.stdout.write(f"  {label}: {note}")
