"""The RQ worker class VideoChat runs (settings.RQ["WORKER_CLASS"]).

On start-up and every MAINTENANCE_SECONDS it sends `worker_maintenance`, so
each app can find work its queue lost (a worker killed mid-job, Redis that
forgot its data) and queue it again. The database row is the truth; Redis is
transport.

Jobs run in the worker process itself rather than in a work horse forked per
job (RQ's SimpleWorker):
- a chat reply is latency-bound, and a cold forked horse cost more than the
  reply (bench/bench_chat.py: first chunk p50 90 ms forked, ~50 ms in process);
- the speech model (CTranslate2) cannot be used in a process forked after it
  was loaded, and loading it per job would cost a second a video; in process
  it is loaded once per worker.
A worker that dies mid-job loses nothing: the jobs heartbeat in the database
and maintenance (here, or in any other worker) re-queues them.
"""

from __future__ import annotations

import logging

from django.db import close_old_connections
from django.dispatch import Signal
from rq.worker import SimpleWorker

logger = logging.getLogger(__name__)

# Sent with no arguments; receivers re-enqueue what they find lost.
worker_maintenance = Signal()

MAINTENANCE_SECONDS = 60


def run_maintenance() -> None:
    for receiver, result in worker_maintenance.send_robust(sender=None):
        if isinstance(result, Exception):
            logger.error("maintenance by %s failed: %s", receiver, result, exc_info=result)


class Worker(SimpleWorker):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("maintenance_interval", MAINTENANCE_SECONDS)
        super().__init__(*args, **kwargs)

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        try:
            run_maintenance()
        finally:
            close_old_connections()

    def execute_job(self, job, queue) -> None:
        # Like a request: a connection the database dropped meanwhile is replaced.
        close_old_connections()
        try:
            super().execute_job(job, queue)
        finally:
            close_old_connections()
