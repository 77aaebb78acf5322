"""`make bench`: run every benchmark, one after another, then print all figures.

Each benchmark runs in its own process (they start servers and workers of
their own) and prints a table followed by `name: value` lines; this collects
those lines and repeats them at the end, one per figure.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time

BENCHMARKS = (
    "bench_analysis",
    "bench_scenes",
    "bench_clips",
    "bench_upload",
    "bench_chat",
    "bench_api",
    "bench_transcribe",
    "bench_ocr",
    "bench_live",
    "bench_faults",
    "bench_scale",
)
FIGURE = re.compile(r"^[a-z0-9_]+: \S+$")


def main(names: list[str]) -> int:
    figures: list[str] = []
    failed: list[str] = []
    for name in names or BENCHMARKS:
        print(f"\n===== {name} =====", flush=True)
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", f"bench.{name}"], stdout=subprocess.PIPE, text=True, bufsize=1
        )
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            if FIGURE.match(line.strip()):
                figures.append(line.strip())
        if process.wait() != 0:
            failed.append(name)
        print(f"({name} took {time.monotonic() - started:.0f} s)", flush=True)
    print("\n===== all figures =====")
    for line in figures:
        print(line)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
