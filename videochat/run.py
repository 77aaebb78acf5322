"""`make run`: one command that serves VideoChat on a machine with nothing else.

Starts an embedded Valkey under var/ when REDIS_URL is not set, migrates,
collects static files, then runs Daphne (HTTP + websockets) and the queue
worker side by side. Ctrl-C (or SIGTERM) stops every process it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
HOST = os.environ.get("HOST", "127.0.0.1")
PORT = os.environ.get("PORT", "8000")


def _manage(*args: str) -> list[str]:
    return [sys.executable, str(BASE_DIR / "manage.py"), *args]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    # Local serving is plain HTTP on 127.0.0.1: development settings unless told otherwise.
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "videochat.settings")
    valkey = None
    if not os.environ.get("REDIS_URL"):
        from videochat.embedded import start_valkey

        valkey = start_valkey(BASE_DIR / "var" / "valkey", port=6390)
        os.environ["REDIS_URL"] = f"{valkey.connection_url}/0"
        print(f"Started embedded Valkey at {os.environ['REDIS_URL']} (data in var/valkey)", flush=True)

    children: list[subprocess.Popen] = []

    def stop_all(*_args: object) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 10
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        if valkey is not None:
            valkey.stop()
            print("Stopped embedded Valkey", flush=True)

    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        subprocess.run(_manage("migrate", "--noinput"), check=True)
        subprocess.run(_manage("collectstatic", "--noinput", "-v", "0"), check=True)
        children.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "daphne",
                    "-b",
                    HOST,
                    "-p",
                    PORT,
                    "--ping-interval=20",
                    "--ping-timeout=30",
                    "videochat.asgi:application",
                ]
            )
        )
        children.append(subprocess.Popen(_manage("rqworker", "high", "default", "low", "--with-scheduler")))
        print(
            f"\nVideoChat is running at http://{HOST}:{PORT}/\n"
            f"  Create an account in the browser at http://{HOST}:{PORT}/accounts/signup/\n"
            "  Create a staff user with: .venv/bin/python manage.py createsuperuser\n"
            "  Press Ctrl-C to stop everything.\n",
            flush=True,
        )
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        print("A process exited; stopping the others.", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 0
    except subprocess.CalledProcessError as exc:
        print(f"Setup step failed: {' '.join(exc.cmd)}", file=sys.stderr)
        return 1
    finally:
        stop_all()


if __name__ == "__main__":
    sys.exit(main())
