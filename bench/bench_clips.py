"""Clips (analysis/analyzers/cut.py) on the 720p bench clip: speed of fast and exact cuts, and frame error.

Run from the project root (no Django needed)::

    python -m bench.bench_clips [--seconds 10]

Cuts `--seconds` from the middle of bench_analysis's 60 s 1280x720 30 fps clip
(made once, cached under var/bench/), once as a fast cut (stream copy from the
keyframe at or before the start) and once as an exact cut (re-encoded), with
no preview or poster, and prints seconds of clip made per wall second. The
exact cut's frame error is how many frames its first and last pictures lie
from the source's pictures at the start and just before the end: each is
matched (least squared difference) against the source frames around it; of
frames that match equally well (a still stretch) the nearest counts. The tests
(analysis/tests/test_cut.py) check the same on frames that carry their numbers.

Prints `clip_fast_x_realtime`, `clip_exact_x_realtime`, `clip_frame_error_frames` (target 0).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from analysis.analyzers.cut import EXACT, FAST, cut
from bench.bench_analysis import bench_clip

SEARCH = 4  # frames either side of the expected one


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="gray").astype(np.float32) for f in container.decode(video=0)]


def _source_frames(path: Path, first: float, last: float) -> list[tuple[float, np.ndarray]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        container.seek(int(max(0.0, first - 2) / stream.time_base), stream=stream, backward=True)
        got = []
        for frame in container.decode(stream):
            t = float(frame.pts * stream.time_base)
            if t > last:
                break
            if t >= first:
                got.append((t, frame.to_ndarray(format="gray").astype(np.float32)))
        return got


def _error(picture: np.ndarray, around: list[tuple[float, np.ndarray]], expected: float, fps: float) -> int:
    # Pictures that do not change (a still stretch) match equally well: of those, the nearest one
    # counts, as no cut could be told apart from it.
    scores = [(float(np.mean((frame - picture) ** 2)), t) for t, frame in around]
    floor = min(score for score, _ in scores)
    tied = [t for score, t in scores if score <= floor * 1.01 + 0.01]
    return min(round(abs(t - expected) * fps) for t in tied)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    clip = bench_clip()
    start = (int((clip.duration - args.seconds) / 2 * clip.fps) + 7) / clip.fps  # off the keyframes
    end = start + args.seconds
    figures = {}
    with tempfile.TemporaryDirectory() as out:
        for mode in (FAST, EXACT):
            began = time.monotonic()
            result = cut(clip.path, out, start=start, end=end, mode=mode, preview=False, poster=False)
            wall = time.monotonic() - began
            figures[f"clip_{mode}_x_realtime"] = round(result.duration / wall, 2)
            print(
                f"{mode:5}: {result.duration:6.2f} s of clip from {result.start_used:.3f} s in {wall:6.2f} s"
            )
        frames = _frames(result.clip)
        step = 1 / clip.fps
        head = _source_frames(clip.path, start - SEARCH * step, start + SEARCH * step)
        last = end - step
        tail = _source_frames(clip.path, last - SEARCH * step, last + SEARCH * step)
        figures["clip_frame_error_frames"] = max(
            _error(frames[0], head, start, clip.fps), _error(frames[-1], tail, last, clip.fps)
        )
    for name, value in figures.items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
