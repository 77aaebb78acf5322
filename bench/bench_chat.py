"""Chat latency and thread-page throughput, end to end through real processes.

Run from the project folder:  .venv/bin/python -m bench.bench_chat [--replies 40] [--seconds 10]
(`--only replies|thread` runs one figure; `--help` lists the rest.)

Starts everything itself in a temporary folder: an embedded Valkey (or, when
REDIS_URL is set, an empty spare database number on that server), a migrated
throwaway SQLite database holding one user, one analysed video (a realistic
stored analysis; no file is needed to chat) and two conversations with 40
messages of history; Daphne serving the app as `make run` does; and one
`manage.py rqworker high` at a time. It logs in through the real login form.
Every process it starts is stopped on the way out, Ctrl-C included.

1. **Replies.** With a websocket open on /ws/events/ (as the page has), it
   posts a question with the video attached to /chat/<uuid>/send/ as htmx
   does, one after another, and times from just before the POST to the
   first text of that reply on the websocket (a streamed chunk, or the whole
   reply when it was written before its first chunk went out) and to the
   final push of the complete reply. A reader task timestamps every websocket message;
   they are matched to replies afterwards (chunks can arrive before the
   POST's answer is read). RQ's own job stamps split each reply into web,
   queue and job time; /proc gives the CPU each reply cost. Rounds alternate
   two workers, so both see the same machine: the project's own worker
   (videochat.worker.Worker: jobs in process, pushes on one long-lived event
   loop), whose figures are the headline, and RQ's stock forking Worker (a
   work horse forked per job) as the baseline. Then the job body is timed
   step by step, in process and in a fresh fork as a work horse runs it.
2. **Thread page.** Two Daphne servers on the same database and Redis, one
   with CHAT_READ_CACHE=false, are driven in turn (A/B rounds of a fixed
   duration) by the same asyncio httpx load, 16 connections by default.
   /healthz under the same load is the ASGI floor; the page timed
   in-process (no server) splits a request into its parts.

Prints tables, then `name: value` lines, the key ones last:
`first_chunk_p95_ms` (target <= 150) and `cached_vs_uncached_rps` (target >= 3).
Timings on a shared machine are noisy; the CPU-per-request figures much less so.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from testkit.live import free_port
from testkit.procs import cpu_seconds
from testkit.waiting import until, wait_for_http
from videochat.run import daphne_argv

BASE_DIR = Path(__file__).resolve().parent.parent
EMAIL = "bench@example.com"
QUESTION = "How long is it, and what resolution? Where is the most action?"
HISTORY_QUESTIONS = [
    "Describe the video",
    "How long is it?",
    "What resolution and frame rate is it?",
    "When does the scene change?",
    "When is it loudest?",
    "Are there silent parts?",
    "When is it darkest?",
    "Where is the most action?",
    "What is said about the budget?",
    "What codecs does it use and how big is the file?",
]
HISTORY_MESSAGES = 40
REPLY_TIMEOUT = 30.0  # seconds one reply may take before the bench gives up on it
MAX_REQUESTS_PER_ROUND = 500_000


# --- inside Django (run through `manage.py shell -c`, same environment) -----


def seed(password: str) -> None:
    """Create the user, an analysed video and two conversations; print their ids as JSON."""
    import math
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import User
    from analysis.models import Analysis, Video
    from chat.assistant import get_provider
    from chat.assistant.base import Turn
    from chat.jobs import video_facts
    from chat.models import Conversation, Message

    user = User.objects.create_user(EMAIL, password)
    video = Video.objects.create(
        owner=user,
        original_name="team-offsite-2024.mp4",
        file="videos/bench/source.mp4",
        size=187_654_321,
        sha256="b" * 64,
        container="mp4",
        status=Video.Status.DONE,
        progress=100,
        stage="Done",
    )
    seconds = 312
    cuts = [0.0, 8.4, 19.2, 27.9, 41.3, 55.0, 63.7, 80.2, 97.5, 110.1, 126.4, 141.8, 158.0, 171.3]
    cuts += [189.6, 203.2, 219.9, 236.4, 250.1, 266.7, 281.0, 297.3, seconds]
    loudness = [round(-24 + 8 * math.sin(s / 7) + 3 * math.sin(s / 2.3), 1) for s in range(seconds)]
    for start, end in ((44, 47), (150, 153), (270, 272)):
        loudness[start:end] = [-91.0] * (end - start)
    transcript_lines = [
        "Welcome everyone to the offsite.",
        "Let's start with the budget for next year.",
        "The budget is up twelve percent.",
        "Questions from the floor, please.",
        "Thanks all, see you after lunch.",
    ]
    Analysis.objects.create(
        video=video,
        analyzer="local",
        analyzer_version="1.0",
        metadata={
            "container": "mov,mp4,m4a,3gp,3g2,mj2",
            "duration": float(seconds),
            "video_codec": "h264",
            "width": 1920,
            "height": 1080,
            "frame_rate": 29.97,
            "bit_rate": 4_800_000,
            "rotation": 0,
            "audio_codec": "aac",
            "audio_channels": 2,
            "audio_sample_rate": 48000,
            "file_size": 187_654_321,
            "has_audio": True,
        },
        scenes=[
            {"index": i, "start": start, "end": end, "thumbnail": f"videos/bench/scene-{i:03d}.jpg"}
            for i, (start, end) in enumerate(pairwise(cuts))
        ],
        timelines={
            "brightness": [round(110 + 60 * math.sin(s / 31), 1) for s in range(seconds)],
            "motion": [
                round(abs(40 * math.sin(s / 13)) + (90 if 200 < s < 215 else 0), 1) for s in range(seconds)
            ],
            "loudness": loudness,
        },
        silences=[
            {"start": 44.0, "end": 47.0},
            {"start": 150.0, "end": 153.0},
            {"start": 270.0, "end": 272.0},
        ],
        storyboard={"columns": 10, "rows": 10, "tile_width": 160, "tile_height": 90, "interval": 3.12},
        extra={
            "transcript": [
                {"start": 12.0 + 60 * i, "end": 16.5 + 60 * i, "text": line}
                for i, line in enumerate(transcript_lines)
            ]
        },
        wall_time=21.7,
    )
    facts = [video_facts(video)]
    provider = get_provider("local")
    ids = {"video": str(video.uuid)}
    for name in ("send", "read"):
        conversation = Conversation.objects.create(owner=user, title=f"Offsite questions ({name})")
        history: list[Turn] = []
        start = timezone.now() - timedelta(hours=2)
        for i in range(HISTORY_MESSAGES // 2):
            question = HISTORY_QUESTIONS[i % len(HISTORY_QUESTIONS)]
            history.append(Turn(role="user", text=question))
            asked = Message.objects.create(
                conversation=conversation,
                role=Message.Role.USER,
                text=question,
                created_at=start + timedelta(minutes=2 * i),
            )
            if i % 4 == 0:
                asked.videos.add(video)
            answer = "".join(provider.stream_reply(history=history, videos=facts))
            history.append(Turn(role="assistant", text=answer))
            Message.objects.create(
                conversation=conversation,
                role=Message.Role.ASSISTANT,
                text=answer,
                reply_to=asked,
                provider=provider.name,
                model=provider.model,
                created_at=start + timedelta(minutes=2 * i, seconds=3),
            )
        ids[name] = str(conversation.uuid)
    print("BENCH-IDS " + json.dumps(ids), flush=True)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def profile_job(conversation_uuid: str, out_path: str) -> None:
    """Time the reply job's body in process, as the project's worker runs it, and in a fresh fork.

    Writes JSON to out_path: the fork cost of this (worker-sized) process and,
    for each variant, when each step of `write_reply` happened.
    """
    import cProfile
    import io
    import pstats

    from django.db import connections
    from django_rq.utils import reset_db_connections

    from chat import jobs, live
    from chat.models import Conversation, Message

    conversation = Conversation.objects.get(uuid=conversation_uuid)

    def new_reply() -> int:
        question = Message.objects.create(conversation=conversation, role=Message.Role.USER, text=QUESTION)
        question.videos.set(conversation.attached_videos()[:1])
        reply = Message.objects.create(
            conversation=conversation,
            role=Message.Role.ASSISTANT,
            status=Message.Status.PENDING,
            reply_to=question,
        )
        return reply.pk

    events: list[tuple[str, float, float]] = []
    implementations: dict[str, object] = {}

    def timed(module, name: str) -> None:
        implementations[name] = getattr(module, name)

        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return implementations[name](*args, **kwargs)
            finally:
                events.append((name, started, time.perf_counter()))

        setattr(module, name, wrapper)

    for module, name in (
        (live, "push_message"),
        (live, "push_chunk"),
        (live, "render_message"),
        (live, "push_html"),
        (jobs, "get_provider"),
        (jobs, "_history"),
        (jobs, "video_facts"),
    ):
        timed(module, name)

    def run_job(pk: int, profile: bool) -> dict:
        events.clear()
        profiler = cProfile.Profile() if profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        jobs.write_reply(pk)
        if profiler:
            profiler.disable()
        ended = time.perf_counter()
        steps: dict[str, list[float]] = {}
        first: dict[str, float] = {}
        for name, begin, end in events:
            steps.setdefault(name, []).append(end - begin)
            first.setdefault(name, begin - started)
        result = {
            "total_ms": _ms(ended - started),
            "first_chunk_at_ms": _ms(first.get("push_chunk", ended - started)),
            "first_push_at_ms": _ms(first.get("push_message", 0.0)),
            "steps": {
                name: {
                    "calls": len(v),
                    "first_ms": _ms(v[0]),
                    "rest_mean_ms": _ms(statistics.fmean(v[1:]) if v[1:] else 0.0),
                }
                for name, v in steps.items()
            },
        }
        if profiler:
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(45)
            result["profile"] = text.getvalue()
        return result

    def in_fork(pk: int, profile: bool = False) -> dict:
        """Run the job in a forked child, as RQ's Worker does, and return its timings."""
        connections.close_all()
        reset_db_connections()
        read_end, write_end = os.pipe()
        forked = time.perf_counter()
        pid = os.fork()
        if pid == 0:  # the horse
            os.close(read_end)
            try:
                result = run_job(pk, profile)
                result["fork_to_start_ms"] = _ms(time.perf_counter() - forked - result["total_ms"] / 1000)
                payload = json.dumps(result).encode()
            except BaseException as exc:  # report it; a child must never return into the caller
                payload = json.dumps({"error": repr(exc)}).encode()
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(payload)
            os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
        os.waitpid(pid, 0)
        return json.loads(data)

    # What one fork + exit + wait costs a process of this size.
    fork_times = []
    for _ in range(20):
        started = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        fork_times.append(time.perf_counter() - started)

    results = {
        "fork_exit_wait_ms": _ms(statistics.median(fork_times)),
        "cold_fork": [in_fork(new_reply()) for _ in range(5)],
        "cold_fork_profile": in_fork(new_reply(), profile=True),
    }
    run_job(new_reply(), False)  # the project's worker is warm after its first job
    results["in_process"] = [run_job(new_reply(), False) for _ in range(5)]
    results["in_process_profile"] = run_job(new_reply(), True)
    Path(out_path).write_text(json.dumps(results))


def profile_thread(conversation_uuid: str, out_path: str, runs: int = 40) -> None:
    """Time the thread page in-process (no server), cached and not, and its parts.

    Every run takes one sample of each measure in turn, so a burst of other
    work on the machine hits them all alike; the medians are written as JSON.
    """
    import pickle

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.cache import SessionStore
    from django.template.loader import render_to_string
    from django.test import Client, RequestFactory
    from django.test.utils import override_settings
    from django_htmx.middleware import HtmxDetails

    from chat import cache, views
    from chat.models import Conversation
    from chat.presenters import thread_rows

    conversation = Conversation.objects.get(uuid=conversation_uuid)
    user = get_user_model().objects.get(email=EMAIL)
    url = f"/chat/{conversation.uuid}/"
    factory = RequestFactory()
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)

    def get_page() -> None:
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"the thread page answered {response.status_code} in-process")

    def request():
        req = factory.get(url)
        req.user = user
        req.session = SessionStore()
        req.htmx = HtmxDetails(req)
        return req

    def with_cache(enabled: bool, function):
        def run():
            with override_settings(CHAT_READ_CACHE=enabled):
                return function()

        return run

    limit = settings.CHAT_PAGE_SIZE
    page = thread_rows(conversation, limit=limit)
    context = with_cache(True, lambda: views._thread_context(request(), conversation.uuid))()
    name = views.thread_cache_name(conversation.uuid, user.pk)
    measures = {
        # the whole Django stack (middleware, session, auth), no server
        "django_stack_cached_ms": with_cache(True, get_page),
        "django_stack_uncached_ms": with_cache(False, get_page),
        # the view alone
        "view_cached_ms": with_cache(True, lambda: views.thread(request(), conversation.uuid)),
        "view_uncached_ms": with_cache(False, lambda: views.thread(request(), conversation.uuid)),
        # its parts
        "rows_from_database_ms": lambda: thread_rows(conversation, limit=limit),
        "rows_from_cache_ms": with_cache(True, lambda: cache.cached(user.pk, name, lambda: page)),
        "render_page_ms": lambda: render_to_string("chat/thread.html", context, request=request()),
        "render_page_without_messages_ms": lambda: render_to_string(
            "chat/thread.html", {**context, "parts": [], "has_more": False}, request=request()
        ),
    }
    samples: dict[str, list[float]] = {key: [] for key in measures}
    for run in range(runs + 1):
        for key, function in measures.items():
            started = time.perf_counter()
            function()
            if run:  # the first run warms up
                samples[key].append(time.perf_counter() - started)
    out = {key: _ms(statistics.median(values)) for key, values in samples.items()}
    out["rows_pickled_kib"] = round(len(pickle.dumps(page, pickle.HIGHEST_PROTOCOL)) / 1024, 1)
    out["page_kib"] = round(len(render_to_string("chat/thread.html", context, request=request())) / 1024, 1)
    Path(out_path).write_text(json.dumps(out))


# --- the processes ------------------------------------------------------------


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Processes:
    """Every process the bench started, stopped in reverse order whatever happens."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen] = []

    def start(self, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
        with open(log, "ab") as out:
            # A session of its own: Ctrl-C reaches only the bench, which stops them in order.
            process = subprocess.Popen(
                args, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.running.append(process)
        return process

    def stop(self, process: subprocess.Popen, timeout: float = 10) -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if process in self.running:
            self.running.remove(process)

    def stop_all(self) -> None:
        for process in reversed(list(self.running)):
            self.stop(process)


def manage(*args: str) -> list[str]:
    return [sys.executable, str(BASE_DIR / "manage.py"), *args]


def run_django(env: dict[str, str], code: str, timeout: float = 300) -> str:
    done = subprocess.run(
        manage("shell", "-c", code),
        cwd=BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done.stdout


@contextmanager
def redis_url(workdir: Path) -> Iterator[str]:
    """An embedded Valkey, or an empty spare database on the server REDIS_URL names."""
    import redis

    given = os.environ.get("REDIS_URL")
    if not given:
        from videochat.embedded import start_valkey

        server = start_valkey(workdir / "valkey", persist=False)
        try:
            yield f"{server.connection_url}/0"
        finally:
            server.stop()
        return
    parts = urlsplit(given)
    current = int(parts.path.strip("/") or 0)
    for number in range(15, 0, -1):
        url = urlunsplit(parts._replace(path=f"/{number}"))
        client = redis.Redis.from_url(url)
        if number != current and client.dbsize() == 0:
            break
    else:
        raise RuntimeError(f"no empty database number on {parts.hostname} for the bench")
    print(f"using empty Redis database {number} on the REDIS_URL server", file=sys.stderr)
    try:
        yield url
    finally:
        client.flushdb()


def wait_for_worker(redis_url_: str, name: str, process: subprocess.Popen, timeout: float = 60) -> None:
    import redis

    client = redis.Redis.from_url(redis_url_)

    def registered() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"worker {name} exited with {process.returncode}")
        return client.sismember("rq:workers:high", f"rq:worker:{name}")

    until(registered, timeout=timeout, what=f"worker {name} to register", interval=0.1)


# --- the client side ------------------------------------------------------------


def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


async def log_in(client, password: str) -> None:
    page = (await client.get("/accounts/login/")).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = await client.post(
        "/accounts/login/", data={"username": EMAIL, "password": password, "csrfmiddlewaretoken": token}
    )
    if response.status_code != 302 or "sessionid" not in client.cookies:
        raise RuntimeError(f"log-in failed: HTTP {response.status_code}")


@dataclass
class Reply:
    uuid: str = ""
    seen: int = 0  # how many socket messages had arrived before the POST
    started: float = 0.0  # perf_counter just before the POST
    started_wall: float = 0.0  # time.time() at the same moment
    posted: float = 0.0  # the POST's answer read
    first_push: float | None = None
    first_chunk: float | None = None
    complete: float | None = None
    chunks: int = 0
    job: dict[str, float] = field(default_factory=dict)

    def ms(self, moment: float | None) -> float | None:
        return None if moment is None else (moment - self.started) * 1000


class Socket:
    """The page's /ws/events/ socket, with every message timestamped as it arrives."""

    def __init__(self, port: int, cookie: str) -> None:
        self.port, self.cookie = port, cookie
        self.received: list[tuple[float, str]] = []
        self.arrived = asyncio.Event()

    async def __aenter__(self) -> Socket:
        from websockets.asyncio.client import connect

        self.connection = await connect(
            f"ws://127.0.0.1:{self.port}/ws/events/",
            origin=f"http://127.0.0.1:{self.port}",
            additional_headers={"Cookie": self.cookie},
            compression=None,
            open_timeout=10,
        )
        self.reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        async for message in self.connection:
            self.received.append((time.perf_counter(), message))
            self.arrived.set()

    async def __aexit__(self, *exc: object) -> None:
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.reader
        await self.connection.close()


def match(reply: Reply, received: list[tuple[float, str]]) -> None:
    """Find the reply's pushes among everything the socket received (idempotent)."""
    stream = f'id="message-{reply.uuid}-stream"'
    whole = f'id="message-{reply.uuid}"'
    reply.first_push = reply.first_chunk = reply.complete = None
    reply.chunks = 0
    for at, text in received[reply.seen :]:
        if stream in text and 'data-swap="chunk"' in text:
            reply.chunks += 1
            if reply.first_chunk is None:
                reply.first_chunk = at
        elif whole in text:
            if reply.first_push is None:
                reply.first_push = at
            if 'data-status="complete"' in text and reply.complete is None:
                reply.complete = at
                # A reply written faster than the first chunk is flushed arrives whole:
                # its text first shows with it.
                if reply.first_chunk is None:
                    reply.first_chunk = at


def job_times(redis_client, reply: Reply) -> dict[str, float]:
    """RQ's timestamps for the reply's job, in ms after the POST started."""
    from rq.utils import utcparse

    fields = redis_client.hgetall(f"rq:job:reply-{reply.uuid.replace('-', '')}")
    out = {}
    for name in ("enqueued_at", "started_at", "ended_at"):
        value = fields.get(name.encode())
        if value:
            out[name] = (utcparse(value.decode()).timestamp() - reply.started_wall) * 1000
    return out


async def send_replies(
    client, socket: Socket, conversation: str, video: str, count: int, deadline: float
) -> list[Reply]:
    """Ask `count` questions one after another; each waits for its reply to complete."""
    replies = []
    headers = {"HX-Request": "true", "X-CSRFToken": client.cookies["csrftoken"]}
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        reply = Reply(seen=len(socket.received), started=time.perf_counter(), started_wall=time.time())
        response = await client.post(
            f"/chat/{conversation}/send/", data={"text": QUESTION, "videos": video}, headers=headers
        )
        reply.posted = time.perf_counter()
        found = re.search(r'id="message-([0-9a-f-]{36})-stream"', response.text)
        if response.status_code != 200 or not found:
            raise RuntimeError(f"send failed: HTTP {response.status_code}: {response.text[:300]}")
        reply.uuid = found.group(1)
        give_up = time.monotonic() + REPLY_TIMEOUT
        while time.monotonic() < give_up:
            socket.arrived.clear()
            match(reply, socket.received)
            if reply.complete is not None:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(socket.arrived.wait(), timeout=0.5)
        if reply.complete is None:
            raise RuntimeError(f"reply {reply.uuid} did not complete within {REPLY_TIMEOUT}s")
        replies.append(reply)
    return replies


@dataclass
class Load:
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    errors: int = 0
    server_cpu: float = 0.0  # seconds of the server process
    client_cpu: float = 0.0  # seconds of this process (the load generator)

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


@dataclass
class RawResponse:
    status_code: int
    body: bytes


class RawHttpPool:
    """A minimal HTTP/1.1 keep-alive GET client on asyncio streams.

    The load generator shares the machine's 2 cores with the server it
    measures; httpx spent about as much CPU per request as a cached page
    costs the server, which squeezed the server's share and hid the
    difference between the two pages. This spends a fraction of that.
    """

    def __init__(self, port: int, cookies: dict[str, str]) -> None:
        self.port = port
        self.cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def get(self, path: str) -> RawResponse:
        if self.idle:
            reader, writer = self.idle.pop()
        else:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nCookie: {self.cookie}\r\n\r\n".encode()
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await reader.readexactly(length)
        self.idle.append((reader, writer))
        return RawResponse(status, body)

    async def aclose(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


async def drive(client, server_pid: int, url: str, concurrency: int, seconds: float, load: Load) -> None:
    """`concurrency` requests in flight for `seconds` (and at most MAX_REQUESTS_PER_ROUND)."""
    end = time.perf_counter() + seconds
    budget = [MAX_REQUESTS_PER_ROUND]

    async def one_connection() -> None:
        while time.perf_counter() < end and budget[0] > 0:
            budget[0] -= 1
            started = time.perf_counter()
            response = await client.get(url)
            if response.status_code == 200:
                load.latencies.append(time.perf_counter() - started)
            else:
                load.errors += 1

    started, server_cpu, client_cpu = time.perf_counter(), cpu_seconds(server_pid), own_cpu_seconds()
    await asyncio.gather(*(one_connection() for _ in range(concurrency)))
    load.seconds += time.perf_counter() - started
    load.server_cpu += cpu_seconds(server_pid) - server_cpu
    load.client_cpu += own_cpu_seconds() - client_cpu


# --- the figures ------------------------------------------------------------------


WORKERS = {
    # kind: (label, --worker-class or None for the project's settings.RQ["WORKER_CLASS"], figure prefix)
    "project": ("the project's worker", None, ""),
    "fork": ("RQ's forking Worker (baseline)", "rq.worker.Worker", "rq_fork_"),
}


def worker_args(kind: str, name: str) -> list[str]:
    args = manage("rqworker", "high", "--name", name)
    worker_class = WORKERS[kind][1]
    if worker_class:
        args += ["--worker-class", worker_class]
    return args


@dataclass
class Replies:
    replies: list[Reply] = field(default_factory=list)
    worker_cpu: float = 0.0  # seconds, worker and its work horses, measured replies only
    server_cpu: float = 0.0  # seconds, Daphne


async def figure_replies(args, procs: Processes, env, workdir, server, ids, password, redis_client) -> dict:
    import httpx

    port = server.port
    kinds = ["project"] if args.project_only else list(WORKERS)
    per_round = max(1, args.replies // args.reply_rounds)
    results = {kind: Replies() for kind in kinds}
    deadline = time.monotonic() + args.reply_time_cap
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        await log_in(client, password)
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        async with Socket(port, cookie) as socket:
            for round_number in range(args.reply_rounds):
                for kind in kinds:
                    name = f"bench-{kind}-{round_number}-{secrets.token_hex(3)}"
                    worker = procs.start(worker_args(kind, name), env, workdir / f"worker-{kind}.log")
                    try:
                        wait_for_worker(env["REDIS_URL"], name, worker)
                        await send_replies(client, socket, ids["send"], ids["video"], args.warmups, deadline)
                        worker_cpu = cpu_seconds(worker.pid, children=True)
                        server_cpu = cpu_seconds(server.process.pid)
                        results[kind].replies += await send_replies(
                            client, socket, ids["send"], ids["video"], per_round, deadline
                        )
                        await asyncio.sleep(0.5)  # the last work horse exits and is reaped: its CPU counts
                        results[kind].worker_cpu += cpu_seconds(worker.pid, children=True) - worker_cpu
                        results[kind].server_cpu += cpu_seconds(server.process.pid) - server_cpu
                    finally:
                        procs.stop(worker)  # a warm shutdown: its last job has ended
                    for reply in results[kind].replies:
                        reply.job = reply.job or job_times(redis_client, reply)
    return results


def _median(values) -> float:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else float("nan")


def print_reply_table(results: dict[str, Replies]) -> dict[str, float]:
    figures: dict[str, float] = {}
    print("\n1. Reply latency, local provider (ms from just before the POST; one reply at a time)")
    print(f"{'worker':30}{'n':>4}{'p50':>8}{'p95':>8}{'max':>8}")
    for kind, result in results.items():
        replies = result.replies
        if not replies:
            continue
        label, _, prefix = WORKERS[kind]
        for what, pick in (
            ("POST answered", lambda r: r.ms(r.posted)),
            ("first chunk", lambda r: r.ms(r.first_chunk)),
            ("full reply", lambda r: r.ms(r.complete)),
        ):
            samples = [x for x in map(pick, replies) if x is not None]
            print(
                f"{label if what == 'POST answered' else '':30}{len(samples):>4}"
                f"{percentile(samples, 50):8.1f}{percentile(samples, 95):8.1f}{max(samples):8.1f}  {what}"
            )
        first = [r.ms(r.first_chunk) for r in replies if r.first_chunk is not None]
        figures[f"{prefix}first_chunk_p95_ms"] = percentile(first, 95)
        figures[f"{prefix}first_chunk_p50_ms"] = percentile(first, 50)
        figures[f"{prefix}full_reply_p95_ms"] = percentile([r.ms(r.complete) for r in replies], 95)

    print(
        "\n   where the time goes: median ms after the POST started (enqueued/started/ended: RQ's job stamps)"
    )
    print(
        f"   {'worker':30}{'enqueued':>9}{'POST ok':>8}{'started':>8}{'1st push':>9}{'1st chunk':>10}"
        f"{'complete':>9}{'ended':>7}{'chunks':>7}{'cpu/reply: worker':>19}{'daphne':>7}"
    )
    for kind, result in results.items():
        replies = result.replies
        if not replies:
            continue
        label, _, prefix = WORKERS[kind]
        enqueued = _median(r.job.get("enqueued_at") for r in replies)
        started = _median(r.job.get("started_at") for r in replies)
        first_chunk = _median(r.ms(r.first_chunk) for r in replies)
        print(
            f"   {label:30}{enqueued:9.1f}{_median(r.ms(r.posted) for r in replies):8.1f}{started:8.1f}"
            f"{_median(r.ms(r.first_push) for r in replies):9.1f}{first_chunk:10.1f}"
            f"{_median(r.ms(r.complete) for r in replies):9.1f}{_median(r.job.get('ended_at') for r in replies):7.1f}"
            f"{_median(r.chunks for r in replies):7.0f}"
            f"{result.worker_cpu * 1000 / len(replies):17.1f}ms{result.server_cpu * 1000 / len(replies):5.1f}ms"
        )
        figures[f"{prefix}queue_pickup_p50_ms"] = started - enqueued
        figures[f"{prefix}job_to_first_chunk_p50_ms"] = first_chunk - started
        figures[f"{prefix}worker_cpu_ms_per_reply"] = result.worker_cpu * 1000 / len(replies)
    return figures


def print_job_profile(data: dict) -> None:
    print("\n   the reply job's body in a worker-sized Django process (ms from the job's start; median of 5)")
    print(f"   one fork + exit + wait of such a process: {data['fork_exit_wait_ms']:.1f} ms")
    print(f"   {'variant':36}{'to 1st push':>12}{'to 1st chunk':>13}{'whole job':>10}")
    variants = (
        ("in_process", "in process (the project's worker)"),
        ("cold_fork", "fresh fork of a cold parent (RQ's)"),
    )
    for key, label in variants:
        runs = data[key]
        print(
            f"   {label:36}{_median(r['first_push_at_ms'] for r in runs):12.1f}"
            f"{_median(r['first_chunk_at_ms'] for r in runs):13.1f}{_median(r['total_ms'] for r in runs):10.1f}"
        )
    names = "".join(f"{key:>16}" for key, _ in variants)
    print(f"\n   {'step, ms: first call / mean of later calls':44}{names}")
    for name in ("video_facts", "_history", "render_message", "push_html", "push_message", "push_chunk"):
        cells = []
        for key, _ in variants:
            step = data[key][-1]["steps"].get(name)
            cells.append(f"{step['first_ms']:6.1f} /{step['rest_mean_ms']:5.1f}" if step else "-")
        print(f"   {name:44}" + "".join(f"{cell:>16}" for cell in cells))


def print_thread_table(loads: dict[str, Load], concurrency: int, profile: dict) -> dict[str, float]:
    print(f"\n2. Thread page (30 of 40 messages), {concurrency} concurrent connections, A/B rounds")
    print(
        f"{'server':24}{'requests':>9}{'errors':>7}{'rps':>8}{'p50 ms':>8}{'p95 ms':>8}"
        f"{'server cpu/req':>16}{'client cpu/req':>16}"
    )
    for name, load in loads.items():
        count = len(load.latencies)
        lat = [x * 1000 for x in load.latencies] or [float("nan")]
        print(
            f"{name:24}{count:9d}{load.errors:7d}{load.rps:8.1f}{percentile(lat, 50):8.1f}{percentile(lat, 95):8.1f}"
            f"{load.server_cpu * 1000 / max(count, 1):14.2f}ms{load.client_cpu * 1000 / max(count, 1):14.2f}ms"
        )
    print("\n   the same page in-process, no server (median ms; sizes in KiB)")
    for key, value in profile.items():
        print(f"   {key:34}{value:8.2f}")
    cached, uncached = loads["thread cached (A)"], loads["thread uncached (B)"]
    return {
        "thread_cached_p95_ms": percentile([x * 1000 for x in cached.latencies], 95),
        "thread_uncached_p95_ms": percentile([x * 1000 for x in uncached.latencies], 95),
        "thread_cached_server_cpu_ms": cached.server_cpu * 1000 / max(len(cached.latencies), 1),
        "thread_uncached_server_cpu_ms": uncached.server_cpu * 1000 / max(len(uncached.latencies), 1),
        "healthz_rps": loads["/healthz (ASGI floor)"].rps,
        "thread_cached_rps": cached.rps,
        "thread_uncached_rps": uncached.rps,
        "cached_vs_uncached_rps": cached.rps / uncached.rps if uncached.rps else float("nan"),
    }


@dataclass
class Server:
    port: int
    process: subprocess.Popen


async def figure_thread(args, servers: dict[str, Server], ids, password) -> dict[str, Load]:
    import httpx

    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    clients = {}
    try:
        for name, server in servers.items():
            clients[name] = httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{server.port}", timeout=30, limits=limits
            )
            await log_in(clients[name], password)
        url = f"/chat/{ids['read']}/"
        pages = {name: (await client.get(url)).text for name, client in clients.items()}
        counts = {name: page.count('class="chat-message ') for name, page in pages.items()}
        if len(set(counts.values())) != 1 or not next(iter(counts.values())):
            raise RuntimeError(f"the two servers disagree on the thread page: {counts}")
        cached, uncached = servers["cached"].process.pid, servers["uncached"].process.pid
        # The load itself goes through the light client, with the session httpx logged in with.
        raw = {
            name: RawHttpPool(servers[name].port, {c.name: c.value for c in client.cookies.jar})
            for name, client in clients.items()
        }
        clients = {**clients, **{f"raw-{name}": pool for name, pool in raw.items()}}
        loads = {"thread cached (A)": Load(), "thread uncached (B)": Load(), "/healthz (ASGI floor)": Load()}
        await drive(clients["raw-cached"], cached, url, args.concurrency, 1.0, Load())  # warm both
        await drive(clients["raw-uncached"], uncached, url, args.concurrency, 1.0, Load())
        per_round = args.seconds / args.load_rounds
        for _ in range(args.load_rounds):
            await drive(
                clients["raw-cached"], cached, url, args.concurrency, per_round, loads["thread cached (A)"]
            )
            await drive(
                clients["raw-uncached"],
                uncached,
                url,
                args.concurrency,
                per_round,
                loads["thread uncached (B)"],
            )
        await drive(
            clients["raw-cached"],
            cached,
            "/healthz",
            args.concurrency,
            min(5.0, per_round),
            loads["/healthz (ASGI floor)"],
        )
        return loads
    finally:
        for client in clients.values():
            await client.aclose()


def start_daphne(procs: Processes, env: dict[str, str], workdir: Path, name: str) -> Server:
    port = free_port()
    process = procs.start(
        daphne_argv("127.0.0.1", port),
        env,
        workdir / f"daphne-{name}.log",
    )
    wait_for_http(f"http://127.0.0.1:{port}/healthz", process, timeout=60)
    return Server(port, process)


FIGURE_ORDER = [
    "queue_pickup_p50_ms",
    "job_to_first_chunk_p50_ms",
    "worker_cpu_ms_per_reply",
    "rq_fork_first_chunk_p95_ms",
    "rq_fork_first_chunk_p50_ms",
    "rq_fork_full_reply_p95_ms",
    "rq_fork_worker_cpu_ms_per_reply",
    "healthz_rps",
    "thread_cached_p95_ms",
    "thread_uncached_p95_ms",
    "thread_cached_server_cpu_ms",
    "thread_uncached_server_cpu_ms",
    "thread_cached_rps",
    "thread_uncached_rps",
    "cached_vs_uncached_rps",
    "first_chunk_p50_ms",
    "full_reply_p95_ms",
    "first_chunk_p95_ms",
]


def figure_1(args, procs, env, workdir, server, ids, password, redis_client) -> dict[str, float]:
    replies = asyncio.run(figure_replies(args, procs, env, workdir, server, ids, password, redis_client))
    figures = print_reply_table(replies)
    out = workdir / "job-profile.json"
    run_django(env, f"from bench.bench_chat import profile_job; profile_job({ids['send']!r}, {str(out)!r})")
    profile = json.loads(out.read_text())
    print_job_profile(profile)
    if args.profiles:
        print(profile["cold_fork_profile"]["profile"])
        print(profile["in_process_profile"]["profile"])
    return figures


def figure_2(args, env, workdir, servers: dict[str, Server], ids, password) -> dict[str, float]:
    loads = asyncio.run(figure_thread(args, servers, ids, password))
    out = workdir / "thread-profile.json"
    run_django(
        env, f"from bench.bench_chat import profile_thread; profile_thread({ids['read']!r}, {str(out)!r})"
    )
    return print_thread_table(loads, args.concurrency, json.loads(out.read_text()))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def server_env(workdir: Path, redis_location: str) -> dict[str, str]:
    """The environment of every process a bench starts: a throwaway SQLite database
    and media folder in `workdir`, the given Redis, the local assistant, raised chat limits."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "videochat.settings",
            "DEBUG": "true",  # plain HTTP on 127.0.0.1, static files without collectstatic
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
            "REDIS_URL": redis_location,
            "MEDIA_ROOT": str(workdir / "media"),
            "RATELIMIT_CHAT_USER": "100000/m",
            "ASSISTANT_PROVIDER": "local",
            "CHAT_READ_CACHE": "true",
            "TMPDIR": str(workdir),
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("GEMINI_API_KEY", None)
    return env


def run(args, workdir: Path, procs: Processes) -> dict[str, float]:
    import redis

    password = "bench password " + secrets.token_hex(8)
    figures: dict[str, float] = {}
    with redis_url(workdir) as redis_location:
        try:
            env = server_env(workdir, redis_location)
            subprocess.run(manage("migrate", "--noinput", "-v", "0"), cwd=BASE_DIR, env=env, check=True)
            seeded = run_django(env, f"from bench.bench_chat import seed; seed({password!r})")
            ids = json.loads(seeded.split("BENCH-IDS ", 1)[1].splitlines()[0])
            redis_client = redis.Redis.from_url(redis_location)

            cached = start_daphne(procs, env, workdir, "cached")
            if args.only != "thread":
                figures.update(figure_1(args, procs, env, workdir, cached, ids, password, redis_client))
            if args.only != "replies":
                uncached = start_daphne(procs, {**env, "CHAT_READ_CACHE": "false"}, workdir, "uncached")
                servers = {"cached": cached, "uncached": uncached}
                figures.update(figure_2(args, env, workdir, servers, ids, password))
        finally:
            # Servers and workers go before the Redis they use; a second Ctrl-C must not cut this short.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            procs.stop_all()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replies", type=int, default=40, help="measured replies per worker class")
    parser.add_argument("--reply-rounds", type=int, default=2, help="alternating rounds per worker class")
    parser.add_argument("--warmups", type=int, default=3, help="unmeasured replies after each worker start")
    parser.add_argument("--reply-time-cap", type=float, default=240, help="seconds for all reply rounds")
    parser.add_argument(
        "--project-only", action="store_true", help="only the project's worker, no baseline beside it"
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10, help="load seconds per thread server")
    parser.add_argument("--load-rounds", type=int, default=2, help="A/B rounds the seconds are split into")
    parser.add_argument("--only", choices=("replies", "thread"), help="run one of the two figures")
    parser.add_argument("--profiles", action="store_true", help="also print cProfile output of the job")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs) afterwards")
    args = parser.parse_args(argv)

    # Our own handlers, not asyncio's: Ctrl-C interrupts wherever the bench is, even in a blocking wait.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    workdir = Path(tempfile.mkdtemp(prefix="bench-chat-"))
    procs = Processes()
    try:
        figures = run(args, workdir, procs)
    except KeyboardInterrupt:
        print("interrupted; stopped everything the bench started", file=sys.stderr)
        return 130
    finally:
        procs.stop_all()
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print()
    for name in FIGURE_ORDER:
        if name in figures:
            print(f"{name}: {figures[name]:.{2 if name == 'cached_vs_uncached_rps' else 1}f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
