"""Per-frame measurements on tiny frames, and a hard-cut detector built on them.

Two measures of how much a frame differs from the one before, on 64x36
frames: ``change``, the mean absolute difference over all Y, U and V samples
(0..255), and ``shift``, how much of the coarse colour histogram moved
(0..100 %). Motion raises ``change`` but hardly ``shift``; a cut between two
busy shots raises ``shift`` even when ``change`` is as high inside the shots.

A frame is the first of a new scene when

1. its ``change`` or its ``shift`` stands out from its surroundings: it is at
   least ``ratio`` times the median of the other frames' within ``window``
   seconds either side, so steady motion, camera shake and noise, which
   raise every frame alike, do not count;
2. and is large in itself (``min_score`` for ``change``, ``min_shift`` for
   ``shift``), so in a still shot, whose median is near zero, small
   changes are not cuts;
3. the change lasts: the picture ``flash`` seconds after differs from the
   picture ``flash`` seconds before by at least ``lasting_ratio`` times the change,
   so a photo flash or a glitch (a jump that comes back) is not a cut;
4. and its ``change`` is the largest of such frames within ``min_scene``
   seconds either side (and it is at least that far from the start), so
   scenes last about that long at least.

The cut is placed on the first frame of the burst of candidate frames around
that largest change, where the new shot begins.

Everything runs in batches with numpy and online: the detector decides about
a frame once it has seen the frames it needs after it, so memory holds a few
numbers per frame and never the frames themselves.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


class Growing:
    """A float64 array that grows at its end."""

    def __init__(self) -> None:
        self._data = np.empty(4096)
        self.size = 0

    def extend(self, values: np.ndarray | list[float]) -> None:
        end = self.size + len(values)
        if end > len(self._data):
            self._data = np.resize(self._data, max(end, 2 * len(self._data)))
        self._data[self.size : end] = values
        self.size = end

    @property
    def values(self) -> np.ndarray:
        return self._data[: self.size]


class FrameFeatures:
    """Per-frame numbers from a stream of tiny YUV 4:2:0 frames.

    - ``luma``: mean Y.
    - ``change``: mean absolute Y, U and V difference from the previous frame;
      NaN for the first frame and for exact repeats (ffmpeg repeats frames to
      hold a constant rate when the source has gaps), which say nothing.
    - ``shift``: how much the colour distribution changed from the previous
      frame: the share of samples, in percent, that would have to move to
      another bin of a coarse Y/U/V histogram (16/8/8 bins). Motion hardly
      moves it; a new shot usually does. NaN where ``change`` is.
    - ``motion``: mean absolute Y difference from the previous distinct frame,
      divided by the number of frames between them; NaN where ``change`` is.
    - ``lasting``: for frame i, the mean absolute difference between frame
      i-1-``span`` and frame i+``span`` (clamped to the first and last
      frames): how different the picture is well after a change at i from the
      picture well before it. Known for the first ``lasting.size`` frames.
    """

    def __init__(self, width: int, height: int, span: int) -> None:
        self.luma_size = width * height
        self.span = span
        self.luma = Growing()
        self.change = Growing()
        self.shift = Growing()
        self.motion = Growing()
        self.lasting = Growing()
        self._histogram = np.empty((0, 32))  # of the last frame added
        self._tail = np.empty((0, self.luma_size * 3 // 2), np.int16)
        self._tail_start = 0  # frame number of _tail[0]
        self._gap = 1  # frames since the last distinct frame

    @property
    def count(self) -> int:
        return self.luma.size

    def add(self, frames: np.ndarray) -> None:
        """Add a batch of frames, shape (n, width*height*3/2), uint8."""
        if not len(frames):
            return
        first_batch = self.count == 0
        frames16 = frames.astype(np.int16)
        self.luma.extend(frames[:, : self.luma_size].mean(axis=1))

        diff = np.abs(np.diff(np.concatenate([self._tail[-1:], frames16]), axis=0))
        change = diff.mean(axis=1)
        luma_change = diff[:, : self.luma_size].mean(axis=1)
        if first_batch:
            change = np.concatenate([[np.nan], change])
            luma_change = np.concatenate([[np.nan], luma_change])
        histograms = np.concatenate([self._histogram, self._histograms(frames)])
        shift = 50 / 3 * np.abs(np.diff(histograms, axis=0)).sum(axis=1)
        self._histogram = histograms[-1:]
        if first_batch:
            shift = np.concatenate([[np.nan], shift])
        repeat = change == 0
        change[repeat] = np.nan
        shift[repeat] = np.nan
        self.change.extend(change)
        self.shift.extend(shift)
        self.motion.extend(self._motion(luma_change, repeat))

        window = np.concatenate([self._tail, frames16])
        self._extend_lasting(window, self.count - self.span)
        self._tail = window[-(2 * self.span + 1) :]
        self._tail_start = self.count - len(self._tail)

    def _histograms(self, frames: np.ndarray) -> np.ndarray:
        """Per frame, the share of Y, U and V samples in 16, 8 and 8 bins; shape (n, 32)."""
        luma, chroma = self.luma_size, self.luma_size // 4
        bins = np.concatenate(
            [
                frames[:, :luma] >> 4,
                (frames[:, luma : luma + chroma] >> 5) + 16,
                (frames[:, luma + chroma :] >> 5) + 24,
            ],
            axis=1,
        ).astype(np.intp)
        bins += 32 * np.arange(len(frames))[:, None]
        counts = np.bincount(bins.ravel(), minlength=32 * len(frames)).reshape(-1, 32)
        return counts / np.array([luma] * 16 + [chroma] * 16)

    def _extend_lasting(self, window: np.ndarray, stop: int) -> None:
        """Fill ``lasting`` up to frame ``stop``; ``window`` holds the frames it needs."""
        frames = np.arange(self.lasting.size, stop)
        if not len(frames):
            return
        before = np.maximum(frames - 1 - self.span, 0) - self._tail_start
        later = np.minimum(frames + self.span, self.count - 1) - self._tail_start
        self.lasting.extend(np.abs(window[later] - window[before]).mean(axis=1))

    def _motion(self, luma_change: np.ndarray, repeat: np.ndarray) -> np.ndarray:
        motion = np.full(len(luma_change), np.nan)
        for i, value in enumerate(luma_change):
            if repeat[i]:
                self._gap += 1
            elif not math.isnan(value):
                motion[i] = value / self._gap
                self._gap = 1
        return motion

    def finish(self) -> None:
        """Fill ``lasting`` for the last frames, comparing with the final frame."""
        self._extend_lasting(self._tail, self.count)


class CutDetector:
    """Finds hard cuts in :class:`FrameFeatures`, as described in the module docstring.

    Call :meth:`update` after each batch of frames and once more with
    ``final=True`` after the last; each call returns the cuts (frame numbers)
    decided since the previous one, in order.
    """

    def __init__(
        self,
        fps: float,
        *,
        ratio: float = 3.0,
        min_score: float = 8.0,
        min_shift: float = 20.0,
        window: float = 0.5,
        min_scene: float = 0.5,
        flash: float = 0.2,
        lasting_ratio: float = 0.5,
    ) -> None:
        self.ratio = ratio
        self.min_score = min_score
        self.min_shift = min_shift
        self.lasting_ratio = lasting_ratio
        self.window_frames = max(2, round(window * fps))
        self.min_scene_frames = max(2, round(min_scene * fps))
        self.flash_frames = max(2, round(flash * fps))
        self._strength = Growing()  # a frame's change if it is a candidate, else -inf
        self._decided = 0
        self._last_cut = 0

    def update(self, features: FrameFeatures, *, final: bool = False) -> list[int]:
        """Decide about every frame whose surroundings are now known; return the new cuts."""
        count = features.count
        w, m = self.window_frames, self.min_scene_frames

        # Stage 1: which frames are candidates (tests 1-3), once their window is known.
        known = count if final else min(count - w, features.lasting.size)
        if known > self._strength.size:
            self._strength.extend(self._candidates(features, self._strength.size, known))

        # Stage 2: keep candidates that are the strongest within min_scene (test 4).
        decide = self._strength.size if final else self._strength.size - m
        strength = self._strength.values
        cuts = []
        for frame in np.flatnonzero(strength[self._decided : max(decide, 0)] > -np.inf):
            frame += self._decided
            if frame < m or (final and frame > count - m):
                continue
            left = strength[frame - m : frame]
            right = strength[frame + 1 : frame + m + 1]
            if strength[frame] > left.max(initial=-np.inf) and strength[frame] >= right.max(initial=-np.inf):
                cuts.append(self._burst_start(strength, int(frame)))
        self._decided = max(self._decided, decide)
        return cuts

    def _burst_start(self, strength: np.ndarray, peak: int) -> int:
        """The first frame of the run of candidates holding ``peak``.

        A new shot does not always peak on its first frame (a blended frame,
        or content that settles after its first picture); the cut is where
        the change begins. Looks back at most ``flash`` seconds.
        """
        start = peak
        while (
            peak - start < self.flash_frames and start - 1 > self._last_cut and strength[start - 1] > -np.inf
        ):
            start -= 1
        self._last_cut = start
        return start

    def _candidates(self, features: FrameFeatures, start: int, stop: int) -> np.ndarray:
        """For frames [start, stop): their ``change`` if they pass tests 1-3, else -inf."""
        change = features.change.values
        stands_out = self._stands_out(change, start, stop, self.min_score) | self._stands_out(
            features.shift.values, start, stop, self.min_shift
        )
        score = change[start:stop]
        with np.errstate(invalid="ignore"):
            lasts = features.lasting.values[start:stop] >= self.lasting_ratio * score
        return np.where(stands_out & lasts, score, -np.inf)

    def _stands_out(self, values: np.ndarray, start: int, stop: int, floor: float) -> np.ndarray:
        """Whether each of values[start:stop] reaches ``floor`` and ``ratio`` times
        the median of the other known values within ``window`` either side."""
        w = self.window_frames
        padded = np.full(stop - start + 2 * w, np.nan)
        lo, hi = max(start - w, 0), min(stop + w, len(values))
        padded[lo - (start - w) : hi - (start - w)] = values[lo:hi]
        windows = sliding_window_view(padded, 2 * w + 1).copy()
        windows[:, w] = np.nan  # a frame is not part of its own baseline
        median = _nanmedian_rows(windows)
        with np.errstate(invalid="ignore"):
            return values[start:stop] >= np.maximum(floor, self.ratio * median)


def _nanmedian_rows(rows: np.ndarray) -> np.ndarray:
    """The median of each row's non-NaN values; 0 for a row with none.

    Same as ``np.nanmedian(rows, axis=1)`` without its slow path for small arrays.
    """
    ordered = np.sort(rows, axis=1)  # NaNs sort last
    known = np.count_nonzero(~np.isnan(rows), axis=1)
    index = np.arange(len(rows))
    low = ordered[index, np.maximum(known - 1, 0) // 2]
    high = ordered[index, known // 2 - (known == 0)]
    return np.where(known > 0, (low + high) / 2, 0.0)
