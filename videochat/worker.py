"""The RQ worker class VideoChat runs (settings.RQ["WORKER_CLASS"]).

On start-up and every MAINTENANCE_SECONDS it sends `worker_maintenance`, so
each app can find work its queue lost (a worker killed mid-job, Redis that
forgot its data) and queue it again. The database row is the truth; Redis is
transport.

Jobs from IN_PROCESS_QUEUES (chat replies) run in the worker process itself:
forking a cold work horse per reply cost more than the reply (measured by
bench/bench_chat.py: first chunk p50 90 ms forked, ~50 ms in process). Heavy
jobs (video analysis) still run in a forked work horse, so a crash or a leak
there never takes the worker down.
"""

from __future__ import annotations

import logging

from django.db import close_old_connections, connections
from django.dispatch import Signal
from django_rq.utils import reset_db_connections
from rq import Worker as RQWorker
from rq.worker import WorkerStatus

logger = logging.getLogger(__name__)

# Sent with no arguments; receivers re-enqueue what they find lost.
worker_maintenance = Signal()

MAINTENANCE_SECONDS = 60
IN_PROCESS_QUEUES = frozenset({"high"})


def run_maintenance() -> None:
    for receiver, result in worker_maintenance.send_robust(sender=None):
        if isinstance(result, Exception):
            logger.error("maintenance by %s failed: %s", receiver, result, exc_info=result)


class Worker(RQWorker):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("maintenance_interval", MAINTENANCE_SECONDS)
        super().__init__(*args, **kwargs)

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        try:
            run_maintenance()
        finally:
            # The work horse is forked from this process: it must not share our connections.
            reset_db_connections()

    def execute_job(self, job, queue) -> None:
        if queue.name not in IN_PROCESS_QUEUES:
            # The work horse is forked from this process: it must not share our connections.
            connections.close_all()
            super().execute_job(job, queue)
            return
        close_old_connections()
        execution = self.prepare_execution(job)
        try:
            self.perform_job(job, queue, execution)
        finally:
            close_old_connections()
        self.set_state(WorkerStatus.IDLE)
