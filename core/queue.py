"""What Redis really holds: enqueue once, and the one rule for "is this job really alive".

The job runner (core.jobs) builds on this for jobs tied to database rows.

The database row is the truth and Redis is transport. Redis can say a job is
queued when no queue holds it (a dead worker's socket swallowed it), or started
by a worker that was killed. So recovery never trusts a job's recorded status
alone: it checks that the queue still holds a queued job, and that the worker
of a started one is alive (each worker renews a short-lived key in Redis while
its process runs; see videochat/worker.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

import django_rq
from redis import Redis
from redis.exceptions import WatchError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, SCHEDULER_LOCKING_KEY_TEMPLATE

logger = logging.getLogger(__name__)

# A worker renews its key every LIVENESS_RENEW_SECONDS; gone after LIVENESS_TTL, it is dead.
LIVENESS_TTL = 20
LIVENESS_RENEW_SECONDS = 5
# A worker pops a job from the queue a moment before it records the job as started.
POP_GRACE = timedelta(seconds=10)


def _liveness_key(worker_name: str) -> str:
    return f"vc:worker-alive:{worker_name}"


def _process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def keep_alive(connection: Redis, worker_name: str) -> None:
    """Say this worker's process is running (renewed every few seconds, by a thread)."""
    connection.set(_liveness_key(worker_name), _process_id(), ex=LIVENESS_TTL)


def forget(connection: Redis, worker_name: str) -> None:
    connection.delete(_liveness_key(worker_name))


def is_worker_alive(connection: Redis, worker_name: str | None) -> bool:
    return bool(worker_name) and bool(connection.exists(_liveness_key(worker_name)))


def live_processes(connection: Redis) -> set[str]:
    """ "host:pid" of every live worker process."""
    keys = list(connection.scan_iter(match=_liveness_key("*"), count=500))
    return {value.decode() for value in connection.mget(keys) if value} if keys else set()


def release_stale_scheduler_locks(connection: Redis, queue_names: Iterable[str]) -> list[str]:
    """Free each queue's scheduler lock held by a scheduler that runs in no live worker.

    Our schedulers are threads of a worker (same host and pid). A lock held by
    anything else — a forked scheduler that outlived its worker, a scheduler
    whose worker was killed — would keep every live worker from scheduling
    until it expires, or for good while the orphan renews it.
    """
    alive = live_processes(connection)
    released = []
    for name in queue_names:
        lock = SCHEDULER_LOCKING_KEY_TEMPLATE % name
        holder = connection.get(lock)
        if holder is None:
            continue
        info = connection.hgetall(SCHEDULER_KEY_TEMPLATE % holder.decode())
        where = f"{info.get(b'hostname', b'').decode()}:{info.get(b'pid', b'').decode()}"
        if where not in alive:
            # Only if it is still the same holder: a live scheduler may have just taken it.
            with connection.pipeline() as pipe, contextlib.suppress(WatchError):
                pipe.watch(lock)
                if pipe.get(lock) == holder:
                    pipe.multi()
                    pipe.delete(lock)
                    pipe.execute()
                    released.append(name)
    return released


def fetch(job_id: str, connection: Redis) -> Job | None:
    try:
        return Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return None


def why_not_alive(job: Job | None, connection: Redis) -> str | None:
    """None when the job will run (or runs) as things stand; else why it will not."""
    if job is None:
        return "the queue has no record of its job"
    status = job.get_status()
    if status == JobStatus.QUEUED:
        if job.origin and connection.lpos(f"rq:queue:{job.origin}", job.id) is not None:
            return None
        enqueued = job.enqueued_at
        if enqueued is not None and datetime.now(UTC) - enqueued.replace(tzinfo=UTC) < POP_GRACE:
            return None  # popped a moment ago by a worker that is about to start it
        return "its job is marked queued but no queue holds it"
    if status == JobStatus.STARTED:
        if is_worker_alive(connection, job.worker_name):
            return None
        return f"the worker running it ({job.worker_name or 'unknown'}) is gone"
    if status == JobStatus.SCHEDULED:
        registry = ScheduledJobRegistry(job.origin, connection=connection)
        return None if job.id in registry else "its job is scheduled in no registry"
    if status == JobStatus.DEFERRED:
        return None
    return f"its job ended ({status})"


def enqueue_once(
    queue_name: str, func: Callable | str, *args, job_id: str, force: bool = False, **options
) -> bool:
    """Queue `func(*args)` under `job_id` unless that job is already alive.

    `force` queues it even so: recovery, once it has decided (why_not_alive)
    that the recorded job will never run.
    """
    queue = django_rq.get_queue(queue_name)
    if not force and why_not_alive(fetch(job_id, queue.connection), queue.connection) is None:
        return False
    queue.enqueue(func, *args, job_id=job_id, **options)
    return True
