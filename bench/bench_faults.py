"""Faults under load: jobs lost, results doubled, 500s, and how long recovery takes.

Run from the project folder:  .venv/bin/python -m bench.bench_faults [--seconds 210] [--users 4]

The fault run of testkit/faults.py (the one ops/tests/test_faults.py
runs for a minute and a half), longer: make run's processes of its own (a
Valkey, Daphne, two workers) under several scripted users uploading clips and
chatting, while workers are SIGKILLed idle and mid-job, Valkey is SIGKILLed
and started again empty and, on PostgreSQL, every database connection is cut
and new ones refused for 10 s. Its database is a migrated throwaway SQLite in
a temporary folder or, when DATABASE_URL is set, a scratch database created on
that PostgreSQL server (and dropped afterwards).

Prints the faults, then `name: value` lines: `faults_jobs_lost` (target 0),
`faults_duplicate_results` (target 0), `faults_500s` (target 0) and
`faults_recovery_p95_s`, seconds from a fault to each job it caught running
again (target <= 90).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def database(workdir: Path) -> Iterator[str]:
    """A fresh database: SQLite in workdir, or a scratch one on the DATABASE_URL server."""
    given = os.environ.get("DATABASE_URL")
    if not given or given.startswith("sqlite"):
        yield f"sqlite:///{workdir / 'bench.sqlite3'}"
        return
    import psycopg

    name = f"bench_faults_{secrets.token_hex(4)}"
    with psycopg.connect(given, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    print(f"using scratch database {name} on the DATABASE_URL server", file=sys.stderr)
    try:
        yield urlunsplit(urlsplit(given)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(given, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def print_report(result) -> dict[str, float]:
    print(f"\nFault run on {result.database}: {result.seconds:.0f} s of load by {result.users} users")
    print(f"{'at s':>7}  {'fault':24}{'jobs':>5}{'ran again, max s':>17}  what")
    for index, fault in enumerate(result.faults):
        times = [s for i, _, _, s in result.recovered if i == index]
        slowest = "-" if not times else "never" if None in times else f"{max(times):.1f}"
        print(f"{fault.offset:7.1f}  {fault.kind:24}{fault.affected:5d}{slowest:>17}  {fault.detail}")
    for note in result.skipped:
        print(f"         skipped: {note}")
    statuses = ", ".join(f"{status}: {n}" for status, n in sorted(result.statuses.items()))
    print(f"\nrequests {result.requests} ({statuses}; no answer: {result.request_errors})")
    print(
        f"videos {result.videos}, messages {result.messages}, processes that exited on their own "
        f"{result.unexpected_exits}, drained {result.drained}"
    )
    recovered = sorted(result.recoveries)
    print(
        f"recovery of {len(recovered)} jobs caught by a fault: "
        + (
            f"p50 {result.recovery_p50_s:.1f} s, p95 {result.recovery_p95_s:.1f} s, max {recovered[-1]:.1f} s"
            if recovered
            else "none"
        )
        + f"; never seen running again: {result.unrecovered}"
    )
    for exit in result.exits:
        print(f"   exited on its own (started again): {exit}")
    for problem in result.problems:
        print(f"   problem: {problem}")
    figures = {
        "faults_users": result.users,
        "faults_videos": result.videos,
        "faults_messages": result.messages,
        "faults_requests": result.requests,
        "faults_503s": result.responses_503,
    }
    for kind, count in result.faults_by_kind().items():
        figures[f"faults_{kind}"] = count
    figures["faults_unrecovered"] = result.unrecovered
    figures["faults_recovery_p50_s"] = result.recovery_p50_s if recovered else float("nan")
    figures["faults_jobs_lost"] = result.jobs_lost
    figures["faults_duplicate_results"] = result.duplicate_results
    figures["faults_500s"] = result.responses_500
    figures["faults_recovery_p95_s"] = result.recovery_p95_s if recovered else float("nan")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=210, help="seconds of load, faults spread over them")
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument(
        "--long-clip", type=float, default=600, help="seconds of the clip analysed while Redis is killed"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs) afterwards")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    try:
        with database(workdir) as url:
            env = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "videochat.settings",
                "DEBUG": "true",
                "SECRET_KEY": secrets.token_urlsafe(50),
                "DATABASE_URL": url,
                "DATABASE_CONN_MAX_AGE": "0",
                "MEDIA_ROOT": str(workdir / "media"),
            }
            manage = [sys.executable, str(BASE_DIR / "manage.py"), "migrate", "--noinput", "-v", "0"]
            subprocess.run(manage, cwd=BASE_DIR, env=env, check=True)
            # This process reads the rows itself (the run's watcher), straight from the database.
            os.environ.update(env)
            import django

            django.setup()
            from django.db import connections

            from testkit.faults import run_faults

            try:
                result = run_faults(
                    database_url=url,
                    workdir=workdir,
                    seconds=args.seconds,
                    users=args.users,
                    long_clip_seconds=args.long_clip,
                )
            finally:
                connections.close_all()
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    figures = print_report(result)
    print()
    for name, value in figures.items():
        print(f"{name}: {value:.1f}" if isinstance(value, float) else f"{name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
