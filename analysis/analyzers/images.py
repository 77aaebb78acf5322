"""Scene thumbnails, the storyboard sprite and the poster, from sampled frames."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from analysis.analyzers.decode import Sample

THUMBNAIL_QUALITY = 80
POSTER_QUALITY = 85
STORYBOARD_QUALITY = 75
STORYBOARD_COLUMNS = 10


def fit(size: tuple[int, int], longest: int) -> tuple[int, int]:
    """Scale ``size`` down (never up) so its longer side is at most ``longest``.

    Both sides come out even, which ffmpeg's YUV scalers and a 2x reduction
    both like.
    """
    width, height = size
    scale = min(1.0, longest / max(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def save_jpeg(image: np.ndarray, path: Path, quality: int) -> None:
    Image.fromarray(image).save(path, "JPEG", quality=quality)


class ThumbnailPicker:
    """Chooses each scene's thumbnail among the sampled frames, as scenes close.

    Samples must be added in time order, and every sample before a scene's
    end must have been added before the scene is closed. Only the samples of
    scenes not yet closed are held, and at most ``max_held`` of them: a long
    scene is thinned evenly, keeping one sample in two, then one in four...
    """

    def __init__(self, out_dir: Path, *, max_held: int = 48) -> None:
        self.out_dir = out_dir
        self.max_held = max_held
        self._held: list[Sample] = []
        self._stride = 1
        self._ordinal = 0
        self._previous: Sample | None = None  # the last sample of the closed scenes

    def add(self, sample: Sample) -> None:
        if self._ordinal % self._stride == 0:
            self._held.append(sample)
            if len(self._held) > self.max_held:
                self._held = self._held[::2]
                self._stride *= 2
        self._ordinal += 1

    def close_scene(self, number: int, start: float, end: float) -> str | None:
        """Write the thumbnail of scene ``number`` spanning ``[start, end)``; return its name.

        The sample nearest the middle of the scene; for a scene shorter than
        the sampling step, the sample nearest to it. ``None`` if there has
        been no sample at all (ffmpeg produced no picture).
        """
        middle = (start + end) / 2
        inside = [s for s in self._held if start <= s.time < end]
        pool = inside or self._held + ([self._previous] if self._previous else [])
        name = None
        if pool:
            chosen = min(pool, key=lambda s: abs(s.time - middle))
            name = f"scene-{number:03d}.jpg"
            save_jpeg(chosen.image, self.out_dir / name, THUMBNAIL_QUALITY)
        before = [s for s in self._held if s.time < end]
        if before:
            self._previous = before[-1]
        self._held = [s for s in self._held if s.time >= end]
        self._stride, self._ordinal = 1, len(self._held)
        return name


class Storyboard:
    """A sprite grid of small frames taken every ``interval`` seconds, for scrubbing."""

    def __init__(self, interval: float, sample_fps: int) -> None:
        self.interval = interval
        self._every = round(interval * sample_fps)
        self._sample_fps = sample_fps
        self._tiles: list[np.ndarray] = []

    def add(self, sample: Sample) -> None:
        if round(sample.time * self._sample_fps) % self._every == 0:
            tile = Image.fromarray(sample.image).reduce(2)
            self._tiles.append(np.asarray(tile))

    @property
    def count(self) -> int:
        return len(self._tiles)

    def save(self, path: Path) -> dict[str, int | float | str]:
        """Write the sprite to ``path``; return its geometry. Needs at least one tile."""
        count = len(self._tiles)
        tile_height, tile_width = self._tiles[0].shape[:2]
        columns = min(STORYBOARD_COLUMNS, count)
        rows = math.ceil(count / columns)
        sprite = np.zeros((rows * tile_height, columns * tile_width, 3), np.uint8)
        for i, tile in enumerate(self._tiles):
            row, column = divmod(i, columns)
            sprite[
                row * tile_height : (row + 1) * tile_height,
                column * tile_width : (column + 1) * tile_width,
            ] = tile
        save_jpeg(sprite, path, STORYBOARD_QUALITY)
        return {
            "image": path.name,
            "columns": columns,
            "rows": rows,
            "tile_width": tile_width,
            "tile_height": tile_height,
            "interval": self.interval,
            "count": count,
        }


def storyboard_interval(duration: float, max_tiles: int = 100) -> float:
    """The shortest of a few round intervals that keeps the storyboard to ``max_tiles``."""
    for interval in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600):
        if duration / interval <= max_tiles:
            return float(interval)
    return float(math.ceil(duration / max_tiles / 600) * 600)


def pick_poster(candidates: list[Sample]) -> Sample | None:
    """The earliest candidate that is neither nearly black, nearly white nor flat.

    Falls back to the candidate with the most contrast.
    """
    if not candidates:
        return None
    for candidate in candidates:
        mean, spread = _luma_stats(candidate.image)
        if 24 <= mean <= 232 and spread >= 12:
            return candidate
    return max(candidates, key=lambda c: _luma_stats(c.image)[1])


def _luma_stats(image: np.ndarray) -> tuple[float, float]:
    pixels = image[::4, ::4].reshape(-1, 3).astype(np.float32)
    luma = pixels @ np.array([0.299, 0.587, 0.114], np.float32)
    return float(luma.mean()), float(luma.std())
