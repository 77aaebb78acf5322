"""Short clips that look like real footage, with every cut and transition known.

Shots are views into real photographs, the ones scikit-image ships inside its
wheel (``skimage/data``: an astronaut, a cat, coffee, a rocket, textures of
grass and gravel, ...), filmed by a camera that pans, zooms, shakes and whips
across the picture with motion blur, under light that changes, through a
noisy sensor. Between shots come hard cuts (some between shots graded to the
same brightness and colour, some in the first or the last second, some after
shots only 4-6 frames long), cross-dissolves and fades through black; within
shots, things that are *not* cuts: photo flashes, whip pans, lighting ramps,
fades from and to black, and something dark passing close in front of the
lens. The frames are rendered with numpy and Pillow and piped to the bundled
ffmpeg, which encodes them as H.264 the way cameras and editors do (B-frames,
with and without a pyramid, long and fixed GOPs, with and without scene-cut
keyframes), with a quiet ambience track.

Nothing is downloaded: :func:`make` renders a :class:`Footage` recipe to a
file and returns its :class:`Truth`. :func:`cached` does the same once per
recipe in a directory. :data:`CORPUS` is the benchmark's set of clips;
:func:`smaller` shrinks a recipe for tests.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import math
import re
import subprocess
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image

RECIPE_VERSION = 3
"""Bump when rendering changes, so cached clips are made again."""


@dataclass(frozen=True)
class Shot:
    """One shot: a camera looking at a photograph for ``frames`` frames.

    Positions are fractions of the photo (``centre``) and of its width
    (``width``, the view's width); ``pan`` moves the view by that many view
    widths a second, ``zoom`` narrows it by that fraction a second (negative
    widens it), ``shake`` jitters it (handheld, in view widths). ``gain`` are
    exposure keyframes spread evenly over the shot (a lighting change); a grey
    photo is coloured by ``tint``; ``look`` grades the shot's colour channels to
    these means and standard deviations (two shots with the same look have the
    same brightness and colour). ``whip`` is a fast pan with motion blur:
    (first frame, frames, view widths across, view widths down).
    """

    photo: str
    frames: int
    centre: tuple[float, float] = (0.5, 0.5)
    width: float = 0.6
    pan: tuple[float, float] = (0.0, 0.0)
    zoom: float = 0.0
    shake: float = 0.0
    noise: float = 2.5
    gain: tuple[float, ...] = (1.0,)
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)
    look: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None
    whip: tuple[int, int, float, float] | None = None


@dataclass(frozen=True)
class Join:
    """How a shot gives way to the next: ``cut``, ``dissolve`` (``frames`` blended)
    or ``fade`` (``frames`` fading out, ``hold`` black frames, ``frames`` fading in).
    ``grain`` is the sensor noise in the held black (a camera's black, where an
    editor's is clean)."""

    kind: str = "cut"
    frames: int = 0
    hold: int = 0
    grain: float = 0.0


CUT = Join()


@dataclass(frozen=True)
class Footage:
    """A clip's recipe. ``flashes`` and ``passers`` are (first frame, frames):
    photo flashes, and something dark crossing close in front of the lens.
    ``fade_in``/``fade_out`` fade the clip from/to black over that many frames.
    ``x264`` are the encoder's parameters beside ``preset`` and ``crf``."""

    name: str
    size: tuple[int, int]
    fps: str
    shots: tuple[Shot, ...]
    joins: tuple[Join, ...] = ()
    flashes: tuple[tuple[int, int], ...] = ()
    passers: tuple[tuple[int, int], ...] = ()
    fade_in: int = 0
    fade_out: int = 0
    preset: str = "medium"
    crf: int = 23
    x264: str = ""
    seed: int = 0

    def __post_init__(self) -> None:
        joins = self.joins or (CUT,) * (len(self.shots) - 1)
        if len(joins) != len(self.shots) - 1:
            raise ValueError(f"{self.name}: {len(self.shots)} shots need {len(self.shots) - 1} joins")
        object.__setattr__(self, "joins", tuple(joins))

    @property
    def rate(self) -> Fraction:
        return Fraction(self.fps)


@dataclass(frozen=True)
class Truth:
    """What is in a clip: its frame count and rate, the first frame of every shot
    after a hard cut, and every gradual transition as (kind, first, last frame)."""

    path: Path
    name: str
    size: tuple[int, int]
    fps: Fraction
    frames: int
    cuts: tuple[int, ...]
    gradual: tuple[tuple[str, int, int], ...] = field(default=())

    @property
    def duration(self) -> float:
        return float(self.frames / self.fps)

    def time(self, frame: int) -> float:
        return float(frame / self.fps)


# --- the corpus -----------------------------------------------------------------

# Graded looks: shots sharing one have the same brightness and colour spread.
_WARM = ((128.0, 112.0, 96.0), (52.0, 48.0, 46.0))
_GREY = ((118.0, 118.0, 112.0), (34.0, 34.0, 33.0))
_DUSK = ((92.0, 96.0, 120.0), (40.0, 40.0, 44.0))

CAMERA_GOP = "keyint=48:min-keyint=48:scenecut=0:bframes=2:b-adapt=0:b-pyramid=none"
"""A camera's encoder: a fixed GOP and pattern (IBBP...), no keyframes at cuts, B-frames not referenced."""

CORPUS: tuple[Footage, ...] = (
    Footage(
        # Like the street clip of the report: five plain cuts, one 0.3 s before the end,
        # one between two shots of about the same brightness and colour.
        name="street-720p30",
        size=(1280, 720),
        fps="30000/1001",
        shots=(
            Shot("rocket.jpg", 52, centre=(0.45, 0.55), width=0.55, pan=(0.06, 0.0), shake=0.002),
            Shot("coffee.png", 38, centre=(0.5, 0.5), width=0.7, zoom=0.12, shake=0.002),
            Shot("astronaut.png", 45, centre=(0.4, 0.35), width=0.5, pan=(-0.05, 0.02), look=_WARM),
            Shot("astronaut.png", 40, centre=(0.62, 0.72), width=0.45, pan=(0.04, 0.0), look=_WARM),
            Shot("chelsea.png", 36, centre=(0.5, 0.5), width=0.7, shake=0.004, gain=(1.0, 1.2)),
            Shot("motorcycle_left.png", 9, centre=(0.5, 0.5), width=0.7, pan=(0.1, 0.0)),
        ),
    ),
    Footage(
        # Cuts between textures and crops graded alike, on a camera's fixed GOP at 24 fps.
        name="similar-1080p24",
        size=(1920, 1080),
        fps="24",
        shots=(
            Shot("grass.png", 22, width=0.5, pan=(0.05, 0.0), tint=(0.9, 1.0, 0.8), look=_GREY),
            Shot("gravel.png", 20, width=0.5, pan=(0.0, 0.04), tint=(0.9, 1.0, 0.8), look=_GREY),
            Shot("brick.png", 18, width=0.6, zoom=0.08, tint=(0.9, 1.0, 0.8), look=_GREY),
            Shot("coffee.png", 20, width=0.6, centre=(0.45, 0.5), pan=(0.04, 0.0), look=_WARM),
            Shot("chelsea.png", 22, width=0.7, shake=0.003, look=_WARM),
            Shot("astronaut.png", 18, width=0.4, centre=(0.3, 0.6), look=_WARM),
        ),
        preset="fast",
        x264=CAMERA_GOP,
    ),
    Footage(
        # A montage at 60 fps: shots of 4, 5 and 6 frames, a cut in the first second, one in the last.
        name="montage-720p60",
        size=(1280, 720),
        fps="60",
        shots=(
            Shot("hubble_deep_field.jpg", 25, width=0.5, pan=(0.05, 0.0)),
            Shot("rocket.jpg", 40, width=0.6, zoom=0.1, shake=0.002),
            Shot("coins.png", 5, width=0.7, tint=(1.0, 0.9, 0.7)),
            Shot("coffee.png", 4, width=0.6),
            Shot("astronaut.png", 6, width=0.5, centre=(0.4, 0.4)),
            Shot("retina.jpg", 5, width=0.6),
            Shot("motorcycle_right.png", 60, width=0.6, pan=(-0.06, 0.0), shake=0.002),
            Shot("chelsea.png", 25, width=0.6),
        ),
    ),
    Footage(
        # Photo flashes (one a frame before a cut), and a real cut between them.
        name="flashes-854x480p30",
        size=(854, 480),
        fps="30",
        shots=(
            Shot("astronaut.png", 62, width=0.55, pan=(0.03, 0.0), shake=0.003),
            Shot("chelsea.png", 58, width=0.65, shake=0.003, gain=(1.0, 0.9)),
        ),
        flashes=((20, 2), (45, 1), (60, 1), (90, 3)),
    ),
    Footage(
        # Handheld with two whip pans across the same scene, then a cut.
        name="whip-1080p30",
        size=(1920, 1080),
        fps="30",
        shots=(
            Shot(
                "retina.jpg",
                70,
                centre=(0.3, 0.45),
                width=0.35,
                shake=0.004,
                whip=(25, 8, 1.2, 0.1),
            ),
            Shot("hubble_deep_field.jpg", 50, centre=(0.35, 0.5), width=0.4, whip=(22, 5, 1.0, 0.0)),
        ),
        preset="fast",
    ),
    Footage(
        # Someone walks past close to the lens, twice, hiding the whole picture for a moment.
        name="passers-by-720p25",
        size=(1280, 720),
        fps="25",
        shots=(
            Shot("motorcycle_left.png", 55, width=0.7, pan=(0.02, 0.0), shake=0.002),
            Shot("coffee.png", 45, width=0.6, zoom=0.05),
        ),
        passers=((15, 12), (70, 10)),
    ),
    Footage(
        # Fades: in from black, through black between two shots, a lighting ramp, a cut.
        name="fades-1000x562p25",
        size=(1000, 562),
        fps="25",
        shots=(
            Shot("chelsea.png", 40, width=0.6, pan=(0.02, 0.0)),
            Shot("rocket.jpg", 45, width=0.5, gain=(1.0, 1.0, 0.45, 0.45), shake=0.002),
            Shot("astronaut.png", 30, width=0.5),
            Shot("coffee.png", 20, width=0.6, zoom=0.05),
        ),
        joins=(Join("fade", 12, hold=3), CUT, Join("fade", 8)),
        fade_in=15,
    ),
    Footage(
        # Cross-dissolves of half a second and of a whole second, and a hard cut, at 29.97 fps.
        name="dissolves-1080p30",
        size=(1920, 1080),
        fps="30000/1001",
        shots=(
            Shot("rocket.jpg", 55, width=0.55, zoom=0.08),
            Shot("astronaut.png", 60, width=0.5, pan=(0.04, 0.0), look=_WARM),
            Shot("coffee.png", 45, width=0.6, look=_WARM),
            Shot("hubble_deep_field.jpg", 35, width=0.45, pan=(0.0, 0.05)),
        ),
        joins=(Join("dissolve", 15), Join("dissolve", 30), CUT),
        preset="fast",
    ),
    Footage(
        # The report's clip with no cut: one grey picture fading black -> white -> black.
        name="grey-fade-640x360p30",
        size=(640, 360),
        fps="30",
        shots=(Shot("grey", 120, gain=(0.0, 1.0, 2.2, 1.0, 0.0), noise=2.0),),
    ),
    Footage(
        # A phone: no B-frames, a 1 s GOP, shaky, exposure hunting; cuts at 0.4 s and 0.5 s before the end.
        name="phone-1080p30",
        size=(1920, 1080),
        fps="30",
        shots=(
            Shot("camera.png", 12, width=0.6, shake=0.005, tint=(1.0, 0.95, 0.85)),
            Shot("ihc.png", 50, width=0.6, shake=0.006, gain=(1.0, 1.25, 1.0)),
            Shot("color.png", 43, width=0.6, shake=0.005, pan=(0.03, 0.0)),
            Shot("moon.png", 15, width=0.6, shake=0.004, tint=(0.95, 0.95, 1.0)),
        ),
        preset="veryfast",
        x264="bframes=0:keyint=30:min-keyint=30:scenecut=0",
        crf=21,
    ),
    Footage(
        # Night, handheld: dark, grainy shots graded alike, cut between; exposure hunting.
        name="night-720p24",
        size=(1280, 720),
        fps="24000/1001",
        shots=(
            Shot("motorcycle_left.png", 30, width=0.6, shake=0.006, gain=(0.45, 0.5), noise=6.0, look=_DUSK),
            Shot("chelsea.png", 26, width=0.6, shake=0.006, gain=(0.45, 0.4, 0.5), noise=6.0, look=_DUSK),
            Shot(
                "coffee.png", 30, width=0.6, shake=0.006, pan=(0.05, 0.0), gain=(0.5,), noise=6.0, look=_DUSK
            ),
        ),
        x264="keyint=240:bframes=3:b-pyramid=normal:scenecut=0",
        crf=26,
    ),
    Footage(
        # Cut in the middle of a whip pan, into a shot whipping too; a dissolve between two pans.
        name="pans-1280x720p30",
        size=(1280, 720),
        fps="30",
        shots=(
            Shot("retina.jpg", 30, centre=(0.3, 0.5), width=0.35, whip=(24, 10, 1.2, 0.0)),
            Shot("hubble_deep_field.jpg", 40, centre=(0.3, 0.5), width=0.4, whip=(-5, 10, 1.0, 0.0)),
            Shot("rocket.jpg", 45, width=0.5, pan=(-0.15, 0.0), look=_WARM),
        ),
        joins=(CUT, Join("dissolve", 18)),
        preset="fast",
    ),
    Footage(
        # Odd size at 50 fps, dusk grades alike, a dissolve and a fade to black at the end.
        name="dusk-1366x768p50",
        size=(1366, 768),
        fps="50",
        shots=(
            Shot("motorcycle_right.png", 45, width=0.6, pan=(0.04, 0.0), look=_DUSK),
            Shot("rocket.jpg", 40, width=0.6, look=_DUSK, shake=0.002),
            Shot("ihc.png", 55, width=0.5, look=_DUSK, zoom=-0.06),
        ),
        joins=(CUT, Join("dissolve", 20)),
        fade_out=20,
        x264="keyint=250:bframes=3:b-pyramid=none",
    ),
)


def smaller(footage: Footage, size: tuple[int, int] = (480, 270)) -> Footage:
    """The same recipe at a smaller size (faster to make, for tests)."""
    return dataclasses.replace(footage, name=f"{footage.name}@{size[0]}x{size[1]}", size=size)


def by_name(name: str) -> Footage:
    return next(footage for footage in CORPUS if footage.name == name)


# --- making clips -----------------------------------------------------------------


def cached(footage: Footage, directory: Path) -> Truth:
    """Make ``footage`` in ``directory`` unless a clip of the same recipe is there already."""
    directory.mkdir(parents=True, exist_ok=True)
    recipe = _recipe(footage)
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]
    path = directory / f"{_file_name(footage.name)}-{digest}.mp4"
    truth = truth_of(footage, path)
    if not path.exists():
        stale = re.compile(re.escape(_file_name(footage.name)) + r"-[0-9a-f]{12}\.mp4")
        for old in directory.iterdir():  # the same clip made from an older recipe
            if stale.fullmatch(old.name):
                old.unlink()
        partial = path.with_suffix(".part.mp4")
        make(footage, partial)
        partial.replace(path)
    return truth


def make(footage: Footage, path: Path) -> Truth:
    """Render and encode ``footage`` to ``path`` (MP4); return what is in it."""
    truth = truth_of(footage, path)
    width, height = footage.size
    render_width, render_height = render_size(footage.size)
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        *("-hide_banner", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"),
        *("-s", f"{render_width}x{render_height}", "-r", footage.fps, "-i", "-"),
        *("-f", "lavfi", "-i", "anoisesrc=color=pink:amplitude=0.02:sample_rate=48000:seed=1"),
        *("-vf", f"scale={width}:{height}:flags=bicubic"),
        *("-map", "0:v", "-map", "1:a", "-shortest", "-c:v", "libx264", "-preset", footage.preset),
        *("-crf", str(footage.crf), "-pix_fmt", "yuv420p"),
        *(["-x264-params", footage.x264] if footage.x264 else []),
        *("-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart", "-f", "mp4", str(path)),
    ]
    encode(command, render(footage), footage.name)
    return truth


def encode(command: Sequence[str], frames: Iterator[np.ndarray], name: str) -> None:
    """Run the ffmpeg ``command``, writing each frame (uint8) to its standard input."""
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdin is not None
    try:
        for frame in frames:
            process.stdin.write(frame.tobytes())
        process.stdin.close()
    except BrokenPipeError:
        pass  # ffmpeg stopped early: its error output says why
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.wait() != 0:
        raise RuntimeError(f"ffmpeg failed making {name}: {stderr.strip()}")


def truth_of(footage: Footage, path: Path) -> Truth:
    """The cuts and gradual transitions ``footage`` puts in its clip (frame numbers)."""
    cuts, gradual = [], []
    spans = _spans(footage)
    for (_, end), join, (next_start, _) in zip(spans, footage.joins, spans[1:], strict=False):
        if join.kind == "cut":
            cuts.append(next_start)
        elif join.kind == "dissolve":
            gradual.append(("dissolve", next_start, end - 1))
        else:
            gradual.append(("fade", end - join.frames, next_start + join.frames - 1))
    return Truth(
        path=path,
        name=footage.name,
        size=footage.size,
        fps=footage.rate,
        frames=spans[-1][1],
        cuts=tuple(cuts),
        gradual=tuple(gradual),
    )


def _spans(footage: Footage) -> list[tuple[int, int]]:
    """Each shot's [first, end) frames in the clip (dissolving shots overlap)."""
    spans, start = [], 0
    for index, shot in enumerate(footage.shots):
        if index:
            join = footage.joins[index - 1]
            if join.kind == "dissolve":
                start -= join.frames
            elif join.kind == "fade":
                start += join.hold
        spans.append((start, start + shot.frames))
        start += shot.frames
    return spans


def render_size(size: tuple[int, int]) -> tuple[int, int]:
    """Frames are rendered at half size and scaled up by the encoder's ffmpeg: the
    photos have no finer detail, and it keeps making the corpus to a few minutes."""
    return max(2, size[0] // 2), max(2, size[1] // 2)


def render(footage: Footage) -> Iterator[np.ndarray]:
    """The clip's frames, in order, at :func:`render_size`: (height, width, 3) uint8 RGB."""
    width, height = render_size(footage.size)
    rng = np.random.default_rng(zlib.crc32(footage.name.split("@")[0].encode()) + footage.seed)
    cameras = [_Camera(shot, footage, rng) for shot in footage.shots]
    spans = _spans(footage)
    total = spans[-1][1]
    noise = _NoiseBank((width, height), rng)
    for number in range(total):
        frame = np.zeros((height, width, 3), np.float32)
        level, sigma = 0.0, 0.0
        for index, ((start, end), camera) in enumerate(zip(spans, cameras, strict=True)):
            if start <= number < end:
                k = number - start
                weight = _weight(footage, spans, index, number) * camera.gain(k)
                frame += camera.picture(k) * np.float32(weight)
                level, sigma = level + weight, max(sigma, camera.shot.noise)
        # Sensor noise, scaled with the picture when an editor fades it.
        frame += noise.next(sigma * min(1.0, level) if level else _hold_grain(footage, spans, number))
        frame = _overlays(footage, frame, number, total, rng)
        yield np.clip(frame + 0.5, 0, 255).astype(np.uint8)


def _hold_grain(footage: Footage, spans: list[tuple[int, int]], number: int) -> float:
    """The grain of the black that frame ``number`` is held in, if it is in one."""
    for (_, end), join, (next_start, _) in zip(spans, footage.joins, spans[1:], strict=False):
        if end <= number < next_start:
            return join.grain
    return 0.0


def _weight(footage: Footage, spans: list[tuple[int, int]], index: int, number: int) -> float:
    """How much of shot ``index`` frame ``number`` shows: blends and fades at its ends."""
    start, end = spans[index]
    weight = 1.0
    if index > 0:
        join = footage.joins[index - 1]
        k = number - start
        if join.kind in ("dissolve", "fade") and k < join.frames:
            weight *= (k + 1) / (join.frames + 1)
    if index < len(spans) - 1:
        join = footage.joins[index]
        k = end - 1 - number
        if join.kind == "dissolve" and k < join.frames:
            weight *= 1 - (join.frames - k) / (join.frames + 1)
        elif join.kind == "fade" and k < join.frames:
            weight *= (k + 1) / (join.frames + 1)
    return weight


def _overlays(
    footage: Footage, frame: np.ndarray, number: int, total: int, rng: np.random.Generator
) -> np.ndarray:
    """Fades of the whole clip, flashes and passers-by over a composed frame."""
    if number < footage.fade_in:
        frame *= (number + 1) / (footage.fade_in + 1)
    if total - number <= footage.fade_out:
        frame *= (total - number - 1) / footage.fade_out
    for first, frames in footage.flashes:
        if first <= number < first + frames + 1:
            # A flash: overexposed for its frames, the last one already fading.
            strength = 0.85 if number < first + frames else 0.3
            frame = frame * (1 + 1.5 * strength) + 255 * strength * 0.6
    for first, frames in footage.passers:
        if first <= number < first + frames:
            frame = _passer(frame, (number - first + 0.5) / frames, rng)
    return frame


def _passer(frame: np.ndarray, progress: float, rng: np.random.Generator) -> np.ndarray:
    """Someone out of focus crossing close to the lens, left to right, dark and soft-edged."""
    height, width = frame.shape[:2]
    # The figure is about two frames wide: it enters at progress 0, has left at 1,
    # and hides the whole picture for the middle sixth of its way.
    centre = -1.1 + 3.2 * progress
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    half = 1.0 + 0.06 * np.cos(3.0 * y)  # a shoulder's curve
    alpha = np.clip((half - np.abs(x - centre)) / 0.18, 0.0, 1.0)
    shade = 28 + 18 * y + 6 * np.sin(9 * x + 4 * y)  # a dark jacket, a little texture
    colour = np.stack([shade * 1.1, shade, shade * 0.9], axis=2)
    colour += rng.normal(0, 1.5, (1, 1, 3)).astype(np.float32)
    alpha = alpha[:, :, None]
    return frame * (1 - alpha) + colour * alpha


class _NoiseBank:
    """Sensor noise: two fields of gaussian noise (grain shared by the channels, and
    a little per channel), taken at random offsets each frame."""

    def __init__(self, size: tuple[int, int], rng: np.random.Generator) -> None:
        width, height = size
        self.rng = rng
        luma = rng.standard_normal((2, height, width, 1), dtype=np.float32) * np.float32(0.8)
        chroma = rng.standard_normal((2, height, width, 3), dtype=np.float32) * np.float32(0.6)
        self.fields = luma + chroma

    def next(self, sigma: float) -> np.ndarray | float:
        if sigma <= 0:
            return 0.0
        field = self.fields[self.rng.integers(len(self.fields))]
        dy, dx = self.rng.integers(field.shape[0]), self.rng.integers(field.shape[1])
        return np.roll(field, (dy, dx), axis=(0, 1)) * np.float32(sigma)


class _Camera:
    """Renders one shot: the view's path over the (graded) photo, and the exposure."""

    def __init__(self, shot: Shot, footage: Footage, rng: np.random.Generator) -> None:
        self.shot = shot
        self.render_size = render_size(footage.size)
        self.fps = float(footage.rate)
        self.photo, self.pad = _photo(
            shot.photo, shot.tint
        )  # pad: reflected margins, for views past the edge
        self.phases = rng.uniform(0, 2 * math.pi, 9)
        if shot.look is not None:
            self.photo = self._graded(shot.look)

    def picture(self, k: int) -> np.ndarray:
        """Frame ``k`` of the shot, float32 RGB at full exposure."""
        shot = self.shot
        if shot.whip and shot.whip[0] <= k < shot.whip[0] + shot.whip[1]:
            # Motion blur: the shutter is open while the camera swings.
            return sum(self._view(k + (i + 0.5) / 5 - 0.5) for i in range(5)) / np.float32(5)
        return self._view(k)

    def gain(self, k: int) -> float:
        keys = self.shot.gain
        if len(keys) == 1:
            return keys[0]
        position = k / max(1, self.shot.frames - 1) * (len(keys) - 1)
        i = min(int(position), len(keys) - 2)
        return keys[i] + (keys[i + 1] - keys[i]) * (position - i)

    def _view(self, k: float) -> np.ndarray:
        shot, (width, height) = self.shot, self.render_size
        t = k / self.fps
        photo_w, photo_h = self.photo.width - 2 * self.pad[0], self.photo.height - 2 * self.pad[1]
        view = shot.width * photo_w * math.exp(-shot.zoom * t)
        cx = shot.centre[0] * photo_w + shot.pan[0] * shot.width * photo_w * t
        cy = shot.centre[1] * photo_h + shot.pan[1] * shot.width * photo_w * t
        if shot.whip:
            first, frames, across, down = shot.whip
            done = _smoothstep((k - first) / frames)
            cx += across * view * done
            cy += down * view * done
        angle = 0.0
        if shot.shake:
            p = self.phases
            cx += shot.shake * view * (math.sin(7.1 * t + p[0]) + 0.6 * math.sin(13.3 * t + p[1]))
            cy += shot.shake * view * (math.sin(5.3 * t + p[2]) + 0.6 * math.sin(17.9 * t + p[3]))
            angle = 0.3 * shot.shake * (math.sin(3.7 * t + p[4]) + math.sin(11.0 * t + p[5]))
        scale = view / width
        cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
        # Output pixel (x, y) -> photo pixel, about the view's centre.
        x0, y0 = width / 2, height / 2
        cx, cy = cx + self.pad[0], cy + self.pad[1]
        matrix = (cos, -sin, cx - cos * x0 + sin * y0, sin, cos, cy - sin * x0 - cos * y0)
        image = self.photo.transform(
            (width, height), Image.Transform.AFFINE, matrix, resample=Image.Resampling.BILINEAR
        )
        return np.asarray(image, np.float32)

    def _graded(self, look: tuple[tuple[float, ...], tuple[float, ...]]) -> Image.Image:
        """The photo graded per channel so that the shot's first view has the look's means and spreads."""
        first = self._view(0).reshape(-1, 3)
        means, spreads = first.mean(axis=0), first.std(axis=0) + 1e-3
        scale = np.array(look[1], np.float32) / spreads
        offset = np.array(look[0], np.float32) - means * scale
        pixels = np.asarray(self.photo, np.float32) * scale + offset
        return Image.fromarray(np.clip(pixels + 0.5, 0, 255).astype(np.uint8))


def _smoothstep(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return x * x * (3 - 2 * x)


@cache
def _photo(name: str, tint: tuple[float, float, float]) -> tuple[Image.Image, tuple[int, int]]:
    """A photo from scikit-image's bundled data as RGB, grey ones tinted, edges reflected outwards."""
    if name == "grey":
        pixels = np.full((360, 640, 3), 128.0, np.float32)
    else:
        with Image.open(photos_dir() / name) as image:
            grey = image.mode in ("L", "I", "I;16", "1")
            pixels = np.asarray(image.convert("RGB"), np.float32)
        if grey:
            pixels = pixels * np.array(tint, np.float32)
    height, width = pixels.shape[:2]
    pad = ((height // 3, height // 3), (width // 3, width // 3), (0, 0))
    padded = np.pad(pixels, pad, mode="reflect")
    return Image.fromarray(np.clip(padded, 0, 255).astype(np.uint8)), (width // 3, height // 3)


def photos_dir() -> Path:
    """Where scikit-image keeps its bundled photographs (found without importing it)."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("scikit-image is not installed (it is in requirements-dev.txt)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _recipe(footage: Footage) -> dict:
    return {"version": RECIPE_VERSION, **json.loads(json.dumps(dataclasses.asdict(footage)))}


def _file_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name)


def write_truth(truths: Sequence[Truth], path: Path) -> None:
    """The truths as JSON, for a person looking at the clips."""
    rows = [
        {"name": t.name, "fps": str(t.fps), "frames": t.frames, "cuts": t.cuts, "gradual": t.gradual}
        for t in truths
    ]
    path.write_text(json.dumps(rows, indent=1))
