"""What Linux's /proc says about a process: the tests and benchmarks watch the real ones they start."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state, ppid, ...); None once it is gone.

    The name, in parentheses, may itself hold spaces and parentheses: the fields start after the last ")".
    """
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rsplit(")", 1)[1].split()


def is_alive(pid: int) -> bool:
    """Running: neither gone nor a zombie (exited, not yet reaped by its parent)."""
    fields = stat_fields(pid)
    return fields is not None and fields[0] != "Z"


def start_time(pid: int) -> str | None:
    """When it started (clock ticks after boot), None once it has exited: with the pid, it names one process."""
    fields = stat_fields(pid)
    return None if fields is None or fields[0] == "Z" else fields[19]


def children(pid: int) -> list[int]:
    """Its child processes (zombies included); none once it is gone."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return found
    for task in tasks:
        try:
            found += map(int, Path(f"/proc/{pid}/task/{task}/children").read_text().split())
        except FileNotFoundError:
            continue  # that thread has ended
    return found


def descendants(pid: int) -> list[int]:
    """Its children, theirs and so on, each before its own."""
    found: list[int] = []
    for child in children(pid):
        found += [child, *descendants(child)]
    return found


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """CPU time a process has used (with `children`, also its children it has waited for, e.g. RQ's work horses)."""
    fields = stat_fields(pid)
    if fields is None:
        raise ProcessLookupError(f"no process {pid}")
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    ticks = utime + stime + (cutime + cstime if children else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def status_kib(pid: int) -> dict[str, int]:
    """The sizes /proc/<pid>/status gives (VmRSS, VmHWM, ...), in KiB by name."""
    sizes = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if value.endswith(" kB"):
            sizes[name] = int(value.split()[0])
    return sizes


def stop(process: subprocess.Popen, *, timeout: float = 10) -> None:
    """Ask a child process to stop (SIGTERM); kill it if it has not within `timeout` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
