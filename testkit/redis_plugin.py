"""Pytest plugin, loaded with `-p` before Django reads its settings.

It makes sure the suite has a Redis: REDIS_URL when given, else an embedded
Valkey started here for the whole run. Under pytest-xdist each worker gets
its own Redis database number so workers never see each other's keys.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest

_server = None


def _with_db(url: str, db: int) -> str:
    base = re.sub(r"/\d+$", "", url.rstrip("/"))
    return f"{base}/{db}"


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args) -> None:
    global _server
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "videochat.settings")
    os.environ.setdefault("SECRET_KEY", "test-only-secret-key-" + "x" * 40)
    # Production-like settings, except that the test client speaks plain HTTP.
    os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
    # Threads that serve async tests must not keep connections the teardown needs to drop.
    os.environ.setdefault("DATABASE_CONN_MAX_AGE", "0")
    # One SQLite test database per run (xdist workers add their own suffix), so two
    # runs in one checkout never share a file.
    os.environ.setdefault(
        "SQLITE_TEST_NAME", str(Path(tempfile.gettempdir()) / f"videochat-test-{os.getpid()}.sqlite3")
    )
    # Uploaded and generated media go to a scratch folder the test processes share.
    os.environ.setdefault("MEDIA_ROOT", tempfile.mkdtemp(prefix="videochat-media-"))
    if not os.environ.get("REDIS_URL"):
        from videochat.embedded import start_valkey

        _server = start_valkey(Path(tempfile.mkdtemp(prefix="videochat-valkey-")), persist=False)
        # Children (xdist workers, servers and queue workers started by tests) inherit it.
        os.environ["REDIS_URL"] = f"{_server.connection_url}/0"
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        os.environ["REDIS_URL"] = _with_db(os.environ["REDIS_URL"], 1 + int(worker.removeprefix("gw")))


def pytest_unconfigure(config) -> None:
    if _server is not None and not os.environ.get("PYTEST_XDIST_WORKER"):
        _server.stop()
