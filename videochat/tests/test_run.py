"""`make run`'s supervisor: children that exit are started again, later each time; stopping stops them.

Real short-lived processes; time moves only through an injected clock.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import redis

from videochat.embedded import start_valkey
from videochat.run import (
    FIRST_BACKOFF,
    HEALTHY_AFTER,
    MAX_BACKOFF,
    Command,
    EmbeddedValkey,
    deaf_to_ctrl_c,
    stop_all,
)
from videochat.testing.live import free_port

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


def _until(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {condition}")
        time.sleep(0.05)


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

    _until((tmp_path / "terminated").exists)


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
    _until(lambda: ready.exists() or stubborn.process.poll() is not None)
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
        client = redis.Redis(port=port)
        client.set("session:alice", "logged in")
        os.kill(client.info("server")["process_id"], signal.SIGKILL)
        client.close()
        _until(valkey.poll)
        assert "embedded Valkey exited with signal SIGKILL" in capsys.readouterr().err

        clock.now += FIRST_BACKOFF
        assert valkey.due()
        valkey.start()

        assert valkey.server.port == port
        assert redis.Redis(port=port).get("session:alice") == b"logged in"
        assert not valkey.poll()
    finally:
        valkey.stop()
