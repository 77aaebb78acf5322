"""Peak memory of the server process while a 1 GiB video uploads.

Run from the project folder:  .venv/bin/python -m bench.bench_upload [--mib 1024]

Starts Daphne serving the app (as `make run` does) against a throwaway SQLite
database and Redis (REDIS_URL, else an embedded Valkey), logs in through the
login form, then streams one multipart POST to /videos/upload/ with
http.client: a real MP4 file-type box followed by filler, generated on the
fly. A thread samples the server's resident memory (/proc/<pid>/status) while
the body is sent and while the server answers. The same is done first for a
1 MiB upload, the side-by-side baseline. The upload is a valid MP4 start under
the size cap, so the server accepts and stores it: every stage runs.

The last line is `upload_1gib_peak_rss_delta_mib: <value>` (target: < 64).
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

from testkit.live import free_port
from testkit.procs import status_kib, stop
from testkit.waiting import wait_for_http
from videochat.run import daphne_argv

BASE_DIR = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
EMAIL = "bench@example.com"
PASSWORD = "bench password " + secrets.token_hex(8)
# An ISO base media file-type box: what the upload check sniffs as MP4.
FTYP = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isommp41"
SEND_CHUNK = MIB


def reset_peak(pid: int) -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) of a process, where allowed."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class Sampler(threading.Thread):
    """Samples a process's RSS every few milliseconds until stopped."""

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_kib = 0
        self.latest_kib = 0
        self.series: list[tuple[float, int]] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        while not self._stop_event.is_set():
            self.latest_kib = status_kib(self.pid)["VmRSS"]
            self.peak_kib = max(self.peak_kib, self.latest_kib)
            self.series.append((time.monotonic() - started, self.latest_kib))
            time.sleep(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak_kib


def _run(args: list[str], env: dict[str, str]) -> None:
    subprocess.run(args, cwd=BASE_DIR, env=env, check=True, stdout=subprocess.DEVNULL)


@contextmanager
def redis_url(workdir: Path):
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    from videochat.embedded import start_valkey

    server = start_valkey(workdir / "valkey", persist=False)
    try:
        yield f"{server.connection_url}/0"
    finally:
        server.stop()


@contextmanager
def server(workdir: Path, max_upload_mb: int):
    """Daphne serving the app on a free port, with a migrated throwaway database."""
    with redis_url(workdir) as redis:
        env = dict(os.environ)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "videochat.settings",
                "DEBUG": "true",  # plain HTTP on 127.0.0.1, static files without collectstatic
                "SECRET_KEY": secrets.token_urlsafe(50),
                "ALLOWED_HOSTS": "127.0.0.1",
                "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
                "REDIS_URL": redis,
                "MEDIA_ROOT": str(workdir / "media"),
                "MAX_UPLOAD_MB": str(max_upload_mb),
                "RATELIMIT_UPLOAD_USER": "1000/h",
                "TMPDIR": str(workdir),  # Twisted's and Django's spool files
                "LOG_LEVEL": "WARNING",
                "PYTHONUNBUFFERED": "1",
            }
        )
        manage = [sys.executable, str(BASE_DIR / "manage.py")]
        _run([*manage, "migrate", "--noinput", "-v", "0"], env)
        create = f"from accounts.models import User; User.objects.create_user({EMAIL!r}, {PASSWORD!r})"
        _run([*manage, "shell", "-c", create], env)
        port = free_port()
        process = subprocess.Popen(
            daphne_argv("127.0.0.1", port), cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL
        )
        try:
            wait_for_http(f"http://127.0.0.1:{port}/healthz", process, timeout=30)
            yield port, process.pid
        finally:
            stop(process)


def _cookies(response: http.client.HTTPResponse, jar: dict[str, str]) -> None:
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        jar[name.strip()] = rest.split(";", 1)[0]


def _cookie_header(jar: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def log_in(port: int) -> dict[str, str]:
    """Post the login form like a browser: the session and CSRF cookies."""
    jar: dict[str, str] = {}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/accounts/login/")
    response = conn.getresponse()
    page = response.read().decode()
    _cookies(response, jar)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    body = urlencode({"username": EMAIL, "password": PASSWORD, "csrfmiddlewaretoken": token})
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": _cookie_header(jar)}
    conn.request("POST", "/accounts/login/", body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    _cookies(response, jar)
    if response.status != 302 or "sessionid" not in jar:
        raise RuntimeError(f"log-in failed: HTTP {response.status}")
    return jar


def upload(port: int, pid: int, jar: dict[str, str], size: int, name: str) -> dict:
    """Stream one file of `size` bytes; the server's RSS before, at its peak, and the answer."""
    boundary = "bench" + secrets.token_hex(12)
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="files"; filename="{name}"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    filler = os.urandom(SEND_CHUNK)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.putrequest("POST", "/videos/upload/")
    conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    conn.putheader("Content-Length", str(len(head) + size + len(tail)))
    conn.putheader("Cookie", _cookie_header(jar))
    conn.putheader("X-CSRFToken", jar["csrftoken"])
    conn.putheader("HX-Request", "true")
    conn.endheaders()

    before = status_kib(pid)["VmRSS"]
    hwm_reset = reset_peak(pid)
    sampler = Sampler(pid)
    sampler.start()
    started = time.monotonic()
    conn.send(head)
    sent = 0
    first = FTYP + filler[len(FTYP) :]
    while sent < size:
        block = first if sent == 0 else filler
        block = block[: size - sent]
        conn.send(block)
        sent += len(block)
    conn.send(tail)
    sent_at = time.monotonic()
    response = conn.getresponse()
    answer = response.read().decode(errors="replace")
    done = time.monotonic()
    time.sleep(0.1)
    peak = sampler.stop()
    if hwm_reset:
        peak = max(peak, status_kib(pid)["VmHWM"])
    return {
        "size": size,
        "status": response.status,
        "accepted": 'data-code="accepted"' in answer,
        "before_kib": before,
        "peak_kib": peak,
        "after_kib": status_kib(pid)["VmRSS"],
        "send_s": sent_at - started,
        "answer_s": done - sent_at,
        "series": sampler.series,
        "hwm": hwm_reset,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=1024, help="size of the big upload in MiB (default 1024)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-upload-"))
    try:
        with server(workdir, max_upload_mb=max(2048, args.mib * 2)) as (port, pid):
            jar = log_in(port)
            # Warm up: the first upload imports and compiles what later ones use.
            upload(port, pid, jar, 64 * 1024, "warmup.mp4")
            small = upload(port, pid, jar, MIB, "small.mp4")
            big = upload(port, pid, jar, args.mib * MIB, "big.mp4")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"\nDaphne server process; RSS sampled every 10 ms (and VmHWM: {'yes' if big['hwm'] else 'no'})")
    columns = ("upload", "status", "stored", "rss before", "peak", "delta", "send s", "answer s")
    print("{:>9} {:>6} {:>6} {:>11} {:>9} {:>9} {:>7} {:>8}".format(*columns))
    for label, run in (("1 MiB", small), (f"{args.mib} MiB", big)):
        delta = (run["peak_kib"] - run["before_kib"]) / 1024
        print(
            f"{label:>9} {run['status']:>6} {'yes' if run['accepted'] else 'no':>6} "
            f"{run['before_kib'] / 1024:>7.1f} MiB {run['peak_kib'] / 1024:>5.1f} MiB {delta:>5.1f} MiB "
            f"{run['send_s']:>7.2f} {run['answer_s']:>8.2f}"
        )
    print(
        f"\nserver RSS during the {args.mib} MiB upload (sent by {big['send_s']:.1f} s, answered at "
        f"{big['send_s'] + big['answer_s']:.1f} s):"
    )
    series = big["series"]
    for index in range(0, len(series), max(1, len(series) // 12)):
        elapsed, kib = series[index]
        print(f"  {elapsed:>6.1f} s   rss {kib / 1024:>7.1f} MiB")
    small_delta = (small["peak_kib"] - small["before_kib"]) / 1024
    big_delta = (big["peak_kib"] - big["before_kib"]) / 1024
    print(f"\nupload_1mib_peak_rss_delta_mib: {small_delta:.1f}")
    suffix = "" if args.mib == 1024 else f"  (ran with --mib {args.mib})"
    print(f"upload_1gib_peak_rss_delta_mib: {big_delta:.1f}{suffix}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
