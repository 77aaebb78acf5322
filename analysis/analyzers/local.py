"""The local analyzer: metadata, scenes, thumbnails, storyboard, timelines, silences.

Pure: a file path in, JSON-ready data out (plus JPEG files in ``out_dir``).
No Django, no Redis, no models; the worker's job wraps it.

How it stays fast: the file is decoded once, by one ffmpeg process, which
shrinks every picture inside ffmpeg before anything reaches Python (see
:mod:`analysis.analyzers.decode`), and skips the B-frames (or else the frames
no other frame refers to) when few come in a row
(:mod:`analysis.analyzers.references`); a cut found after a longer gap is
placed by decoding that gap alone (:mod:`analysis.analyzers.refine`).
Scenes are found online on 64x36 frames (:mod:`analysis.analyzers.scenes`),
so memory stays small for long videos.
"""

from __future__ import annotations

import math
import queue
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from analysis.analyzers.decode import AUDIO_RATE, END, SAMPLE_FPS, SMALL_SIZE, Decoder, Plan, Sample
from analysis.analyzers.errors import TRUNCATED, UNREADABLE, AnalysisError
from analysis.analyzers.images import (
    POSTER_QUALITY,
    Storyboard,
    ThumbnailPicker,
    fit,
    pick_poster,
    save_jpeg,
    storyboard_interval,
)
from analysis.analyzers.probe import Probe, probe
from analysis.analyzers.references import skippable_runs
from analysis.analyzers.refine import place_cuts
from analysis.analyzers.scenes import Boundary, SceneDetector
from analysis.analyzers.sound import LoudnessMeter

__all__ = ["ANALYZER_NAME", "ANALYZER_VERSION", "AnalysisError", "ProgressCallback", "analyze"]

ANALYZER_NAME = "local"
ANALYZER_VERSION = "1.1"
"""Bump when the output changes, so stored analyses can be told apart."""

ProgressCallback = Callable[[int, str], None]

MAX_ANALYSIS_FPS = 60
THUMBNAIL_SIZE = 320  # longer side, pixels
POSTER_SIZE = 1280
POSTER_CANDIDATES = 5  # spread over the video, from 10% in
BATCH_FRAMES = 16
MAX_SKIPPED_RUN = 2
"""A cut after a gap of at most this many skipped frames is placed within a frame
by putting it in the gap's middle; after a longer one, the gap is decoded."""
MAX_SKIPPED_B_FRAMES = 3
"""Skip B-frames only where no more than this many come in a row (x264's default;
each longer gap blurs what the scene detector sees a little more)."""


def analyze(
    path: str | Path,
    out_dir: str | Path,
    *,
    progress: ProgressCallback | None = None,
    skip_frames: bool = True,
) -> dict[str, Any]:
    """Analyse the video at ``path``, writing its pictures into ``out_dir``.

    Returns ``metadata``, ``scenes``, ``cuts``, ``transitions``, ``poster``,
    ``storyboard``, ``timelines`` and ``silences`` (see the project docs);
    picture paths are file names relative to ``out_dir``. ``cuts`` are the
    times of the hard cuts; ``transitions`` the gradual ones (``kind``
    ``"dissolve"`` or ``"fade"``, ``start`` and ``end`` in seconds); a scene that
    begins with one carries it as its ``transition``, and starts in its middle.
    ``progress(percent, stage)`` is called as the work goes on, at most about
    four times a second, with rising percentages, ending with 100.

    ``skip_frames`` lets the decoder leave out the B-frames, where no more than
    :data:`MAX_SKIPPED_B_FRAMES` come in a row (H.264), or else the frames no
    other frame depends on, where no more than :data:`MAX_SKIPPED_RUN` do; cuts
    are still placed within a frame.

    Raises :class:`AnalysisError` with a sentence for a person when the file is
    not a (complete) video. On failure the pictures already written are removed.
    A missing file raises :class:`FileNotFoundError`.
    """
    path, out_dir = Path(path), Path(out_dir)
    report = _Progress(progress)
    report(0, "Reading metadata")
    info = probe(path)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        return _analyze(path, out_dir, info, report, written, skip_frames)
    except BaseException:
        for picture in written:
            picture.unlink(missing_ok=True)
        raise


def _analyze(
    path: Path,
    out_dir: Path,
    info: Probe,
    report: _Progress,
    written: list[Path],
    skip_frames: bool,
) -> dict[str, Any]:
    fps = Fraction(min(info.frame_rate, MAX_ANALYSIS_FPS)).limit_denominator(1001)
    expected = info.video_end or info.metadata["duration"] or 0.0
    has_audio = info.metadata["has_audio"]
    skip, skipped_run = _skipping(path, info.frame_rate <= MAX_ANALYSIS_FPS) if skip_frames else ("", 0)
    plan = Plan(
        fps=fps,
        sample_size=fit(info.display_size, THUMBNAIL_SIZE),
        poster_size=fit(info.display_size, POSTER_SIZE),
        poster_start=0.1 * expected,
        poster_step=0.8 * expected / POSTER_CANDIDATES if expected else 5.0,
        poster_count=POSTER_CANDIDATES,
        rotation=info.metadata["rotation"],
        audio=has_audio,
        skip=skip,
        scale_first=info.frame_rate <= MAX_ANALYSIS_FPS,
    )
    detector = SceneDetector(float(fps), SMALL_SIZE, skipped_run=skipped_run)
    meter = LoudnessMeter(AUDIO_RATE)
    pictures = _Pictures(out_dir, written, storyboard_interval(expected))

    report(2, "Finding scenes")
    boundaries: list[Boundary] = []

    def found(new: list[Boundary]) -> None:
        for boundary in new:
            pictures.end_scene_at(boundary.frame / fps)
            boundaries.append(boundary)

    with Decoder(path, plan, on_audio=meter.feed if has_audio else None) as decoder:
        for batch in decoder.small_frames(BATCH_FRAMES):
            found(detector.add(batch))
            pictures.take(decoder.samples, wait=False)
            done = detector.count / max(1.0, expected * float(fps))
            report(2 + int(88 * min(1.0, done)), "Finding scenes")
        found(detector.finish())
        exit_code = decoder.wait()
        frames = detector.count
        _check_complete(float(frames / fps), info, exit_code, decoder.stderr)
        pictures.end_scene_at(frames / fps)
        pictures.take(decoder.samples, wait=True)
        posters = _drain(decoder.posters)
    meter.finish()
    placed = place_cuts(path, fps, boundaries, longer_than=MAX_SKIPPED_RUN)
    for index in reversed([i for i, boundary in enumerate(placed) if boundary is None]):
        pictures.join_scene(index + 1)  # no cut after all: that scene is part of the one before
    boundaries = [boundary for boundary in placed if boundary is not None]

    report(92, "Measuring sound")
    seconds = max(1, math.ceil(frames / fps))
    cuts = [b.start for b in boundaries if b.kind == "cut"]
    timelines = {
        "brightness": _per_second(detector.luma.values, fps, seconds),
        "motion": _per_second(_without(detector.motion.values, cuts), fps, seconds),
        "loudness": meter.per_second(seconds) if has_audio else [],
    }
    silences = meter.silences() if has_audio else []
    report(95, "Making storyboard")
    storyboard = pictures.save_storyboard()
    report(98, "Choosing a poster")
    poster = pictures.save_poster(posters)

    metadata = dict(info.metadata)
    if metadata["duration"] is None:
        metadata["duration"] = round(float(frames / fps), 3)
    bounds = [0, *(b.frame for b in boundaries), frames]
    scenes = [
        {
            "index": number,
            "start": _seconds(start, fps),
            "end": _seconds(end, fps),
            "thumbnail": name,
        }
        for number, (start, end, name) in enumerate(
            zip(bounds[:-1], bounds[1:], pictures.thumbnails, strict=True), start=1
        )
    ]
    transitions = []
    for scene, boundary in zip(scenes[1:], boundaries, strict=True):
        if boundary.kind != "cut":
            # From the transition's first frame to the end of its last.
            transition = {
                "kind": boundary.kind,
                "start": _seconds(boundary.start, fps),
                "end": _seconds(boundary.end + 1, fps),
            }
            scene["transition"] = transition
            transitions.append(transition)
    report(100, "Done")
    return {
        "metadata": metadata,
        "scenes": scenes,
        "cuts": [_seconds(cut, fps) for cut in cuts],
        "transitions": transitions,
        "poster": poster,
        "storyboard": storyboard,
        "timelines": timelines,
        "silences": silences,
    }


def _skipping(path: Path, every_frame_analysed: bool) -> tuple[str, int]:
    """Which frames the decoder may leave out (see :class:`Plan`), and how many in a row.

    B-frames only when every frame is analysed: at a lower analysis rate a
    skipped frame's place is not a frame number :func:`place_cuts` can decode."""
    runs = skippable_runs(path)
    if every_frame_analysed and runs.bidirectional is not None and runs.bidirectional <= MAX_SKIPPED_B_FRAMES:
        return "bidir", runs.bidirectional
    if runs.nonreference is not None and runs.nonreference <= MAX_SKIPPED_RUN:
        return "noref", runs.nonreference
    return "", 0


def _seconds(frame: int, fps: Fraction) -> float:
    """The time of ``frame``, in seconds rounded to the millisecond."""
    return round(float(frame / fps), 3)


def _check_complete(decoded: float, info: Probe, exit_code: int, stderr: str) -> None:
    """Raise if nothing decoded, or if decoding stopped before the video's stated end.

    How far short counts depends on how much the stated end can be trusted:
    three frames when ffmpeg also reported errors (a cut-off file), half a
    second when the video stream states its own length, and a second or 5%
    when only the whole file's length is known (its audio may run longer).
    """
    if decoded <= 0:
        raise AnalysisError(UNREADABLE, detail=stderr or f"ffmpeg exited with {exit_code}")
    expected = info.video_end
    if not expected:
        return
    if stderr or exit_code:
        slack = max(3 / info.frame_rate, 0.1)
    elif info.video_end_stated:
        slack = 0.5
    else:
        slack = max(1.0, 0.05 * expected)
    if expected - decoded > slack:
        raise AnalysisError(
            TRUNCATED,
            detail=f"decoded {decoded:.2f}s of {expected:.2f}s; ffmpeg said: {stderr}",
        )


class _Pictures:
    """Scene thumbnails, storyboard tiles and the poster, fed from the sampled frames.

    Scenes end (in time order) as the detector finds cuts, but a scene's
    thumbnail can only be chosen once every sample before its end has
    arrived; samples come from another pipe, so scenes wait in ``_pending``
    until they have. Nothing here ever blocks on ffmpeg mid-stream.
    """

    def __init__(self, out_dir: Path, written: list[Path], interval: float) -> None:
        self.out_dir = out_dir
        self.written = written
        self.thumbnails: list[str | None] = []
        self._picker = ThumbnailPicker(out_dir)
        self._storyboard = Storyboard(interval, SAMPLE_FPS)
        self._pending: list[float] = []  # ends of scenes still to close
        self._scene_start = 0.0
        self._latest = -math.inf  # time of the newest sample taken
        self._ended = False
        self._fallback: Sample | None = None

    def end_scene_at(self, end: Fraction | float) -> None:
        self._pending.append(float(end))
        self._close_ready()

    def take(self, samples: queue.SimpleQueue[Sample | None], *, wait: bool) -> None:
        """Take the samples that have arrived (all of them, to the end, if ``wait``)."""
        while not self._ended:
            try:
                sample = samples.get(block=wait)
            except queue.Empty:
                break
            if sample is END:
                self._ended = True
                break
            self._picker.add(sample)
            self._storyboard.add(sample)
            self._latest = sample.time
            if self._fallback is None:
                self._fallback = sample
            self._close_ready()
        self._close_ready()

    def _close_ready(self) -> None:
        while self._pending and (self._ended or self._latest >= self._pending[0]):
            end = self._pending.pop(0)
            name = self._picker.close_scene(len(self.thumbnails) + 1, self._scene_start, end)
            if name:
                self.written.append(self.out_dir / name)
            self.thumbnails.append(name)
            self._scene_start = end

    def join_scene(self, number: int) -> None:
        """Scene ``number`` (0-based) is part of the one before: drop its thumbnail."""
        name = self.thumbnails.pop(number)
        if name:
            path = self.out_dir / name
            self.written.remove(path)
            path.unlink(missing_ok=True)

    # The pictures below are None only if ffmpeg produced no sampled picture at
    # all, which a video that decoded (as checked before) does not do.

    def save_storyboard(self) -> dict[str, Any] | None:
        if not self._storyboard.count:
            return None
        path = self.out_dir / "storyboard.jpg"
        self.written.append(path)
        return self._storyboard.save(path)

    def save_poster(self, candidates: list[Sample]) -> str | None:
        chosen = pick_poster(candidates) or self._fallback
        if chosen is None:
            return None
        path = self.out_dir / "poster.jpg"
        self.written.append(path)
        save_jpeg(chosen.image, path, POSTER_QUALITY)
        return path.name


class _Progress:
    """Calls the progress callback with rising percentages, a few times a second."""

    def __init__(self, callback: ProgressCallback | None, interval: float = 0.25) -> None:
        self.callback = callback
        self.interval = interval
        self._sent = -1
        self._at = -math.inf

    def __call__(self, percent: int, stage: str) -> None:
        if self.callback is None or percent <= self._sent:
            return
        now = time.monotonic()
        if percent == 100 or self._sent < 0 or now - self._at >= self.interval:
            self._sent, self._at = percent, now
            self.callback(percent, stage)


def _drain(samples: queue.SimpleQueue[Sample | None]) -> list[Sample]:
    taken = []
    while (sample := samples.get()) is not END:
        taken.append(sample)
    return taken


def _per_second(values: np.ndarray, fps: Fraction, seconds: int) -> list[float]:
    """Mean of the non-NaN ``values`` of the frames in each second (0 where none)."""
    frame = np.arange(len(values))
    second = np.minimum(frame * fps.denominator // fps.numerator, seconds - 1)
    known = ~np.isnan(values)
    sums = np.bincount(second[known], values[known], minlength=seconds)
    counts = np.bincount(second[known], minlength=seconds)
    means = np.divide(sums, counts, out=np.zeros(seconds), where=counts > 0)
    return [round(float(v), 2) for v in means]


def _without(values: np.ndarray, frames: list[int]) -> np.ndarray:
    """``values`` with the given frames blanked out (NaN)."""
    values = values.copy()
    values[frames] = np.nan
    return values
