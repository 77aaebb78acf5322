"""The RQ worker class VideoChat runs (settings.RQ["WORKER_CLASS"]).

Jobs run in the worker process itself rather than in a work horse forked per
job (RQ's SimpleWorker):
- a chat reply is latency-bound, and a cold forked horse cost more than the
  reply (bench/bench_chat.py: first chunk p50 90 ms forked, ~50 ms in process);
- the speech model (CTranslate2) cannot be used in a process forked after it
  was loaded, and loading it per job would cost a second a video; in process
  it is loaded once per worker.

What keeps the queue healthy whatever dies (the database row is the truth;
Redis is transport):
- **Liveness.** A thread renews a short-lived Redis key for this worker every
  few seconds (core.queue.keep_alive). A job started by a worker whose key is
  gone is lost, whatever its record in Redis says.
- **Maintenance every QUEUE_MAINTENANCE_SECONDS (30), busy or idle.** The same thread
  recovers every kind of job the apps registered (core.jobs: each re-queues
  what will not run, as `manage.py queue recover` does) — RQ's own
  maintenance runs only between jobs, and an idle worker blocks on the queue
  for minutes. One worker in the fleet does it per period (a Redis lock).
- **The scheduler is a thread, not a forked process.** RQ forks its scheduler;
  SIGKILL the worker and the fork lives on, holding the scheduler locks and the
  dead worker's socket, blocked on the queue: the next job pushed is handed to
  that socket and lost. A thread dies with its worker; its locks expire.
- **Redis or the database going away does not end the worker.** Where RQ's
  loop would quit on an unexpected error, this one waits for Redis to answer
  again and carries on.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

import redis
from django.conf import settings
from django.db import close_old_connections
from rq.scheduler import RQScheduler
from rq.worker import SimpleWorker

from core import jobs
from core.queue import LIVENESS_RENEW_SECONDS, forget, keep_alive

logger = logging.getLogger(__name__)

MAINTENANCE_LOCK = "vc:maintenance-lock"
RECONNECT_MAX_SECONDS = 30


def run_maintenance() -> None:
    """Recover every kind of job; one kind's failure does not keep the others from theirs."""
    for kind in jobs.kinds():
        try:
            kind.recover()
        except Exception:
            logger.exception("recovering lost %s jobs failed", kind.name)


class _SchedulerThread(threading.Thread):
    """Stands where RQ keeps its scheduler process (`_process`): alive, joinable, no pid."""

    pid = None


class ThreadScheduler(RQScheduler):
    """RQ's scheduler, run on a thread of the worker so that it dies with it."""

    def _install_signal_handlers(self) -> None:
        pass  # signals belong to the main thread; the worker stops us (request_stop)

    def start(self):
        self._status = self.Status.STARTED
        self._stop_requested = False
        self._process = _SchedulerThread(target=self._run, name="rq-scheduler", daemon=True)
        self._process.start()
        return self._process

    def _run(self) -> None:
        try:
            self.work()
        except Exception:
            logger.warning("the scheduler stopped on an error; maintenance starts it again", exc_info=True)


class Worker(SimpleWorker):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("maintenance_interval", settings.QUEUE_MAINTENANCE_SECONDS)
        super().__init__(*args, **kwargs)
        self._with_scheduler = False
        self._keeper: threading.Thread | None = None
        self._keeper_stop = threading.Event()

    # --- the work loop -----------------------------------------------------

    def work(self, burst: bool = False, *args, with_scheduler: bool = False, **kwargs) -> bool:
        """RQ's loop, started again after an unexpected end (Redis away) instead of quitting."""
        self._with_scheduler = with_scheduler and not burst
        # One pass now, before the first job: a burst worker must see what it recovers.
        try:
            self.renew_liveness()
            self.maintain(force=True)
        except Exception:
            logger.warning("start-up maintenance failed; the keeper tries again", exc_info=True)
        self._start_keeper()
        worked = False
        delay = 1.0
        try:
            while True:
                # The scheduler is ours to start (a thread, by the keeper), not RQ's (a fork).
                try:
                    worked = super().work(burst, *args, with_scheduler=False, **kwargs) or worked
                except redis.exceptions.RedisError:
                    # RQ's own clean-up (registering the worker's death) needs Redis too.
                    logger.warning("worker %s could not sign off from Redis", self.name, exc_info=True)
                if burst or self._asked_to_stop():
                    return worked
                logger.error("worker %s left its loop on an error; waiting for Redis", self.name)
                delay = self._wait_for_redis(delay)
        finally:
            self._stop_keeper()

    def _asked_to_stop(self) -> bool:
        # Idle, RQ ends its loop on SIGTERM without setting _stop_requested; the date says it.
        return self._stop_requested or self._shutdown_requested_date is not None

    def _wait_for_redis(self, delay: float) -> float:
        while not self._asked_to_stop():
            try:
                self.connection.ping()
                # RQ refuses to register a name whose key has no death mark; ours died with the loop.
                self.connection.delete(self.key)
                return 1.0
            except redis.exceptions.RedisError as exc:
                logger.warning("Redis is not answering (%s); trying again in %.0f s", exc, delay)
                time.sleep(delay)
                delay = min(RECONNECT_MAX_SECONDS, delay * 2)
        return delay

    def run_maintenance_tasks(self) -> None:
        # RQ's registry cleaning only; ours runs on the keeper thread, busy or idle.
        super().run_maintenance_tasks()

    def execute_job(self, job, queue) -> None:
        # Like a request: a connection the database dropped meanwhile is replaced.
        close_old_connections()
        try:
            super().execute_job(job, queue)
        finally:
            close_old_connections()

    # --- the keeper thread: liveness, maintenance, the scheduler ------------

    def _start_keeper(self) -> None:
        self._keeper_stop.clear()
        self._keeper = threading.Thread(target=self._keep, name="worker-keeper", daemon=True)
        self._keeper.start()

    def _stop_keeper(self) -> None:
        self._keeper_stop.set()
        if self._keeper is not None:
            self._keeper.join(timeout=LIVENESS_RENEW_SECONDS + 5)
        if self.scheduler is not None:
            self.scheduler.request_stop()
            if self.scheduler._process is not None:
                self.scheduler._process.join(timeout=5)
        with contextlib.suppress(redis.exceptions.RedisError):  # else it expires on its own
            forget(self.connection, self.name)

    def _keep(self) -> None:
        next_maintenance = 0.0
        while not self._keeper_stop.is_set():
            try:
                self.renew_liveness()
                if time.monotonic() >= next_maintenance:
                    self.ensure_scheduler()
                    self.maintain()
                    next_maintenance = time.monotonic() + settings.QUEUE_MAINTENANCE_SECONDS
            except Exception:
                logger.warning("worker upkeep failed; trying again shortly", exc_info=True)
            finally:
                close_old_connections()
            self._keeper_stop.wait(LIVENESS_RENEW_SECONDS)

    def renew_liveness(self) -> None:
        keep_alive(self.connection, self.name)

    def maintain(self, *, force: bool = False) -> bool:
        """Recover lost work, unless another worker did in this period. True if this one did."""
        period = settings.QUEUE_MAINTENANCE_SECONDS
        took = self.connection.set(MAINTENANCE_LOCK, self.name, nx=True, ex=max(1, period - 1))
        if not (took or force):
            return False
        try:
            run_maintenance()
        finally:
            close_old_connections()
        return True

    def ensure_scheduler(self) -> bool:
        """Run the scheduler on a thread here, when no live scheduler holds its locks. True if started."""
        if not self._with_scheduler:
            return False
        if self.scheduler is None:
            self.scheduler = ThreadScheduler(
                self.queues, connection=self.connection, serializer=self.serializer
            )
        if self.scheduler._process is not None and self.scheduler._process.is_alive():
            return False
        # Locks of a dead scheduler expire within a minute; then one of the workers takes them.
        return bool(self.scheduler.acquire_locks(auto_start=True))
