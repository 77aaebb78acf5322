"""Real processes for end-to-end tests: Daphne serving the app, RQ workers.

They run as subprocesses against the test database and the test Redis, the
same way `make run` runs them, so the tests see what a user would.
"""

from __future__ import annotations

import os
import socketserver
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.db import connection

from testkit.procs import stop
from testkit.waiting import wait_for_http
from videochat.embedded import free_port  # here too: the tests import it from testkit.live
from videochat.run import daphne_argv

BASE_DIR = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    """A DATABASE_URL for the database the test run is using right now."""
    cfg = connection.settings_dict
    if cfg["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(cfg['NAME']).resolve()}"
    user = quote(cfg.get("USER") or "")
    password = f":{quote(cfg['PASSWORD'])}" if cfg.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{cfg.get('HOST') or '127.0.0.1'}:{cfg.get('PORT') or 5432}/{cfg['NAME']}"


def subprocess_env(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": test_database_url(),
            "DJANGO_SETTINGS_MODULE": "videochat.settings",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env


@contextmanager
def daphne_server(**env_overrides: str):
    """Serve the app with Daphne on a free port; yields its base URL."""
    with daphne_process(**env_overrides) as (base_url, _process):
        yield base_url


@contextmanager
def daphne_process(*, any_answer: bool = False, **env_overrides: str):
    """daphne_server, yielding its base URL and its process (to look at its memory and files).

    It is ready when /healthz answers 200, or, with `any_answer`, anything at all
    (a server started with a part down answers 503).
    """
    port = free_port()
    env = subprocess_env(
        DEBUG="true",
        ALLOWED_HOSTS="localhost,127.0.0.1",
        **env_overrides,
    )
    process = subprocess.Popen(daphne_argv("127.0.0.1", port), cwd=BASE_DIR, env=env)
    base_url = f"http://localhost:{port}"
    try:
        wait_for_http(f"{base_url}/healthz", process, any_status=any_answer)
        yield base_url, process
    finally:
        stop(process)


@contextmanager
def rq_worker(*queues: str, burst: bool = False, **env_overrides: str):
    """Run `manage.py rqworker` on the given queues; yields the process."""
    args = [sys.executable, str(BASE_DIR / "manage.py"), "rqworker", *(queues or ("high", "default", "low"))]
    args.append("--burst" if burst else "--with-scheduler")
    process = subprocess.Popen(args, cwd=BASE_DIR, env=subprocess_env(**env_overrides))
    try:
        yield process
    finally:
        stop(process)


@contextmanager
def serving(server: socketserver.BaseServer, name: str):
    """Run a local test server (a fake of a remote API) on a thread for the block."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
