"""Benchmark the local analyzer against the decode floor and PySceneDetect.

Run from the project root (no Django needed)::

    python -m bench.bench_analysis [--runs 3] [--skip-pyscenedetect]

Generates (once, cached under ``var/bench/``) a 60 s 1280x720 30 fps H.264
clip with 14 cuts at irregular times and an AAC track, then times, round by
round so that background load hits all of them alike:

- ``analysis``: :func:`analysis.analyzers.local.analyze`, in this process,
  with its defaults;
- ``every frame``: the same with ``skip_frames=False``;
- ``decode floor``: ``ffmpeg -i clip -f null -`` with the same bundled ffmpeg;
- ``pyscenedetect``: ``scenedetect.detect(clip, ContentDetector())``.

Prints a table, then one ``name: value`` line per figure. Times are the best
of the runs (the least disturbed by other work on the machine); medians are
in the table, and so is the CPU time each used (ffmpeg included), which a
busy machine sways less than wall time.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from analysis.analyzers.local import analyze
from analysis.tests.clips import SEGMENT_SOURCES, Clip, ffmpeg_exe, make_clip

CACHE_DIR = Path(__file__).resolve().parent.parent / "var" / "bench"
CLIP: dict[str, Any] = {
    "duration": 60.0,
    "size": (1280, 720),
    "fps": 30,
    "cuts": (3.2, 7.9, 11.1, 15.6, 19.0, 24.4, 28.7, 31.3, 36.8, 40.2, 44.5, 49.9, 53.3, 57.1),
    "silent_ranges": ((20.0, 23.0), (41.0, 42.5)),
    "preset": "medium",  # realistic decoding work: CABAC, deblocking, B-frames
    "audio_rate": 48000,
}
CACHE_VERSION = 1
FIGURE_ORDER = (
    "analysis_seconds",
    "decode_floor_seconds",
    "pyscenedetect_seconds",
    "analysis_vs_decode_floor",
    "pyscenedetect_vs_decode_floor",
    "cut_precision",
    "cut_recall",
    "analysis_cpu_seconds",
    "decode_floor_cpu_seconds",
    "analysis_cpu_vs_decode_floor",
    "pyscenedetect_cpu_vs_decode_floor",
    "pyscenedetect_cut_precision",
    "pyscenedetect_cut_recall",
    "analysis_every_frame_seconds",
    "analysis_every_frame_vs_decode_floor",
    "analysis_every_frame_cpu_vs_decode_floor",
    "analysis_every_frame_cut_precision",
    "analysis_every_frame_cut_recall",
)
FIGURE_KEYS = {
    "analysis": "analysis",
    "every frame": "analysis_every_frame",
    "pyscenedetect": "pyscenedetect",
}


def bench_clip(cache_dir: Path = CACHE_DIR) -> Clip:
    """The benchmark clip, generated on first use and reused while its recipe holds."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / "clip-60s-720p30.mp4"
    truth_path = path.with_suffix(".json")
    recipe = json.loads(json.dumps({"version": CACHE_VERSION, "sources": SEGMENT_SOURCES, **CLIP}))
    if path.exists() and truth_path.exists():
        stored = json.loads(truth_path.read_text())
        if stored["recipe"] == recipe:
            return Clip(
                path=path,
                duration=stored["duration"],
                size=CLIP["size"],
                fps=CLIP["fps"],
                cuts=tuple(stored["cuts"]),
                has_audio=True,
                silent_ranges=CLIP["silent_ranges"],
                codec="libx264",
            )
    print(f"generating {path} (once; takes a minute or two) ...", file=sys.stderr)
    clip = make_clip(path, **CLIP)
    truth = {"recipe": recipe, "duration": clip.duration, "cuts": clip.cuts}
    truth_path.write_text(json.dumps(truth, indent=1))
    return clip


def match_cuts(found: Sequence[float], truth: Sequence[float], tolerance: float) -> int:
    """How many found cuts pair one-to-one with a true cut within ``tolerance`` seconds."""
    unmatched = sorted(truth)
    matched = 0
    for cut in sorted(found):
        nearest = min(unmatched, key=lambda t: abs(t - cut), default=None)
        if nearest is not None and abs(nearest - cut) <= tolerance:
            unmatched.remove(nearest)
            matched += 1
    return matched


def precision_recall(found: Sequence[float], truth: Sequence[float], fps: float) -> tuple[float, float]:
    """Cut precision and recall, a cut counting when within 1.5 frames of a true one."""
    matched = match_cuts(found, truth, tolerance=1.5 / fps)
    precision = matched / len(found) if found else 1.0
    recall = matched / len(truth) if truth else 1.0
    return precision, recall


def run_analysis(clip: Clip) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="bench-analysis-") as out_dir:
        return analyze(clip.path, out_dir)["cuts"]


def run_analysis_every_frame(clip: Clip) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="bench-analysis-") as out_dir:
        return analyze(clip.path, out_dir, skip_frames=False)["cuts"]


def run_decode_floor(clip: Clip) -> None:
    subprocess.run(
        [
            ffmpeg_exe(),
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-i",
            str(clip.path),
            "-f",
            "null",
            "-",
        ],
        check=True,
    )


def run_pyscenedetect(clip: Clip) -> list[float]:
    from scenedetect import ContentDetector, detect

    scenes = detect(str(clip.path), ContentDetector())
    return [start.seconds for start, _ in scenes[1:]]


def timed(function: Callable[[Clip], object], clip: Clip) -> tuple[float, float, object]:
    """Run ``function(clip)``; return its wall time, the CPU time it used, and its result.

    CPU time counts this process and the processes it waited for (ffmpeg); it
    is less swayed than wall time by other work on a busy machine.
    """
    before = _cpu_seconds()
    start = time.perf_counter()
    result = function(clip)
    wall = time.perf_counter() - start
    return wall, _cpu_seconds() - before, result


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-pyscenedetect", action="store_true")
    args = parser.parse_args(argv)

    clip = bench_clip()
    contenders: dict[str, Callable[[Clip], object]] = {
        "decode floor": run_decode_floor,
        "analysis": run_analysis,
        "every frame": run_analysis_every_frame,
    }
    if not args.skip_pyscenedetect:
        contenders["pyscenedetect"] = run_pyscenedetect

    times: dict[str, list[float]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    cuts: dict[str, object] = {}
    for _ in range(args.runs):
        for name, function in contenders.items():
            seconds, cpu_seconds, cuts[name] = timed(function, clip)
            times[name].append(seconds)
            cpu[name].append(cpu_seconds)

    print(
        f"clip: {clip.path} ({clip.duration:.0f} s, {clip.size[0]}x{clip.size[1]}, "
        f"{clip.fps} fps, {len(clip.cuts)} cuts); {args.runs} runs each, interleaved\n"
    )
    floor, median_floor = min(times["decode floor"]), statistics.median(times["decode floor"])
    cpu_floor = min(cpu["decode floor"])
    print(
        f"{'':14}{'best s':>8}{'x floor':>9}{'median s':>10}{'x floor':>9}"
        f"{'cpu s':>8}{'x floor':>9}{'precision':>11}{'recall':>8}"
    )
    figures: dict[str, float] = {"decode_floor_seconds": floor, "decode_floor_cpu_seconds": cpu_floor}
    for name, samples in times.items():
        best, median, best_cpu = min(samples), statistics.median(samples), min(cpu[name])
        row = (
            f"{name:14}{best:8.3f}{best / floor:9.3f}{median:10.3f}{median / median_floor:9.3f}"
            f"{best_cpu:8.2f}{best_cpu / cpu_floor:9.3f}"
        )
        if name != "decode floor":
            precision, recall = precision_recall(cuts[name], clip.cuts, clip.fps)  # type: ignore[arg-type]
            row += f"{precision:11.3f}{recall:8.3f}"
            key = FIGURE_KEYS[name]
            prefix = "" if key == "analysis" else f"{key}_"
            figures |= {
                f"{key}_seconds": best,
                f"{key}_vs_decode_floor": best / floor,
                f"{key}_cpu_seconds": best_cpu,
                f"{key}_cpu_vs_decode_floor": best_cpu / cpu_floor,
                f"{prefix}cut_precision": precision,
                f"{prefix}cut_recall": recall,
            }
        print(row)
    print("\nseconds: best wall time; cpu s: best CPU time, ffmpeg included\n")

    for name in FIGURE_ORDER:
        if name in figures:
            print(f"{name}: {figures[name]:.3f}")


if __name__ == "__main__":
    main()
