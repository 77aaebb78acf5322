"""Where the shots change: hard cuts, dissolves and fades, found on small frames.

Frames arrive as small YUV 4:2:0 pictures (64x36), in batches, at a
constant rate; a frame that is an exact copy of the one before (ffmpeg
writes one where the decoder skipped a frame, or the source holds one) says
nothing new and is left out of the comparisons.

What is measured, per distinct frame:

- ``detail``: how much structure the picture has, the standard deviation of
  its luma band-passed to features between about 2 and 20 pixels (of 64).
  Below :data:`FLAT` the picture is flat (black, white, fog, a hand over the
  lens) and has nothing to compare.
- ``alike(a, b)``: how alike the structure of two frames is: the peak, over
  every shift, of the circular cross-correlation of their band-passed luma,
  normalised (computed from their Fourier spectra, kept for a few seconds).
  It is about 1 for the same picture moved (a pan, shake), brighter or
  darker (a fade, a flash, a change of light) or noisier, and near 0 for two
  different pictures, however alike their brightness and colours.
- ``jump``: how much the mean brightness and colour changed, for pictures too
  flat to compare.

What counts as what:

1. **A hard cut** at frame *i*: *i* is unlike the frame before
   (``alike`` < :data:`CUT_ALIKE`, and standing out from its surroundings,
   so a busy shot that changes a lot every frame does not cut), or, where a
   picture is flat, the brightness or colour jumps; unless the change is
   inside a dip of detail (see 2), or the picture comes back within
   :data:`BRIDGE_SECONDS` (a glitch, a flash's burnt-out frames).
2. **A fade**: the picture's detail dips (through black, white or a hand in
   front of the lens), ramping down and up, and the picture after it is not
   the one before it. When it is the same picture, it was a lighting change,
   a flash or someone passing the lens: nothing. A dip too short to be a fade
   is a hard cut where the new picture shows; one whose picture changes
   where it still has its detail (the blur of a whip pan) holds a cut, which 1
   finds.
3. **A dissolve**: no frame is unlike the one before, yet frames a fraction
   of a second apart are (:data:`DISSOLVE_LAGS`); the frames in between are
   then fitted as blends of the pictures before and after. It is a dissolve
   when they are such blends (a whip pan, a zoom or a passer-by are not);
   its span is where the blend's weight moves from one picture to the other.

A gradual transition is reported as one :class:`Boundary` with its first and
last frame; the scene list splits at its middle.

Decisions are made online, a pass every second or so over the last few
seconds, so memory holds a few numbers per frame and a few seconds of
spectra, never the whole video. A transition still under way at the end of a
pass holds the decisions back, for at most :data:`MAX_HOLD_SECONDS` of
distinct frames: a long black between two fades that an editor wrote as one
frame repeated waits as long as it lasts; a grainy one (every frame
different) longer than that is not found as one transition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

FLAT = 1.0
"""Detail (band-passed luma std, 8-bit levels) below which a picture is flat."""
CUT_ALIKE = 0.5
"""Frames less alike than this are a candidate cut."""
CUT_RATIO = 2.5
"""A candidate's unlikeness (1 - alike) must be this many times its neighbours' median."""
JUMP = 25.0
"""Brightness and colour jump (8-bit levels) that cuts between flat pictures."""
LEAP_ALIKE = 0.75
"""Frames less alike than this that also jump twice :data:`JUMP` are a candidate cut."""
SAME_ALIKE = 0.6
"""Pictures at least this alike are the same shot (either side of a flash, a dip)."""
STABLE_ALIKE = 0.45
"""A picture less alike than this to both its neighbours has no structure to follow."""
BRIDGE_SECONDS = 0.1
DIP_FRACTION = 0.4
"""A frame is in a dip when its detail is below this share of the detail either side."""
LEVEL_SECONDS = 0.8
"""How far either side the detail a dip is measured against is looked for."""
FADE_SECONDS = 0.12
"""A dip shorter than this (and four frames) between two shots is a cut, not a fade."""
DISSOLVE_LAGS = (0.4, 1.0)
"""Seconds apart of the frames compared to find dissolves."""
DISSOLVE_ALIKE = 0.5
MEDIAN_SECONDS = 0.5
PASS_SECONDS = 1.0
"""How much new video a decision pass waits for."""
LOOKAHEAD_SECONDS = 2.2
"""How far past a boundary a pass must see before it decides about it."""
CONTEXT_SECONDS = 2.2
"""How far before the undecided frames a pass looks."""
MAX_RUN_SECONDS = 3.0
"""Longest dissolve looked for."""
HELD_MARGIN_SECONDS = 0.2
"""How much earlier than where a held-back transition began the next pass looks again."""
MAX_HOLD_SECONDS = 12.0
"""Longest a pass keeps undecided frames waiting for a transition to end."""
HELD_SECONDS = 0.25
"""Repeats in a row longer than this are a held picture (a still, an encoder's long
black), not frames the decoder skipped or a frame rate filled in: they do not slow
the pace at which pictures change, which sets every span a pass looks at."""


@dataclass(frozen=True)
class Boundary:
    """Where one shot gives way to the next.

    A hard cut (``kind`` ``"cut"``) has ``start == end``, the first frame of the
    new shot. A gradual transition (``"dissolve"``, ``"fade"``) spans its first
    to its last frame, which belong wholly to neither shot. A cut found just
    after frames the decoder skipped is placed in the middle of them;
    ``skipped`` says how many there were (the cut is one of them or the frame
    after), so that it can be placed exactly by decoding them.
    """

    kind: str
    start: int
    end: int
    skipped: int = 0

    @property
    def frame(self) -> int:
        """Where the scene list splits: the new shot's first frame, or a transition's middle."""
        return self.start if self.kind == "cut" else (self.start + self.end + 1) // 2


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


def _band(height: int, width: int) -> np.ndarray:
    """The band-pass applied to the luma's spectrum (``rfft2``): no layout (below
    ~1/20 cycle per pixel at 64x36) and no grain (it tapers off towards 1/2)."""
    scale = 64 / width  # the band is the same share of the picture at any size
    fy = np.fft.fftfreq(height)[:, None] / scale
    fx = np.fft.rfftfreq(width)[None, :] / scale
    radius = np.sqrt(fx**2 + fy**2)
    return ((1 - np.exp(-((radius / 0.06) ** 2))) * np.exp(-((radius / 0.44) ** 2))).astype(np.float32)


class SceneDetector:
    """Finds the :class:`Boundary` list of a stream of small frames.

    Call :meth:`add` with each batch (shape (n, width*height*3/2), uint8) and
    :meth:`finish` after the last; each returns the boundaries decided since
    the previous call, in order. ``skipped_run`` is the most frames in a row the
    decoder may have skipped (each written as a copy of the one before): a cut
    after such a gap is placed in its middle. :attr:`luma` and :attr:`motion` hold, per
    frame, the mean luma and the mean absolute luma change from the previous
    distinct frame (at 64x36, per frame elapsed; NaN for repeats and the first).
    """

    def __init__(self, fps: float, size: tuple[int, int] = (64, 36), *, skipped_run: int = 0) -> None:
        self.fps = fps
        self.skipped_run = skipped_run
        self.width, self.height = size
        self.luma = Growing()
        self.motion = Growing()
        self._band = _band(self.height, self.width)
        self._shape = (self.height, self.width)
        self._weights = np.full(self.width // 2 + 1, 2.0, np.float32)  # rfft2 halves the last axis
        self._weights[[0, -1]] = 1.0
        # Frames a lag apart are compared on the coarser half of the band (a quarter-size
        # picture): a dissolve changes that as much, and it costs a quarter.
        self._coarse_rows = np.r_[0 : self.height // 4, self.height - self.height // 4 : self.height]
        self._coarse = (self.height // 2, self.width // 2)
        self._coarse_weights = self._weights[: self.width // 4 + 1].copy()
        self._coarse_weights[-1] = 1.0
        self._lags = [max(3, round(seconds * fps)) for seconds in DISSOLVE_LAGS]
        # Per distinct frame.
        self._frame = Growing()
        self._mean = Growing()
        self._blue = Growing()  # mean U and mean V, for jumps
        self._red = Growing()
        self._detail = Growing()
        self._energy = Growing()
        self._coarse_energy = Growing()
        self._alike = Growing()  # with the previous distinct frame
        self._jump = Growing()
        self._lagged = [Growing() for _ in self._lags]
        self._gap = Growing()  # repeats just before
        self._steps = 0  # frames elapsed over the distinct frames, held pictures counted once
        capacity = math.ceil((CONTEXT_SECONDS + MAX_HOLD_SECONDS + PASS_SECONDS + 0.5) * fps) + 16
        self._spectra = np.zeros((capacity, *self._band.shape), np.complex64)
        self._pairs: dict[tuple[int, int], float] = {}
        self._last_raw: np.ndarray | None = None
        self._last_small: np.ndarray | None = None
        self._repeats = 0  # at the end of the frames so far
        self._decided = 0  # distinct frames before this one are decided
        self._passed_at = 0
        self._last_boundary = -1

    @property
    def count(self) -> int:
        """Frames added so far."""
        return self.luma.size

    def add(self, frames: np.ndarray) -> list[Boundary]:
        if len(frames):
            self._measure(frames)
        if self._frame.size - self._passed_at >= PASS_SECONDS * self.fps:
            return self._pass(final=False)
        return []

    def finish(self) -> list[Boundary]:
        return self._pass(final=True)

    # --- measuring ---------------------------------------------------------------

    def _measure(self, frames: np.ndarray) -> None:
        w, h = self.width, self.height
        luma_size = w * h
        count = len(frames)
        repeat = np.zeros(count, bool)
        repeat[1:] = np.all(frames[1:] == frames[:-1], axis=1)
        if self._last_raw is not None:
            repeat[0] = bool(np.all(frames[0] == self._last_raw))
        self._last_raw = frames[-1].copy()
        means = frames[:, :luma_size].sum(axis=1, dtype=np.uint32) / luma_size
        self.luma.extend(means)

        first = self.count - count
        distinct = np.flatnonzero(~repeat)
        motion = np.full(count, np.nan)
        if not len(distinct):
            self._repeats += count
            self.motion.extend(motion)
            return
        # Repeats just before each distinct frame, counting those at the end of the last batch.
        gaps = np.diff(np.concatenate([[-1 - self._repeats], distinct])) - 1
        self._repeats = count - 1 - int(distinct[-1])
        luma = frames[distinct, :luma_size].reshape(-1, h, w).astype(np.float32)
        small = luma.reshape(len(distinct), -1)
        if self._last_small is not None:
            steps = np.abs(np.diff(np.concatenate([self._last_small[None], small]), axis=0)).mean(axis=1)
            motion[distinct] = steps / (gaps + 1)
        else:
            motion[distinct[1:]] = np.abs(np.diff(small, axis=0)).mean(axis=1) / (gaps[1:] + 1)
        self._last_small = small[-1]
        self.motion.extend(motion)

        chroma = frames[distinct, luma_size:].reshape(len(distinct), 2, -1).sum(axis=2, dtype=np.uint32)
        chroma = chroma / (luma_size // 4)
        spectra = (np.fft.rfft2(luma) * self._band).astype(np.complex64)
        energy = (np.abs(spectra) ** 2 * self._weights).sum(axis=(1, 2))  # pixels times the sum of squares
        start = self._frame.size
        self._frame.extend(first + distinct)
        self._gap.extend(gaps)
        self._steps += int(np.where(gaps <= HELD_SECONDS * self.fps, gaps + 1, 1).sum())
        self._mean.extend(means[distinct])
        self._blue.extend(chroma[:, 0])
        self._red.extend(chroma[:, 1])
        self._energy.extend(energy)
        coarse = spectra[:, self._coarse_rows, : len(self._coarse_weights)]
        self._coarse_energy.extend((np.abs(coarse) ** 2 * self._coarse_weights).sum(axis=(1, 2)))
        self._detail.extend(np.sqrt(energy) / luma_size)
        capacity = len(self._spectra)
        self._spectra[np.arange(start, start + len(distinct)) % capacity] = spectra

        new = np.arange(start, self._frame.size)
        self._alike.extend(self._alike_many(new - 1, new))
        jump = self._shift(np.maximum(new - 1, 0), new)
        jump[new == 0] = np.nan
        self._jump.extend(jump)
        frame_numbers = self._frame.values
        for lag, values in zip(self._lags, self._lagged, strict=True):
            partner = np.searchsorted(frame_numbers, frame_numbers[new] - lag, side="right") - 1
            values.extend(self._alike_many(partner, new, coarse=True))

    def _shift(self, a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
        """How far apart distinct frames a and b are in mean brightness and colour (levels)."""
        mean, blue, red = self._mean.values, self._blue.values, self._red.values
        return np.abs(mean[b] - mean[a]) + np.abs(blue[b] - blue[a]) + np.abs(red[b] - red[a])

    def _alike_many(self, a: np.ndarray, b: np.ndarray, *, coarse: bool = False) -> np.ndarray:
        """``alike`` of each pair (a[k], b[k]) of distinct frames; NaN where either is flat or missing."""
        out = np.full(len(a), np.nan)
        detail = self._detail.values
        ok = (a >= 0) & (detail[np.maximum(a, 0)] >= FLAT) & (detail[b] >= FLAT)
        if not ok.any():
            return out
        a, b = a[ok], b[ok]
        capacity = len(self._spectra)
        first, second = self._spectra[a % capacity], self._spectra[b % capacity]
        size, energy = self._shape, self._energy.values
        if coarse:
            columns = len(self._coarse_weights)
            first = first[:, self._coarse_rows, :columns]
            second = second[:, self._coarse_rows, :columns]
            size, energy = self._coarse, self._coarse_energy.values
        peaks = np.fft.irfft2(second * np.conj(first), s=size).max(axis=(1, 2)) * (size[0] * size[1])
        with np.errstate(invalid="ignore", divide="ignore"):
            out[ok] = peaks / np.sqrt(energy[a] * energy[b])
        return out

    def _alike_pair(self, a: int, b: int) -> float:
        key = (a, b)
        if key not in self._pairs:
            self._pairs[key] = float(self._alike_many(np.array([a]), np.array([b]))[0])
        return self._pairs[key]

    def _map(self, a: int, b: int) -> np.ndarray:
        """c[s] = sum over x of band(a)(x) * band(b)(x + s), every shift s (of the
        picture), in the units of ``_energy``: c[0] of a frame with itself is its energy."""
        capacity = len(self._spectra)
        cross = self._spectra[b % capacity] * np.conj(self._spectra[a % capacity])
        return np.fft.irfft2(cross, s=self._shape) * (self._shape[0] * self._shape[1])

    # --- deciding ----------------------------------------------------------------

    def _skipped(self, gap: int) -> int:
        """Half of a gap the decoder may have left (rounded up), none of a held picture."""
        return (gap + 1) // 2 if gap <= self.skipped_run else 0

    @staticmethod
    def _margin(per_second: float) -> int:
        return max(3, round(HELD_MARGIN_SECONDS * per_second))

    def _pass(self, *, final: bool) -> list[Boundary]:
        count = self._frame.size
        self._passed_at = count
        if count < 2:
            return []
        # Distinct frames a second where the picture moves (a held one counted once).
        per_second = self.fps * count / max(1, self._steps)
        look = 0 if final else round(LOOKAHEAD_SECONDS * per_second)
        limit = count - look
        if limit <= self._decided:
            return []
        low = max(0, self._decided - round(CONTEXT_SECONDS * per_second))
        found = _Window(self, low, count, per_second, final).boundaries()
        decided, new_decided = [], limit
        # Never wait longer than the spectra last: they are kept per distinct frame, so
        # a held black that repeats one frame (as encoders write it) may wait any time.
        hold = count - round(MAX_HOLD_SECONDS * self.fps)
        for kind, first, last in found:
            if first < self._decided:
                continue
            if last < limit and kind != "pending":
                decided.append((kind, first, last))
            elif first >= hold:
                # Held back: the next pass, from another start, may place its first frame
                # a little earlier; a boundary decided twice is dropped below.
                new_decided = min(new_decided, max(hold, first - self._margin(per_second)))
        self._decided = max(self._decided, new_decided)
        oldest = count - len(self._spectra)
        self._pairs = {key: value for key, value in self._pairs.items() if key[0] >= oldest}
        frames = self._frame.values
        out = []
        for kind, first, last in decided:
            start, end = int(frames[first]), int(frames[last])
            gap = int(self._gap.values[first])
            skipped = 0
            if kind == "cut" and gap <= self.skipped_run:
                # Frames the decoder skipped just before: the cut is somewhere in that gap.
                start = end = start - gap // 2
                skipped = gap
            elif kind == "fade":
                # A fade's ends are pictures still at their level; where the decoder skipped
                # frames next to them, the fade begins (ends) somewhere in those.
                gaps = self._gap.values
                start += self._skipped(int(gaps[first + 1]) if first + 1 < count else 0)
                end -= self._skipped(int(gaps[last]))
            boundary = Boundary(kind, start, end, skipped)
            if boundary.frame > self._last_boundary:
                out.append(boundary)
                self._last_boundary = boundary.frame
        return out


class _Window:
    """One decision pass over distinct frames [low, high) of a :class:`SceneDetector`."""

    def __init__(self, detector: SceneDetector, low: int, high: int, per_second: float, final: bool) -> None:
        self.d = detector
        self.low, self.high = low, high
        self.final = final
        self.n = high - low
        sl = slice(low, high)
        self.detail = detector._detail.values[sl]
        self.alike = detector._alike.values[sl]
        self.jump = detector._jump.values[sl]
        self.lagged = [values.values[sl] for values in detector._lagged]
        self.frames = detector._frame.values[sl]
        self.gaps = detector._gap.values[sl]
        # Frames elapsed since the previous distinct frame, where the decoder skipped them.
        self.elapsed = 1 + np.where(self.gaps <= detector.skipped_run, self.gaps, 0)
        self.per_second = per_second
        self.level_span = max(4, round(LEVEL_SECONDS * per_second))
        self.median_span = max(3, round(MEDIAN_SECONDS * per_second))
        self.bridge = max(2, round(BRIDGE_SECONDS * per_second))
        self.fade_min = max(4, round(FADE_SECONDS * per_second))

    def alike_pair(self, a: int, b: int) -> float:
        return self.d._alike_pair(a + self.low, b + self.low)

    def boundaries(self) -> list[tuple[str, int, int]]:
        """(kind, first, last) in distinct-frame numbers, in order, cuts inside transitions dropped."""
        events: list[tuple[str, int, int]] = []
        dip = self._dips(events)
        events += self._cuts(dip)
        events += self._dissolves(events)
        # A fade's picture changes at its darkest, which is no cut; a dissolve's never
        # changes at once, so a cut inside one was taken for it (grain, say) and wins.
        fades = [(a, b) for kind, a, b in events if kind == "fade"]
        cuts = [e[1] for e in events if e[0] == "cut" and not any(a - 1 <= e[1] <= b + 1 for a, b in fades)]
        kept = [
            e
            for e in events
            if e[0] in ("fade", "pending")
            or (e[0] == "cut" and e[1] in cuts)
            or (e[0] == "dissolve" and not any(e[1] <= c <= e[2] for c in cuts))
        ]
        kept = _without_overlaps(kept)
        return [(kind, a + self.low, b + self.low) for kind, a, b in sorted(kept, key=lambda e: e[1])]

    # Dips of detail: fades, flashes, passers-by.

    def _levels(self) -> tuple[np.ndarray, np.ndarray]:
        """The most detail within ``level_span`` pictures before and after each frame.

        Frames with next to no detail are passed over, so that a long black between a
        fade out and a fade in is one dip, measured against the pictures either side
        of it (grain in a long black gains a little detail as the encoder settles).
        The pictures looked at lie within :data:`LEVEL_SECONDS` of the nearest one: a
        still shot (one picture held) is measured by itself, not by the next shot."""
        span = self.level_span
        pictures = np.flatnonzero(self.detail >= 2 * FLAT)
        reach = LEVEL_SECONDS * self.d.fps

        def windows(values: np.ndarray) -> np.ndarray:
            padded = np.concatenate([np.full(span, np.nan), values, np.full(span, np.nan)])
            return sliding_window_view(padded, span)

        details, times = windows(self.detail[pictures]), windows(self.frames[pictures].astype(float))
        frames = np.arange(self.n)
        rows_before = np.searchsorted(pictures, frames, side="left")
        rows_after = np.searchsorted(pictures, frames, side="right") + span
        with np.errstate(invalid="ignore"), _quiet():
            near = times[rows_before][:, -1:] - times[rows_before] <= reach
            before = np.nanmax(np.where(near, details[rows_before], np.nan), axis=1)
            near = times[rows_after] - times[rows_after][:, :1] <= reach
            after = np.nanmax(np.where(near, details[rows_after], np.nan), axis=1)
        return before, after

    def _dips(self, events: list[tuple[str, int, int]]) -> np.ndarray:
        detail = self.detail
        before, after = self._levels()
        with np.errstate(invalid="ignore"):
            reference = np.fmin(before, after)
            dip = (reference >= 3 * FLAT) & (detail < DIP_FRACTION * reference)
        for r0, r1 in _runs(dip):
            s, e = r0, r1
            while s > 0 and r0 - s < self.level_span and detail[s - 1] > detail[s] * 1.03:
                s -= 1
            while e < self.n - 1 and e - r1 < self.level_span and detail[e + 1] > detail[e] * 1.03:
                e += 1
            ramp = (r0 - s) + (e - r1)
            if ramp < 3 and np.nanmin(detail[r0 : r1 + 1]) >= 2 * FLAT:
                dip[r0 : r1 + 1] = False  # a cut to a shot with little detail, not a dip
                continue
            before_dip, after_dip = s - 1, e + 1
            if (before_dip >= 0 and detail[before_dip] < 0.5 * before[r0]) or (
                after_dip < self.n and detail[after_dip] < 0.5 * after[r1]
            ):
                continue  # the detail does not come back up around it: a grainy shot, not a dip
            if after_dip >= self.n and not self.final:
                events.append(("pending", s, e))  # not over yet: decide in a later pass
                continue
            with np.errstate(invalid="ignore"):
                jumps = self.jump[s + 1 : e + 2]
                # Per frame elapsed: a fade seen every fourth frame changes four times as much a step.
                steps = jumps / self.elapsed[s + 1 : e + 2]
                leaps = (steps >= JUMP) & (steps >= 3 * _median(steps))
                breaks = self.alike[s + 1 : e + 2] < CUT_ALIKE
            if np.any(leaps):
                # It leaps in brightness or colour (to and from a plain picture) where
                # a fade, a flash or a passer-by changes it steadily: cuts, which the cut test finds.
                dip[r0 : r1 + 1] = False
                continue
            if before_dip < 0 or after_dip >= self.n:
                # A fade from or to black at either end is no change of shot, nor does it hide one.
                dip[r0 : r1 + 1] = False
                continue
            pairs = [
                (h, j)
                for h in range(max(0, before_dip - 2), before_dip + 1)
                for j in range(after_dip, min(self.n, after_dip + 3))
            ]
            if any(self.same(h, j, in_colour=True) for h, j in pairs):
                # The same picture either side: a flash, a passer-by, a change of light.
                events.append(("nothing", s, e))
                dip[s : e + 2] = True  # its ramps too: the picture leaves and comes back there
                continue
            if np.any(breaks & ~(dip[s + 1 : e + 2] & dip[s : e + 1])):
                # The picture changes where it still has its detail (in a whip pan's
                # blur, say): a cut, which the cut test finds, not a fade.
                dip[r0 : r1 + 1] = False
                continue
            if e - s + 1 >= self.fade_min:
                events.append(("fade", s, e))
            else:
                events.append(("cut", after_dip, after_dip))
        return dip

    # Hard cuts.

    def _cuts(self, dip: np.ndarray) -> list[tuple[str, int, int]]:
        alike, jump = self.alike, self.jump
        # A picture whose structure is like neither neighbour's (grain on a plain
        # picture, snow) is compared by its brightness and colour, as a flat one is.
        known = np.nan_to_num(alike, nan=0.0)
        held = np.append(self.gaps[1:] > 0, False)  # shown again unchanged: as alike as can be
        stable = (np.maximum(known, np.append(known[1:], 0.0)) >= STABLE_ALIKE) | held
        # So is a pair of pictures that are both barely above flat: what structure they
        # have is mostly grain, and two frames of grain are only fairly alike.
        faint = self.detail < 2 * FLAT
        faint_pair = faint & np.insert(faint[:-1], 0, True)
        structured = ~np.isnan(alike) & stable & np.insert(stable[:-1], 0, True) & ~faint_pair
        with np.errstate(invalid="ignore"):
            # Two pictures of much the same layout are only fairly alike; with a leap
            # in brightness or colour as well, they are another shot (a light switched
            # on keeps the picture alike; a flash comes back).
            leap = structured & (alike < LEAP_ALIKE) & (jump >= 2 * JUMP)
            candidates = np.flatnonzero(
                (structured & (alike < CUT_ALIKE)) | (~structured & (jump >= JUMP)) | leap
            )
        cuts = []
        span = self.median_span
        for i in candidates:
            if i == 0 and self.low == 0:
                continue
            if i == 0 or dip[i] or dip[i - 1]:
                continue
            lo, hi = max(0, i - span), min(self.n, i + span + 1)
            if leap[i] and alike[i] >= CUT_ALIKE:
                if jump[i] < 3 * _median(np.delete(jump[lo:hi], i - lo)):
                    continue
            elif structured[i]:
                neighbours = np.delete(1 - alike[lo:hi], i - lo)
                baseline = _median(neighbours)
                if 1 - alike[i] < CUT_RATIO * baseline:
                    continue
            else:
                baseline = _median(np.delete(jump[lo:hi], i - lo))
                if jump[i] < 3 * baseline:
                    continue
            if self._comes_back(i, in_colour=bool(leap[i] and alike[i] >= CUT_ALIKE)):
                continue
            cuts.append(("cut", int(i), int(i)))
        return _strongest(cuts, self)

    def _comes_back(self, i: int, *, in_colour: bool = False) -> bool:
        """Whether a picture from just before ``i`` is back just after it (in much
        the same light and colour too, if ``in_colour``: a flash brightens it)."""
        reach = self.bridge * (3 if in_colour else 1)  # a flash may stay a few frames
        before = range(max(0, i - self.bridge), i)
        after = range(i + 1, min(self.n, i + 1 + reach))
        return any(self.same(h, j, in_colour=in_colour) for h in before for j in after)

    def same(self, a: int, b: int, *, in_colour: bool = False) -> bool:
        """Whether frames ``a`` and ``b`` show the same picture."""
        if in_colour:
            d, low = self.d, self.low
            if d._shift(a + low, b + low) >= JUMP:
                return False
        return self.alike_pair(a, b) >= SAME_ALIKE

    # Dissolves.

    def _dissolves(self, events: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
        """Dissolves, looked for at the shorter lag first: the longer one also
        finds them, and joins two dissolves less than a lag apart into one run."""
        lags = [round(lag * self.per_second / self.d.fps) for lag in self.d._lags]
        changes = [(first, last) for _, first, last in events]
        found: list[tuple[str, int, int]] = []
        for lag, values in zip(lags, self.lagged, strict=True):
            # Frames up to a lag after a change are unlike the frames before it, whatever it was.
            shadow = np.zeros(self.n, bool)
            for first, last in changes:
                shadow[max(0, first - 1) : last + lag + 2] = True
            with np.errstate(invalid="ignore"):
                unlike = (values < DISSOLVE_ALIKE) & ~shadow
            for r0, r1 in _runs(unlike, gap=2):
                if r1 - r0 > MAX_RUN_SECONDS * self.per_second:
                    continue
                if r1 >= self.n - 1 and not self.final:
                    found.append(("pending", r0, r1))  # not over yet: decide in a later pass
                    continue
                a, b = self._anchors(r0, r1, lags, changes)
                if not (self._steady(a) and self._steady(b)):
                    continue  # grain or a picture in motion: nothing to blend from
                span = self._blend_span(a, b)
                if span:
                    found.append(("dissolve", *span))
                    changes.append(span)
        return found

    def _steady(self, i: int) -> bool:
        """Whether frame ``i`` is like a neighbour: a picture, not grain."""
        after = self.alike[i + 1] if i + 1 < self.n else np.nan
        return bool(np.nanmax([self.alike[i], after, -1.0]) >= SAME_ALIKE)

    def _anchors(self, r0: int, r1: int, lags: list[int], changes: list[tuple[int, int]]) -> tuple[int, int]:
        """The pictures either side of a run of unlike frames: a long lag before its
        first, a little past its last; neither past another change, nor flat."""
        # Measured in frames, not pictures: where the decoder skipped frames, a
        # picture or two more is a good part of a lag.
        frames, lag_frames = self.frames, self.d._lags
        a = int(np.searchsorted(frames, frames[r0] - lag_frames[-1], side="right")) - 1
        b = int(np.searchsorted(frames, frames[r1] + lag_frames[0] // 2, side="left"))
        a, b = max(0, min(a, r0 - 1)), min(self.n - 1, max(b, r1 + 1))
        for first, last in changes:
            if last < r0:
                a = max(a, last + 1)
            elif first > r1:
                b = min(b, first - 1)
        while a < r0 and self.detail[a] < FLAT:
            a += 1
        while b > r1 and self.detail[b] < FLAT:
            b -= 1
        return a, b

    def _blend_span(self, a: int, b: int) -> tuple[int, int] | None:
        """Fit each frame between ``a`` and ``b`` as x*a + y*b (each shifted to fit);
        the span where the weight moves from a to b, if they are such blends."""
        if not self.alike_pair(a, b) < SAME_ALIKE - 0.2:
            return None
        d, low = self.d, self.low
        ab = d._map(a + low, b + low)
        energy = d._energy.values
        ea, eb = energy[a + low], energy[b + low]
        times, alphas, fits = [], [], []
        for t in range(a + 1, b):
            if self.detail[t] < FLAT:
                continue
            ta, tb = d._map(t + low, a + low), d._map(t + low, b + low)
            p = np.unravel_index(int(np.argmax(ta)), ta.shape)
            q = np.unravel_index(int(np.argmax(tb)), tb.shape)
            cross = ab[(q[0] - p[0]) % ab.shape[0], (q[1] - p[1]) % ab.shape[1]]
            matrix = np.array([[ea, cross], [cross, eb]])
            if abs(np.linalg.det(matrix)) < 1e-9 * ea * eb:
                continue
            x, y = np.linalg.solve(matrix, [ta[p], tb[q]])
            et = energy[t + low]
            times.append(t)
            alphas.append(min(1.0, max(0.0, y / (x + y))) if x + y > 0 else np.nan)
            fits.append((x * ta[p] + y * tb[q]) / et if et > 0 else 0.0)
        alpha, fit = np.array(alphas), np.array(fits)
        mixed = (alpha > 0.15) & (alpha < 0.85)
        if mixed.sum() < 2 or np.median(fit[mixed]) < 0.7:
            return None
        # The weight moves linearly in a dissolve: where the line through the
        # mixed frames leaves 0 and reaches 1 is where the transition begins and ends.
        slope, offset = np.polyfit(np.array(times)[mixed], alpha[mixed], 1)
        if slope <= 0:
            return None
        first = max(a + 1, math.floor(-offset / slope) + 1)
        last = min(b - 1, math.ceil((1 - offset) / slope) - 1)
        return (first, last) if last > first else None


def _runs(mask: np.ndarray, gap: int = 0) -> list[tuple[int, int]]:
    """[first, last] of each run of True in ``mask``, runs less than ``gap`` apart joined."""
    runs: list[list[int]] = []
    for i in np.flatnonzero(mask):
        if runs and i - runs[-1][1] <= gap + 1:
            runs[-1][1] = int(i)
        else:
            runs.append([int(i), int(i)])
    return [(a, b) for a, b in runs]


def _median(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(np.median(values)) if len(values) else 0.0


def _strongest(cuts: list[tuple[str, int, int]], window: _Window) -> list[tuple[str, int, int]]:
    """Of cuts on neighbouring frames, the one where the pictures are least alike."""

    def strength(cut: tuple[str, int, int]) -> float:
        alike = window.alike[cut[1]]
        return 1 - alike if not np.isnan(alike) else min(1.0, window.jump[cut[1]] / (4 * JUMP))

    kept: list[tuple[str, int, int]] = []
    for cut in cuts:
        if kept and window.frames[cut[1]] - window.frames[kept[-1][1]] <= 1:
            if strength(cut) > strength(kept[-1]):
                kept[-1] = cut
            continue
        kept.append(cut)
    return kept


def _without_overlaps(events: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """Drop a gradual transition that overlaps an earlier-found one."""
    kept: list[tuple[str, int, int]] = []
    for event in events:
        if event[0] != "cut" and any(k[0] != "cut" and event[1] <= k[2] and event[2] >= k[1] for k in kept):
            continue
        kept.append(event)
    return kept


class _quiet:
    """Silences numpy's warning about all-NaN slices (those give NaN, as wanted)."""

    def __enter__(self) -> None:
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: object) -> None:
        self._catch.__exit__(*exc)
