"""The API's message pages: requests per second read from the cache vs. from the database, same load.

Run from the project folder:  .venv/bin/python -m bench.bench_api [--seconds 10] [--concurrency 16]

As bench_chat's thread-page figure, through real processes, in a temporary
folder: an embedded Valkey (or an empty spare database on REDIS_URL's
server), a throwaway SQLite database seeded by bench_chat (one user, an
analysed video, a conversation of 40 messages) and an API token for that
user. Two Daphne servers on that same database and Redis, one with
CHAT_READ_CACHE=false, are driven in turn (A/B rounds of a fixed duration)
by the same load: `concurrency` keep-alive connections asking
`GET /api/v1/conversations/<id>/messages` (the newest 30 of the 40, as
JSON) with the token. Every answer is checked to be the same page on both.

Prints a table, then `name: value` lines, the key one last:
`api_cached_vs_uncached_rps` (target >= 3).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.bench_chat import (
    Load,
    Processes,
    RawHttpPool,
    RawResponse,
    drive,
    manage,
    percentile,
    redis_url,
    run_django,
    server_env,
    start_daphne,
)

BASE_DIR = Path(__file__).resolve().parent.parent
FIGURE_ORDER = [
    "api_messages_cached_p95_ms",
    "api_messages_uncached_p95_ms",
    "api_messages_cached_server_cpu_ms",
    "api_messages_uncached_server_cpu_ms",
    "api_messages_cached_rps",
    "api_messages_uncached_rps",
    "api_cached_vs_uncached_rps",
]


def make_token() -> None:
    """Inside Django: an API token for bench_chat's user, printed."""
    from accounts.models import User
    from accounts.tokens import token_create
    from bench.bench_chat import EMAIL

    print("BENCH-TOKEN " + token_create(user=User.objects.get(email=EMAIL), name="bench")[1], flush=True)


class TokenHttpPool(RawHttpPool):
    """bench_chat's lean keep-alive client, sending an API token instead of cookies."""

    def __init__(self, port: int, token: str) -> None:
        super().__init__(port, {})
        self.token = token

    async def get(self, path: str) -> RawResponse:
        if self.idle:
            reader, writer = self.idle.pop()
        else:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Authorization: Bearer {self.token}\r\n\r\n".encode()
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


async def figure(args, servers, conversation: str, token: str) -> dict[str, Load]:
    url = f"/api/v1/conversations/{conversation}/messages"
    clients = {name: TokenHttpPool(server.port, token) for name, server in servers.items()}
    try:
        pages = {name: await client.get(url) for name, client in clients.items()}
        bodies = {name: json.loads(page.body) for name, page in pages.items()}
        if {page.status_code for page in pages.values()} != {200} or bodies["cached"] != bodies["uncached"]:
            raise RuntimeError(
                f"the two servers disagree on the page: { {n: p.status_code for n, p in pages.items()} }"
            )
        if len(bodies["cached"]["items"]) != 30 or not bodies["cached"]["next_cursor"]:
            raise RuntimeError("the page is not the newest 30 of 40 messages")
        cached, uncached = servers["cached"].process.pid, servers["uncached"].process.pid
        loads = {"messages cached (A)": Load(), "messages uncached (B)": Load()}
        await drive(clients["cached"], cached, url, args.concurrency, 1.0, Load())  # warm both
        await drive(clients["uncached"], uncached, url, args.concurrency, 1.0, Load())
        per_round = args.seconds / args.load_rounds
        for _ in range(args.load_rounds):
            await drive(
                clients["cached"], cached, url, args.concurrency, per_round, loads["messages cached (A)"]
            )
            await drive(
                clients["uncached"],
                uncached,
                url,
                args.concurrency,
                per_round,
                loads["messages uncached (B)"],
            )
        return loads
    finally:
        for client in clients.values():
            await client.aclose()


def print_table(loads: dict[str, Load], concurrency: int) -> dict[str, float]:
    print(f"\nGET /api/v1/conversations/<id>/messages (30 of 40), {concurrency} connections, A/B rounds")
    print(
        f"{'server':24}{'requests':>9}{'errors':>7}{'rps':>8}{'p50 ms':>8}{'p95 ms':>8}{'server cpu/req':>16}"
    )
    for name, load in loads.items():
        count = len(load.latencies)
        lat = [x * 1000 for x in load.latencies] or [float("nan")]
        print(
            f"{name:24}{count:9d}{load.errors:7d}{load.rps:8.1f}{percentile(lat, 50):8.1f}"
            f"{percentile(lat, 95):8.1f}{load.server_cpu * 1000 / max(count, 1):14.2f}ms"
        )
    cached, uncached = loads["messages cached (A)"], loads["messages uncached (B)"]
    return {
        "api_messages_cached_p95_ms": percentile([x * 1000 for x in cached.latencies], 95),
        "api_messages_uncached_p95_ms": percentile([x * 1000 for x in uncached.latencies], 95),
        "api_messages_cached_server_cpu_ms": cached.server_cpu * 1000 / max(len(cached.latencies), 1),
        "api_messages_uncached_server_cpu_ms": uncached.server_cpu * 1000 / max(len(uncached.latencies), 1),
        "api_messages_cached_rps": cached.rps,
        "api_messages_uncached_rps": uncached.rps,
        "api_cached_vs_uncached_rps": cached.rps / uncached.rps if uncached.rps else float("nan"),
    }


def run(args, workdir: Path, procs: Processes) -> dict[str, float]:
    password = "bench password " + secrets.token_hex(8)
    with redis_url(workdir) as redis_location:
        try:
            env = server_env(workdir, redis_location)
            subprocess.run(manage("migrate", "--noinput", "-v", "0"), cwd=BASE_DIR, env=env, check=True)
            seeded = run_django(env, f"from bench.bench_chat import seed; seed({password!r})")
            ids = json.loads(seeded.split("BENCH-IDS ", 1)[1].splitlines()[0])
            token = run_django(env, "from bench.bench_api import make_token; make_token()")
            token = token.split("BENCH-TOKEN ", 1)[1].split()[0]
            servers = {
                "cached": start_daphne(procs, env, workdir, "cached"),
                "uncached": start_daphne(procs, {**env, "CHAT_READ_CACHE": "false"}, workdir, "uncached"),
            }
            loads = asyncio.run(figure(args, servers, ids["read"], token))
        finally:
            # Servers go before the Redis they use; a second Ctrl-C must not cut this short.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            procs.stop_all()
    return print_table(loads, args.concurrency)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10, help="load seconds per server")
    parser.add_argument("--load-rounds", type=int, default=2, help="A/B rounds the seconds are split into")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs) afterwards")
    args = parser.parse_args(argv)

    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    workdir = Path(tempfile.mkdtemp(prefix="bench-api-"))
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
        print(f"{name}: {figures[name]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
