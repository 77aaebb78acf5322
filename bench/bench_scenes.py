"""Scene detection on footage that looks real: the local analyzer against PySceneDetect.

Run from the project root (no Django needed)::

    python -m bench.bench_scenes [--small] [--skip-pyscenedetect] [--only NAME]

The corpus is :data:`testkit.footage.CORPUS`: a dozen short clips rendered
from the photographs scikit-image ships (pans, zooms, shake, whip pans,
sensor noise, lighting changes), encoded as H.264 the way cameras and editors
do (720p and 1080p and odd sizes, 24 to 60 fps), with hard cuts (between
shots graded alike, in the first and last second, after 4-6 frame shots),
dissolves and fades, and the things that are not cuts (flashes, whip pans,
fades, someone passing the lens). Clips are made once and cached under
``var/bench/footage/``.

On every clip it runs :func:`analysis.analyzers.local.analyze` (everything the
local analysis does), PySceneDetect's ``ContentDetector`` and
``AdaptiveDetector`` with their defaults, and the decode floor (``ffmpeg -i
clip -f null -``), and scores against the truth:

- hard cuts: a found cut counts when within one frame of a true cut (one to
  one); one cut reported inside a gradual transition is not held against a
  detector (it saw the change of shot, though not its kind), a second is;
- gradual transitions (the analyzer's only; PySceneDetect reports none): a
  found transition counts when its span overlaps a true one's.

Prints a table per clip, then one ``name: value`` line per figure.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.analyzers.decode import ffmpeg_exe
from analysis.analyzers.local import analyze
from testkit import footage
from testkit.footage import Truth

CACHE_DIR = Path(__file__).resolve().parent.parent / "var" / "bench" / "footage"
TOLERANCE = 1  # frames either side of a true cut


@dataclass
class Score:
    """Matches, detections and truths; precision, recall and F1 from them."""

    matched: int = 0
    found: int = 0
    true: int = 0

    def __add__(self, other: Score) -> Score:
        return Score(self.matched + other.matched, self.found + other.found, self.true + other.true)

    @property
    def precision(self) -> float:
        return self.matched / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.true if self.true else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Detection:
    """What a detector reported on a clip, in frames, and how long it took."""

    cuts: list[int]
    gradual: list[tuple[int, int]] = field(default_factory=list)
    wall: float = 0.0
    cpu: float = 0.0


def score_cuts(found: Iterable[int], truth: Truth) -> Score:
    """Hard cuts within :data:`TOLERANCE` frames, one to one; see the module docstring."""
    unmatched = sorted(truth.cuts)
    spans = [(first - TOLERANCE, last + TOLERANCE) for _, first, last in truth.gradual]
    excused: set[int] = set()
    matched = counted = 0
    for cut in sorted(found):
        nearest = min(unmatched, key=lambda t: abs(t - cut), default=None)
        if nearest is not None and abs(nearest - cut) <= TOLERANCE:
            unmatched.remove(nearest)
            matched += 1
            counted += 1
            continue
        inside = next((i for i, (a, b) in enumerate(spans) if a <= cut <= b), None)
        if inside is not None and inside not in excused:
            excused.add(inside)
            continue
        counted += 1
    return Score(matched, counted, len(truth.cuts))


def score_gradual(found: Iterable[tuple[int, int]], truth: Truth) -> Score:
    """Gradual transitions whose spans overlap a true one's, one to one."""
    unmatched = [(first, last) for _, first, last in truth.gradual]
    matched = count = 0
    for first, last in sorted(found):
        count += 1
        hit = next((t for t in unmatched if first <= t[1] and last >= t[0]), None)
        if hit is not None:
            unmatched.remove(hit)
            matched += 1
    return Score(matched, count, len(truth.gradual))


def run_analysis(truth: Truth) -> Detection:
    with tempfile.TemporaryDirectory(prefix="bench-scenes-") as out_dir:
        result = analyze(truth.path, out_dir)
    cuts = [_frame(t, truth) for t in result["cuts"]]
    gradual = [(_frame(t["start"], truth), _frame(t["end"], truth)) for t in result.get("transitions", [])]
    return Detection(cuts, gradual)


def run_content(truth: Truth) -> Detection:
    from scenedetect import ContentDetector, detect

    return Detection([start.frame_num for start, _ in detect(str(truth.path), ContentDetector())[1:]])


def run_adaptive(truth: Truth) -> Detection:
    from scenedetect import AdaptiveDetector, detect

    return Detection([start.frame_num for start, _ in detect(str(truth.path), AdaptiveDetector())[1:]])


def run_decode_floor(truth: Truth) -> Detection:
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(truth.path)]
    subprocess.run([*command, "-f", "null", "-"], check=True)
    return Detection([])


def _frame(seconds: float, truth: Truth) -> int:
    return round(seconds * truth.fps)


def timed(function: Callable[[Truth], Detection], truth: Truth) -> Detection:
    before, start = _cpu_seconds(), time.perf_counter()
    detection = function(truth)
    detection.wall = time.perf_counter() - start
    detection.cpu = _cpu_seconds() - before
    return detection


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def corpus(*, small: bool = False, only: Sequence[str] = ()) -> list[Truth]:
    recipes = [f for f in footage.CORPUS if not only or f.name in only]
    if small:
        recipes = [footage.smaller(f) for f in recipes]
    truths = []
    for recipe in recipes:
        started = time.monotonic()
        truths.append(footage.cached(recipe, CACHE_DIR))
        if time.monotonic() - started > 1:
            print(f"made {recipe.name} ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    return truths


CONTENDERS: dict[str, Callable[[Truth], Detection]] = {
    "floor": run_decode_floor,
    "analysis": run_analysis,
    "content": run_content,
    "adaptive": run_adaptive,
}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="the corpus at 480x270 (quick look)")
    parser.add_argument("--skip-pyscenedetect", action="store_true")
    parser.add_argument("--only", nargs="*", default=(), help="clip names")
    parser.add_argument("--verbose", "-v", action="store_true", help="print every detection")
    args = parser.parse_args(argv)

    truths = corpus(small=args.small, only=args.only)
    names = [n for n in CONTENDERS if not (args.skip_pyscenedetect and n in ("content", "adaptive"))]
    results: dict[str, dict[str, Detection]] = {name: {} for name in names}
    for truth in truths:
        for name in names:
            results[name][truth.name] = timed(CONTENDERS[name], truth)

    detectors = [n for n in names if n != "floor"]
    print(
        f"{len(truths)} clips, {sum(t.frames for t in truths)} frames, {sum(len(t.cuts) for t in truths)} cuts, "
        f"{sum(len(t.gradual) for t in truths)} gradual transitions; cut F1 within ±{TOLERANCE} frame\n"
    )
    header = f"{'clip':28}{'cuts':>5}" + "".join(f"{name + ' F1':>13}" for name in detectors)
    print(header + f"{'gradual F1':>12}{'x floor':>9}")
    cut_scores = {name: Score() for name in detectors}
    gradual = Score()
    behind: list[str] = []
    for truth in truths:
        row = f"{truth.name:28}{len(truth.cuts):5}"
        clip_f1 = {}
        for name in detectors:
            score = score_cuts(results[name][truth.name].cuts, truth)
            cut_scores[name] += score
            clip_f1[name] = score.f1
            row += f"{score.f1:13.3f}"
        clip_gradual = score_gradual(results["analysis"][truth.name].gradual, truth)
        gradual += clip_gradual
        floor = results["floor"][truth.name].wall
        row += f"{clip_gradual.f1:12.3f}{results['analysis'][truth.name].wall / floor:9.3f}"
        rivals = [clip_f1[n] for n in ("content", "adaptive") if n in clip_f1]
        if rivals and clip_f1["analysis"] < max(rivals):
            behind.append(truth.name)
            row += "  < pyscenedetect"
        print(row)
        if args.verbose:
            for name in detectors:
                detection = results[name][truth.name]
                print(f"    {name:9} cuts {detection.cuts} gradual {detection.gradual}")
            print(f"    {'truth':9} cuts {list(truth.cuts)} gradual {list(truth.gradual)}")
    print()

    analysis = cut_scores["analysis"]
    figures: dict[str, Any] = {
        "realistic_cut_precision": analysis.precision,
        "realistic_cut_recall": analysis.recall,
        "realistic_cut_f1": analysis.f1,
    }
    if "content" in cut_scores:
        best = max(cut_scores["content"].f1, cut_scores["adaptive"].f1)
        figures |= {
            "pyscenedetect_content_realistic_cut_f1": cut_scores["content"].f1,
            "pyscenedetect_adaptive_realistic_cut_f1": cut_scores["adaptive"].f1,
            "pyscenedetect_best_realistic_cut_f1": best,
            "realistic_cut_f1_vs_pyscenedetect": analysis.f1 / best if best else float("inf"),
            "realistic_clips_behind_pyscenedetect": len(behind),
        }
    floor_wall = sum(d.wall for d in results["floor"].values())
    floor_cpu = sum(d.cpu for d in results["floor"].values())
    figures |= {
        "gradual_transition_precision": gradual.precision,
        "gradual_transition_recall": gradual.recall,
        "gradual_transition_f1": gradual.f1,
        "realistic_analysis_vs_decode_floor": sum(d.wall for d in results["analysis"].values()) / floor_wall,
        "realistic_analysis_cpu_vs_decode_floor": sum(d.cpu for d in results["analysis"].values())
        / floor_cpu,
    }
    if "content" in cut_scores:
        for name in ("content", "adaptive"):
            figures[f"pyscenedetect_{name}_vs_decode_floor"] = (
                sum(d.wall for d in results[name].values()) / floor_wall
            )
    for name, value in figures.items():
        print(f"{name}: {value}" if isinstance(value, int) else f"{name}: {value:.3f}")


if __name__ == "__main__":
    main()
