"""Live updates under a soak: pages held open for minutes miss nothing, and how fast a push lands.

Run from the project folder:  .venv/bin/python -m bench.bench_live [--users 3] [--seconds 180]
(`--help` lists the rest.)

Starts everything itself in a temporary folder, as bench_chat does: an
embedded Valkey (or an empty spare database number on the REDIS_URL server),
a migrated throwaway SQLite database with N users and one conversation each,
Daphne serving the app as `make run` does and one worker on every queue
(`rqworker high default low --with-scheduler`, Whisper included).

In Debian's Chromium each user logs in through the real form and keeps two
watcher pages open the whole time, never reloaded: their thread and /videos/.
Meanwhile, per user, a driver holding the same session posts a question to
the thread every few seconds as htmx does, and every few questions uploads a
new, distinct clip, attaching every other one to the next question, so
analyses, summaries and streamed replies run while the pages are open.

Measured in the same run, on the same machine and Redis:
- **push latency**: every ~0.5 s this process pushes a hidden probe element
  to every user with `core.consumers.push_html` (the worker's own call),
  stamping the wall time just before the call; a MutationObserver on each
  watcher page stamps the moment the probe changes. Same clock both sides.
- **raw Redis round trip**: between the probes, a redis-py publish carrying
  its send time, received by a subscriber thread.
- in the table only: the same probes as they come off the wire of a plain
  websocket client in this process (the server's part of the path).

When the time is up the load stops and, once the database says every reply
and analysis has ended, each watcher page is compared with a reload of it
(testkit/browser.py): every live element the reload shows must be
on the long-open page at the same version, status and text.

Prints a table, then `name: value` lines; the key ones are `soak_updates_lost`
and `soak_socket_error_closes` (both should be 0) and `ws_push_vs_redis_roundtrip`,
the push path relative to the raw Redis hop measured at the same moment. Under
other processes' load the push path (three processes and a browser) slows far
more than one Redis hop does, so the ratio rises too: compare runs on a quiet
machine, and read the load average and CPU line printed with the table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.bench_chat import (
    BASE_DIR,
    Processes,
    Socket,
    _interrupt,
    cpu_seconds,
    manage,
    own_cpu_seconds,
    percentile,
    redis_url,
    run_django,
    server_env,
    start_daphne,
    wait_for_worker,
)

PROBE_ID = "bench-probe"
PROBE_VERSION = re.compile(rf'^<div id="{PROBE_ID}" data-version="(\d+)"')
PROBE_EVERY = 0.5  # seconds between probe rounds (one push per user), Redis pings in between
WARMUP_PROBES = 5  # the first rounds are not counted
SETTLE_TIMEOUT = 180.0  # seconds the worker may take to finish what the soak left it
CONVERGE_TIMEOUT = 10.0  # seconds a page may take to match its reload once all is done

# Injected into each watcher page: a probe element for the pushes to replace, and an
# observer that stamps each new version of it (live.js swaps it by outerHTML).
WATCH_PROBE = """(id) => {
  const probe = document.createElement('div');
  probe.id = id;
  probe.setAttribute('data-version', '0');
  probe.hidden = true;
  document.body.appendChild(probe);
  window.benchProbes = [];
  let last = '0';
  new MutationObserver(() => {
    const now = Date.now();
    const shown = document.getElementById(id);
    const version = shown && shown.getAttribute('data-version');
    if (version && version !== last) {
      last = version;
      window.benchProbes.push([Number(version), now]);
    }
  }).observe(document.body, {childList: true, subtree: true});
}"""


# --- inside Django (run through `manage.py shell -c`, same environment) -----


def seed(users: int, password: str) -> None:
    """Create the users, each with one empty conversation; print them as JSON."""
    from accounts.models import User
    from chat.services import conversation_create

    rows = []
    for number in range(1, users + 1):
        user = User.objects.create_user(f"soak{number}@example.com", password)
        conversation = conversation_create(owner=user)
        rows.append({"id": user.pk, "email": user.email, "conversation": str(conversation.uuid)})
    print("BENCH-USERS " + json.dumps(rows), flush=True)


def unfinished_work() -> tuple[int, int]:
    """(replies still pending or streaming, videos still queued or processing)."""
    from analysis.models import Video
    from chat.models import Message

    open_replies = Message.objects.filter(status__in=[Message.Status.PENDING, Message.Status.STREAMING])
    return open_replies.count(), Video.objects.unfinished().count()


# --- the load -------------------------------------------------------------------


@dataclass
class User:
    id: int
    email: str
    conversation: str
    pages: dict = field(default_factory=dict)  # "thread" / "videos" -> Playwright page
    sent: int = 0
    uploads: int = 0
    attached: int = 0
    errors: list[str] = field(default_factory=list)


class Driver:
    """One user's other tab, played over HTTP: posts questions and uploads clips as the page does."""

    def __init__(self, user: User, base_url: str, cookies: list[dict], clips: Path, clip_number) -> None:
        import httpx

        self.user = user
        self.clips = clips
        self.clip_number = clip_number  # shared counter: every clip of the run is distinct
        jar = httpx.Cookies()
        for cookie in cookies:  # with their domain, so the server's Set-Cookie replaces them
            jar.set(cookie["name"], cookie["value"], domain=cookie["domain"], path=cookie["path"])
        self.client = httpx.Client(base_url=base_url, cookies=jar, timeout=30)
        page = self.client.get(f"/chat/{user.conversation}/").text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        self.headers = {"X-CSRFToken": token, "HX-Request": "true"}
        self.to_attach: str | None = None

    def step(self, video_every: int) -> None:
        """Upload a clip when it is the turn of one, then send the next question."""
        if self.user.sent % video_every == 0:
            self.upload()
        videos = [self.to_attach] if self.to_attach else []
        self.to_attach = None
        number = self.user.sent + 1
        text = f"Question {number}: how long is it, and when is it loudest?"
        response = self.client.post(
            f"/chat/{self.user.conversation}/send/",
            data={"text": text, "videos": videos},
            headers=self.headers,
        )
        if response.status_code != 200:
            self.user.errors.append(f"send {number}: HTTP {response.status_code}")
            return
        self.user.sent += 1
        self.user.attached += len(videos)

    def upload(self) -> None:
        from analysis.tests.clips import make_clip

        number = next(self.clip_number)
        # Distinct durations give distinct bytes: the app de-duplicates identical uploads.
        clip = make_clip(
            self.clips / f"soak-{number}.mp4", duration=2.0 + number / 10, size=(320, 180), cuts=(1.0,)
        )
        with open(clip.path, "rb") as data:
            response = self.client.post(
                "/videos/upload/",
                files={"files": (clip.path.name, data, "video/mp4")},
                headers={"X-CSRFToken": self.headers["X-CSRFToken"], "HX-Request": "true"},
            )
        clip.path.unlink()
        # The page's answer: the file's verdict, naming its video when it was taken.
        accepted = re.search(r'data-code="accepted" data-video="([0-9a-f-]{36})"', response.text)
        if response.status_code != 200 or accepted is None:
            self.user.errors.append(f"upload {number}: HTTP {response.status_code} {response.text[:200]}")
            return
        self.user.uploads += 1
        if self.user.uploads % 2 == 1:  # every other upload goes with the next question
            self.to_attach = accepted.group(1)

    def close(self) -> None:
        self.client.close()


# --- the probes -----------------------------------------------------------------


class Probes:
    """Probe pushes to every user, and raw Redis round trips between them, on threads of their own.

    One more socket, a plain websocket client of the first user's session in this
    process, stamps when each of that user's probes comes off the wire: what the
    server path costs before the browser's part.
    """

    def __init__(self, users: list[User], redis_location: str, port: int, cookie: str) -> None:
        import redis

        self.users = users
        # (user id, version) -> (time.time(), time.perf_counter()) just before the push
        self.sent: dict[tuple[int, int], tuple[float, float]] = {}
        self.push_failures = 0
        self.roundtrips: list[float] = []  # seconds, after the warm-up
        self.wire: list[tuple[float, str]] = []  # (perf_counter, text) off the plain socket
        self.redis = redis.Redis.from_url(redis_location)
        # Pub/sub channels span every database of a server: a name of our own.
        self.channel = f"bench-live-roundtrip-{secrets.token_hex(6)}"
        self.port, self.cookie = port, cookie
        self.stopping = threading.Event()
        self.ready = threading.Barrier(3, timeout=15)  # the subscriber, the plain socket, start()
        self.threads = [
            threading.Thread(target=self._subscribe, name="redis-subscriber", daemon=True),
            threading.Thread(target=self._listen, name="plain-socket", daemon=True),
            threading.Thread(target=self._send, name="probe-sender", daemon=True),
        ]

    def start(self) -> None:
        self.threads[0].start()
        self.threads[1].start()
        self.ready.wait()
        self.threads[2].start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            if thread.is_alive():
                thread.join(timeout=10)

    def _send(self) -> None:
        from core.consumers import push_html

        version = 0
        next_round = time.monotonic()
        while not self.stopping.is_set():
            version += 1
            html = f'<div id="{PROBE_ID}" data-version="{version}" hidden>{version}</div>'
            for user in self.users:
                sent = (time.time(), time.perf_counter())
                try:
                    push_html(user.id, html)
                except Exception:
                    self.push_failures += 1
                    continue
                self.sent[(user.id, version)] = sent
            if self.stopping.wait(PROBE_EVERY / 2):
                return
            self.redis.publish(self.channel, json.dumps([version, time.time()]))
            next_round += PROBE_EVERY
            self.stopping.wait(max(0.0, next_round - time.monotonic()))

    def _listen(self) -> None:
        async def listen() -> None:
            async with Socket(self.port, self.cookie) as socket:
                self.ready.wait()
                while not self.stopping.is_set():
                    await asyncio.sleep(0.2)
                self.wire = socket.received

        asyncio.run(listen())

    def _subscribe(self) -> None:
        pubsub = self.redis.pubsub()
        pubsub.subscribe(self.channel)
        try:
            while not self.stopping.is_set():
                message = pubsub.get_message(timeout=0.2)
                received = time.time()
                if message is None:
                    continue
                if message["type"] == "subscribe":
                    self.ready.wait()
                elif message["type"] == "message":
                    version, sent = json.loads(message["data"])
                    if version > WARMUP_PROBES:
                        self.roundtrips.append(received - sent)
        finally:
            pubsub.close()

    def push_latencies(self, user: User, page) -> tuple[list[tuple[int, float]], int]:
        """([(version, seconds from its push call to the page showing it)], probes never shown)."""
        seen = {version: at / 1000 for version, at in page.evaluate("() => window.benchProbes || []")}
        latencies, missed = [], 0
        for (user_id, version), (sent, _) in self.sent.items():
            if user_id != user.id or version <= WARMUP_PROBES:
                continue
            if version in seen:
                latencies.append((version, seen[version] - sent))
            else:
                missed += 1
        return latencies, missed

    def wire_latencies(self) -> list[tuple[int, float]]:
        """[(version, seconds from the first user's push call to its frame on the plain socket)]."""
        user_id = self.users[0].id
        latencies = []
        for at, text in self.wire:
            found = PROBE_VERSION.search(text)
            version = int(found.group(1)) if found else 0
            if version > WARMUP_PROBES and (user_id, version) in self.sent:
                latencies.append((version, at - self.sent[(user_id, version)][1]))
        return latencies


# --- the run ----------------------------------------------------------------------


def open_watchers(browser, user: User, base_url: str, password: str) -> list[dict]:
    """Log the user in, open the two watcher pages; return the session's cookies."""
    from testkit.browser import log_in, pump_until, socket_stats

    context = browser.new_context()
    thread = context.new_page()
    log_in(thread, base_url, user.email, password, next_url=f"/chat/{user.conversation}/")
    # The video list opens in a window of its own, not as a second tab: Chromium runs the
    # renderer of a tab that is not the front one of its window at a lower CPU priority
    # (nice 5, --disable-renderer-backgrounding notwithstanding), and on a busy machine
    # such a page falls minutes behind its socket. Two windows of one browser, both in front.
    with context.expect_page() as opened:
        thread.evaluate("(url) => { window.open(url, '_blank', 'popup,noopener'); }", f"{base_url}/videos/")
    videos = opened.value
    user.pages = {"thread": thread, "videos": videos}
    for page in user.pages.values():
        page.wait_for_load_state("load")
        pump_until(page, lambda page=page: socket_stats(page)["opens"] >= 1)
        page.evaluate(WATCH_PROBE, PROBE_ID)
        page.console_errors = []
        page.on("pageerror", lambda error, page=page: page.console_errors.append(str(error)))
        page.on(
            "console",
            lambda msg, page=page: msg.type == "error" and page.console_errors.append(msg.text),
        )
    return context.cookies()


def soak(args, users: list[User], drivers: list[Driver], pump) -> float:
    """Drive every user for args.seconds; return how long it ran."""
    started = time.monotonic()
    # Users start staggered, so their questions spread over each interval.
    next_step = [started + i * args.send_every / len(users) for i in range(len(users))]
    while time.monotonic() - started < args.seconds:
        for i, driver in enumerate(drivers):
            if time.monotonic() >= next_step[i]:
                driver.step(args.video_every)
                next_step[i] += args.send_every
        pump.wait_for_timeout(100)  # Playwright keeps delivering the pages' events meanwhile
    return time.monotonic() - started


def settle(pump) -> tuple[float, tuple[int, int]]:
    """Wait (bounded) until no reply or analysis is left; (seconds waited, what was left)."""
    started = time.monotonic()
    left = unfinished_work()
    while any(left) and time.monotonic() - started < SETTLE_TIMEOUT:
        pump.wait_for_timeout(500)
        left = unfinished_work()
    return time.monotonic() - started, left


@dataclass
class PageResult:
    expected: int
    lost: int
    problems: list[str]
    stats: dict
    latencies: list[tuple[int, float]]  # (probe version, seconds)
    probes_missed: int
    reloaded: bool
    console_errors: list[str]


def compare(user: User, name: str, probes: Probes) -> PageResult:
    """How one long-open page compares with a reload of it, and what its socket saw."""
    from testkit.browser import converge, live_state, reload_state, socket_stats

    page = user.pages[name]
    problems = converge(page, timeout=CONVERGE_TIMEOUT)
    truth, shown = reload_state(page), live_state(page)
    lost = [key for key, value in truth.items() if shown.get(key) != value]
    latencies, missed = probes.push_latencies(user, page)
    return PageResult(
        expected=len(truth),
        lost=len(lost),
        problems=problems + [f"{key}: page {shown.get(key)} != reload {truth[key]}" for key in lost],
        stats=socket_stats(page),
        latencies=latencies,
        probes_missed=missed,
        reloaded=not page.evaluate("() => Array.isArray(window.benchProbes)"),
        console_errors=page.console_errors,
    )


def run(args, workdir: Path, procs: Processes) -> dict[str, float]:
    import itertools

    from playwright.sync_api import sync_playwright

    begun = time.monotonic()
    timings: dict[str, float] = {}
    password = "bench password " + secrets.token_hex(8)
    with redis_url(workdir) as redis_location:
        try:
            env = server_env(workdir, redis_location)
            high = "1000000/h"
            env.update(
                {
                    "RATELIMIT_UPLOAD_USER": high,
                    "RATELIMIT_CONVERSATION_USER": high,
                    "RATELIMIT_LOGIN_IP": high,  # every user logs in from 127.0.0.1
                }
            )
            subprocess.run(manage("migrate", "--noinput", "-v", "0"), cwd=BASE_DIR, env=env, check=True)
            seeded = run_django(env, f"from bench.bench_live import seed; seed({args.users}, {password!r})")
            users = [User(**row) for row in json.loads(seeded.split("BENCH-USERS ", 1)[1].splitlines()[0])]

            server = start_daphne(procs, env, workdir, "live")
            base_url = f"http://127.0.0.1:{server.port}"
            worker_name = f"bench-live-{secrets.token_hex(4)}"
            worker = procs.start(
                manage("rqworker", "high", "default", "low", "--with-scheduler", "--name", worker_name),
                env,
                workdir / "worker.log",
            )
            wait_for_worker(redis_location, worker_name, worker)

            # This process pushes the probes and reads the database, as the servers' twin.
            os.environ.update(env)
            # Playwright's sync API keeps an event loop in this thread; the ORM calls here
            # block only us (as in the browser tests' conftest).
            os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
            import django

            django.setup()

            clips = workdir / "clips"
            clips.mkdir()
            from testkit.browser import launch_chromium

            with sync_playwright() as p:
                browser = launch_chromium(p)
                try:
                    clip_number = itertools.count(1)
                    drivers = []
                    for user in users:
                        cookies = open_watchers(browser, user, base_url, password)
                        drivers.append(Driver(user, base_url, cookies, clips, clip_number))
                    pump = users[0].pages["thread"]
                    session = "; ".join(f"{c.name}={c.value}" for c in drivers[0].client.cookies.jar)
                    probes = Probes(users, redis_location, server.port, session)
                    probes.start()
                    try:
                        timings["setup"] = time.monotonic() - begun
                        before = cpu_used(server.process, worker)
                        timings["soak"] = soak(args, users, drivers, pump)
                        timings["settle"], left = settle(pump)
                        cpu = {k: v - before[k] for k, v in cpu_used(server.process, worker).items()}
                    finally:
                        probes.stop()
                        for driver in drivers:
                            driver.close()
                    compared = time.monotonic()
                    results = {
                        (user.id, name): compare(user, name, probes) for user in users for name in user.pages
                    }
                    timings["compare"] = time.monotonic() - compared
                    if args.keep:  # every sample, by probe version (one every PROBE_EVERY s)
                        samples = {
                            f"{email} {name}": r.latencies for (email, name), r in named(users, results)
                        }
                        samples["plain socket"] = probes.wire_latencies()
                        (workdir / "latencies.json").write_text(json.dumps(samples))
                finally:
                    browser.close()
        finally:
            # Servers and workers go before the Redis they use; a second Ctrl-C must not cut this short.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            procs.stop_all()
    return report(args, users, results, probes, timings, cpu, left)


def named(users: list[User], results: dict) -> list:
    """[((email, page name), PageResult)] in the table's order."""
    return [((user.email, name), results[(user.id, name)]) for user in users for name in user.pages]


def cpu_used(server: subprocess.Popen, worker: subprocess.Popen) -> dict[str, float]:
    """CPU seconds used so far by Daphne, the worker and this process (Playwright's driver aside)."""
    return {
        "daphne": cpu_seconds(server.pid),
        "worker": cpu_seconds(worker.pid, children=True),
        "bench": own_cpu_seconds(),
    }


def report(args, users, results, probes, timings, cpu, left) -> dict[str, float]:
    print(
        f"\nLive soak: {len(users)} users x 2 watcher pages open {timings['soak']:.0f} s, a question every "
        f"{args.send_every:g} s per user, a new clip every {args.video_every} questions "
        f"(every other one attached)"
    )
    print(
        "   seconds: set-up {setup:.0f}, soak {soak:.0f}, work left afterwards {settle:.0f}, "
        "pages vs. reloads {compare:.0f}".format(**timings)
    )
    print(
        "   CPU seconds meanwhile (soak and work left): Daphne {daphne:.0f}, worker {worker:.0f}, "
        "this process {bench:.0f}; load average now {load:.1f}".format(**cpu, load=os.getloadavg()[0])
    )
    if any(left):
        print(
            f"   NOT SETTLED after {SETTLE_TIMEOUT:.0f} s: {left[0]} replies and {left[1]} videos still open"
        )
    print(
        f"{'user':22}{'sent':>6}{'videos':>7}{'attached':>9}{'pushes':>8}{'expected':>9}{'lost':>6}"
        f"{'err closes':>11}{'reconnects':>11}"
    )
    totals = {"expected": 0, "lost": 0, "error_closes": 0}
    for user in users:
        pages = [results[(user.id, name)] for name in user.pages]
        expected = sum(r.expected for r in pages)
        lost = sum(r.lost for r in pages)
        error_closes = sum(r.stats["errorCloses"] for r in pages)
        print(
            f"{user.email:22}{user.sent:6d}{user.uploads:7d}{user.attached:9d}"
            f"{sum(r.stats['pushes'] for r in pages):8d}{expected:9d}{lost:6d}{error_closes:11d}"
            f"{sum(r.stats['opens'] - 1 for r in pages):11d}"
        )
        totals["expected"] += expected
        totals["lost"] += lost
        totals["error_closes"] += error_closes
        for message in user.errors:
            print(f"   {user.email}: {message}")
        for name, r in zip(user.pages, pages, strict=True):
            for problem in r.problems:
                print(f"   {user.email} {name}: {problem}")
            if r.reloaded:
                print(f"   {user.email} {name}: the page was reloaded during the soak")
            for message in r.console_errors[:5]:
                print(f"   {user.email} {name} console: {message}")

    def ms(samples: list[tuple[int, float]]) -> list[float]:
        return [seconds * 1000 for _, seconds in samples]

    rows = {f"{email.split('@')[0]} {name}": ms(r.latencies) for (email, name), r in named(users, results)}
    push_ms = [x for samples in rows.values() for x in samples]
    redis_ms = [x * 1000 for x in probes.roundtrips]
    rows |= {
        "all watcher pages (ws_push)": push_ms,
        "plain socket, first user": ms(probes.wire_latencies()),
        "Redis publish -> subscriber (raw)": redis_ms,
    }
    print(f"\n{'latency, ms (push call -> shown)':40}{'n':>6}{'p50':>8}{'p95':>8}{'max':>9}{'missed':>7}")
    missed = {f"{email.split('@')[0]} {name}": r.probes_missed for (email, name), r in named(users, results)}
    for label, samples in rows.items():
        if samples:
            print(
                f"{label:40}{len(samples):6d}{percentile(samples, 50):8.2f}"
                f"{percentile(samples, 95):8.2f}{max(samples):9.2f}{missed.get(label, ''):>7}"
            )
    print("   (the plain socket: a websocket client of the first user's session in this process)")
    if probes.push_failures:
        print(f"   push calls that raised: {probes.push_failures}")

    push_p50, redis_p50 = percentile(push_ms, 50), percentile(redis_ms, 50)
    return {
        "soak_users": len(users),
        "soak_seconds": round(timings["soak"]),
        "soak_updates_expected": totals["expected"],
        "soak_updates_lost": totals["lost"],
        "soak_socket_error_closes": totals["error_closes"],
        "ws_push_p50_ms": push_p50,
        "ws_push_p95_ms": percentile(push_ms, 95),
        "redis_roundtrip_p50_ms": redis_p50,
        "redis_roundtrip_p95_ms": percentile(redis_ms, 95),
        "ws_push_vs_redis_roundtrip": push_p50 / redis_p50 if redis_p50 else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=3, help="users, each with two watcher pages")
    parser.add_argument("--seconds", type=float, default=180, help="length of the soak")
    parser.add_argument("--send-every", type=float, default=4, help="seconds between one user's questions")
    parser.add_argument("--video-every", type=int, default=4, help="a new clip every this many questions")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs) afterwards")
    args = parser.parse_args(argv)

    # Our own handlers: Ctrl-C interrupts wherever the bench is, even in a blocking wait.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    workdir = Path(tempfile.mkdtemp(prefix="bench-live-"))
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
    for name, value in figures.items():
        print(f"{name}: {value}" if isinstance(value, int) else f"{name}: {value:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
