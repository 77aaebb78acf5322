"""`manage.py queue status` and `manage.py queue recover`: keep the queue healthy.

Both go through every kind of job the apps registered (core.jobs), with the
same rule and the same recovery the workers' maintenance uses: a job is alive
only if the queue still holds it or a live worker runs it.
"""

from __future__ import annotations

import django_rq
from django.conf import settings
from django.core.management.base import BaseCommand
from rq import Worker
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from core import jobs
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
        counts = []
        for kind in jobs.kinds():
            recovered = len(kind.recover())
            one, many = kind.counted
            counts.append(f"{recovered} {one if recovered == 1 else many}")
        self.stdout.write(f"re-queued {' and '.join(counts)}")

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
        for kind in jobs.kinds():
            self.print_open_rows(kind)

    def print_open_rows(self, kind: jobs.JobKind) -> None:
        rows = list(kind.open_rows())
        self.stdout.write(f"{kind.title}: {len(rows)}")
        for row in rows:
            reason = kind.why_waiting(row)
            if reason is None:
                note = f"{kind.doing(row)}; its job is queued or running on a live worker"
            else:
                note = (
                    f"{reason}: recovery (every worker, every {settings.QUEUE_MAINTENANCE_SECONDS} s, "
                    f"or `queue recover`) {kind.recovery_plan(row)}"
                )
            self.stdout.write(f"  {row.uuid} {row.status:<10} {kind.owner(row).email}: {note}")
