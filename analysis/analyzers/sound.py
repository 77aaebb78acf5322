"""Loudness over time and silent stretches, from mono float PCM."""

from __future__ import annotations

import math

import numpy as np

SILENCE_FLOOR = -91.0
"""dBFS reported for digital silence (a 16-bit file's quietest step is about -90)."""

SILENCE_THRESHOLD = -50.0
"""Below this many dBFS a 50 ms stretch counts as silent."""

SILENCE_MIN_LENGTH = 1.0
"""Seconds a silent stretch must last to be reported."""


class LoudnessMeter:
    """Mean-square energy of mono PCM in short windows, fed as it is decoded.

    Loudness is plain RMS in dBFS (a full-scale square wave is 0 dBFS, a
    full-scale sine about -3); no frequency weighting.
    """

    def __init__(self, sample_rate: int, window: float = 0.05) -> None:
        self.sample_rate = sample_rate
        self.window_samples = round(sample_rate * window)
        self.window = self.window_samples / sample_rate
        self._energy: list[float] = []
        self._pending = np.zeros(0, np.float32)
        self.samples = 0

    def feed(self, pcm: bytes) -> None:
        """Add little-endian float32 samples (any amount)."""
        samples = np.frombuffer(pcm, "<f4")
        self.samples += len(samples)
        if len(self._pending):
            samples = np.concatenate([self._pending, samples])
        whole = len(samples) // self.window_samples * self.window_samples
        if whole:
            blocks = samples[:whole].astype(np.float64).reshape(-1, self.window_samples)
            self._energy.extend(np.mean(blocks * blocks, axis=1).tolist())
        self._pending = samples[whole:].copy()

    def finish(self) -> None:
        """Count the samples left over after the last whole window."""
        if len(self._pending):
            tail = self._pending.astype(np.float64)
            self._energy.append(float(np.mean(tail * tail)))
            self._pending = np.zeros(0, np.float32)

    @property
    def duration(self) -> float:
        return self.samples / self.sample_rate

    def per_second(self, seconds: int) -> list[float]:
        """RMS loudness of each second ``[i, i+1)`` in dBFS, a list ``seconds`` long.

        A second only partly covered by audio is measured over the part there
        is; seconds after the audio ends read as silence.
        """
        energy = np.asarray(self._energy)
        second = (np.arange(len(energy)) * self.window + 1e-9).astype(np.int64)
        inside = second < seconds
        sums = np.bincount(second[inside], energy[inside], minlength=seconds)
        counts = np.bincount(second[inside], minlength=seconds)
        means = np.divide(sums, counts, out=np.zeros(seconds), where=counts > 0)
        return [_dbfs(value) for value in means]

    def silences(
        self, threshold: float = SILENCE_THRESHOLD, min_length: float = SILENCE_MIN_LENGTH
    ) -> list[dict[str, float]]:
        """Stretches quieter than ``threshold`` dBFS lasting ``min_length`` seconds or more."""
        if not self._energy:
            return []
        quiet = np.asarray(self._energy) < 10 ** (threshold / 10)
        # Starts and ends of runs of quiet windows.
        edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]])))
        stretches = []
        for first, stop in zip(edges[::2], edges[1::2], strict=True):
            start, end = first * self.window, min(stop * self.window, self.duration)
            if end - start >= min_length - 1e-9:
                stretches.append({"start": round(float(start), 3), "end": round(float(end), 3)})
        return stretches


def _dbfs(mean_square: float) -> float:
    if mean_square <= 0:
        return SILENCE_FLOOR
    return round(max(SILENCE_FLOOR, 10 * math.log10(mean_square)), 2)
