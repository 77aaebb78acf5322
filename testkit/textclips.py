"""Clips with words on screen, every rendered line known: for the on-screen text tests and bench.

Frames are drawn with Pillow (DejaVu fonts when the machine has them, else
Pillow's own scalable font) over still colours or over moving footage from
:mod:`testkit.footage` (real photographs filmed by a panning camera), and piped
to the bundled ffmpeg as H.264 (libx264, yuv420p, B-frames) at 1280x720, the
way editors export. Each maker returns a :class:`TextClip` whose ``lines`` are
the truth: every line drawn, its text, the first and last moment it is on
screen, and its ink box.

- :func:`slides_clip`: three slides, dark and light, several fonts, sizes, colours;
- :func:`captions_clip`: burnt-in captions on a band, changing every 3 s, over moving footage;
- :func:`title_clip`: a large title card, then a slide of smaller text;
- :func:`credits_clip`: credits scrolling up;
- :func:`overlay_clip`: a caption-less line of text held over a panning photograph;
- :func:`no_text_clip`: moving footage and nothing written at all;
- :func:`lecture_clip`: the 3-minute lecture of the benchmark: slides changing every
  10-20 s, a moving inset of a person in a corner, captions changing every 2-4 s.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from testkit import footage

SIZE = (1280, 720)
FPS = 25
RECIPE_VERSION = 2
"""Bump when rendering changes, so cached clips are made again."""

_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
SANS, SANS_BOLD, SERIF, SERIF_BOLD, MONO = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSansMono.ttf",
)


@dataclass(frozen=True)
class Line:
    """One rendered line: on screen from ``start`` to ``end`` (s); ``box`` its ink
    (x0, y0, x1, y1) as fractions of the frame where it first appears; ``kind``
    says what it is (slide, caption, title, credit, overlay)."""

    text: str
    start: float
    end: float
    box: tuple[float, float, float, float]
    kind: str

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


@dataclass(frozen=True)
class TextClip:
    path: Path
    duration: float
    lines: tuple[Line, ...]
    cuts: tuple[float, ...] = ()

    def lines_of(self, *kinds: str) -> list[Line]:
        return [line for line in self.lines if line.kind in kinds]


@dataclass(frozen=True)
class _Text:
    """A line to draw: ``at`` its top-left in pixels at ``start``, moving ``scroll`` px/s upwards."""

    text: str
    start: float
    end: float
    at: tuple[int, int]
    font: str
    size: int
    colour: tuple[int, int, int]
    kind: str
    stroke: int = 0
    band: bool = False
    scroll: float = 0.0


# --- fonts and sprites ---------------------------------------------------------------


@cache
def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    for directory in _FONT_DIRS:
        if (directory / name).is_file():
            return ImageFont.truetype(str(directory / name), size)
    return ImageFont.load_default(size=size)


@dataclass(frozen=True)
class _Sprite:
    rgb: np.ndarray  # (h, w, 3) float32
    alpha: np.ndarray  # (h, w, 1) float32 0..1
    ink: tuple[int, int, int, int]  # the text's ink box inside the sprite


@cache
def _sprite(item: _Text) -> _Sprite:
    face = font(item.font, item.size)
    pad = 14 if item.band else 2 + item.stroke
    x0, y0, x1, y1 = face.getbbox(item.text, stroke_width=item.stroke)
    width, height = x1 - x0 + 2 * pad, y1 - y0 + 2 * pad
    image = Image.new("RGBA", (width, height), (0, 0, 0, 190 if item.band else 0))
    draw = ImageDraw.Draw(image)
    dark = (0, 0, 0) if sum(item.colour) > 380 else (255, 255, 255)
    draw.text(
        (pad - x0, pad - y0),
        item.text,
        font=face,
        fill=(*item.colour, 255),
        stroke_width=item.stroke,
        stroke_fill=dark,
    )
    pixels = np.asarray(image, np.float32)
    ink = (pad, pad, width - pad, height - pad)
    return _Sprite(pixels[..., :3], pixels[..., 3:] / 255.0, ink)


def _position(item: _Text, t: float) -> tuple[int, int]:
    """Top-left of the item's sprite at time ``t``."""
    sprite = _sprite(item)
    x, y = item.at
    return x - sprite.ink[0], round(y - sprite.ink[1] - item.scroll * (t - item.start))


def _paste(frame: np.ndarray, sprite: _Sprite, x: int, y: int) -> None:
    h, w = sprite.alpha.shape[:2]
    fh, fw = frame.shape[:2]
    ax0, ay0, ax1, ay1 = max(0, x), max(0, y), min(fw, x + w), min(fh, y + h)
    if ax0 >= ax1 or ay0 >= ay1:
        return
    sx, sy = ax0 - x, ay0 - y
    alpha = sprite.alpha[sy : sy + ay1 - ay0, sx : sx + ax1 - ax0]
    rgb = sprite.rgb[sy : sy + ay1 - ay0, sx : sx + ax1 - ax0]
    region = frame[ay0:ay1, ax0:ax1]
    region += (rgb - region) * alpha


def _truth(item: _Text) -> Line:
    sprite = _sprite(item)
    x, y = item.at
    w, h = sprite.ink[2] - sprite.ink[0], sprite.ink[3] - sprite.ink[1]
    box = (x / SIZE[0], y / SIZE[1], (x + w) / SIZE[0], (y + h) / SIZE[1])
    end = item.end
    if item.scroll:  # a scrolling line is seen until its bottom leaves the top
        end = min(end, item.start + (y + h) / item.scroll)
    return Line(item.text, item.start, round(end, 3), tuple(round(v, 4) for v in box), item.kind)


# --- backgrounds -----------------------------------------------------------------


def _solid(colour: tuple[int, int, int], shade: float = 0.12) -> np.ndarray:
    """A still slide background: ``colour`` with a gentle vertical gradient."""
    ramp = np.linspace(1.0 - shade / 2, 1.0 + shade / 2, SIZE[1], dtype=np.float32)[:, None, None]
    return np.clip(np.array(colour, np.float32) * ramp * np.ones((1, SIZE[0], 1), np.float32), 0, 255)


def _moving(shots: Sequence[footage.Shot], seed: int = 0) -> Iterator[np.ndarray]:
    """Frames of real-looking footage (testkit.footage), scaled up to :data:`SIZE`."""
    recipe = footage.Footage(
        name=f"textclip-bg-{seed}", size=SIZE, fps=str(FPS), shots=tuple(shots), seed=seed
    )
    for small in footage.render(recipe):
        yield np.asarray(Image.fromarray(small).resize(SIZE, Image.Resampling.BILINEAR), np.float32)


class _Inset:
    """A person in a corner: a window onto the astronaut photo that drifts and bobs."""

    def __init__(self, box: tuple[int, int, int, int]) -> None:
        self.box = box
        with Image.open(footage.photos_dir() / "astronaut.png") as image:
            self.photo = image.convert("RGB").resize((360, 360))

    def draw(self, frame: np.ndarray, t: float) -> None:
        x0, y0, x1, y1 = self.box
        w, h = x1 - x0, y1 - y0
        # The "person" moves: the view sways over the photo and leans in and out.
        ox = 360 - w - 1
        cx = (ox / 2) * (1 + math.sin(t * 1.3))
        cy = 20 + 15 * math.sin(t * 2.1)
        view = self.photo.crop((round(cx), round(cy), round(cx) + w, round(cy) + h))
        frame[y0:y1, x0:x1] = np.asarray(view, np.float32)


# --- rendering -----------------------------------------------------------------


def _encode(frames: Iterator[np.ndarray], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        *("-hide_banner", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"),
        *("-s", f"{SIZE[0]}x{SIZE[1]}", "-r", str(FPS), "-i", "-"),
        *("-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"),
        *("-x264-params", "keyint=125:bframes=3", "-movflags", "+faststart", "-f", "mp4", str(path)),
    ]
    footage.encode(command, (np.clip(frame + 0.5, 0, 255).astype(np.uint8) for frame in frames), path.name)


def _render(
    path: Path,
    duration: float,
    items: Sequence[_Text],
    background: Callable[[float], np.ndarray] | Iterator[np.ndarray],
    *,
    cuts: Sequence[float] = (),
    inset: _Inset | None = None,
) -> TextClip:
    frames = round(duration * FPS)

    def pictures() -> Iterator[np.ndarray]:
        moving = background if isinstance(background, Iterator) else None
        for number in range(frames):
            t = number / FPS
            frame = next(moving).copy() if moving is not None else background(t).copy()
            if inset is not None:
                inset.draw(frame, t)
            for item in items:
                if item.start <= t < item.end:
                    _paste(frame, _sprite(item), *_position(item, t))
            yield frame

    _encode(pictures(), path)
    lines = tuple(
        sorted((_truth(item) for item in items), key=lambda line: (line.start, line.box[1], line.box[0]))
    )
    return TextClip(path=path, duration=frames / FPS, lines=lines, cuts=tuple(cuts))


def _slide_items(
    start: float,
    end: float,
    title: str,
    bullets: Sequence[str],
    *,
    title_font: str,
    body_font: str,
    title_size: int,
    body_size: int,
    colour: tuple[int, int, int],
    accent: tuple[int, int, int],
) -> list[_Text]:
    items = [_Text(title, start, end, (90, 70), title_font, title_size, accent, "slide")]
    y = 70 + round(title_size * 1.9)
    for bullet in bullets:
        items.append(_Text(bullet, start, end, (120, y), body_font, body_size, colour, "slide"))
        y += round(body_size * 1.8)
    return items


def _slides_background(slides: Sequence[tuple[float, float, np.ndarray]]) -> Callable[[float], np.ndarray]:
    def background(t: float) -> np.ndarray:
        for start, end, picture in slides:
            if start <= t < end:
                return picture
        return slides[-1][2]

    return background


# --- the clips -----------------------------------------------------------------

DARK = (24, 32, 58)
LIGHT = (238, 236, 228)


def slides_clip(path: Path) -> TextClip:
    """12 s: three slides of 4 s (dark, light, dark), hard cuts between them."""
    specs = [
        (
            DARK,
            "Quarterly budget review",
            ["Revenue grew 17% in March", "Costs fell in every region"],
            SANS_BOLD,
            SANS,
            60,
            38,
            (230, 230, 230),
            (255, 204, 64),
        ),
        (
            LIGHT,
            "Hiring plan for 2027",
            ["Twelve engineers by June", "Two new offices: Lisbon and Oslo"],
            SERIF_BOLD,
            SERIF,
            54,
            36,
            (30, 30, 30),
            (160, 30, 40),
        ),
        (
            DARK,
            "Questions and answers",
            ["Send yours to the team channel"],
            SANS_BOLD,
            MONO,
            64,
            34,
            (140, 220, 255),
            (255, 255, 255),
        ),
    ]
    items, pictures = [], []
    for index, (bg, title, bullets, tf, bf, ts, bs, colour, accent) in enumerate(specs):
        start, end = index * 4.0, index * 4.0 + 4.0
        items += _slide_items(
            start,
            end,
            title,
            bullets,
            title_font=tf,
            body_font=bf,
            title_size=ts,
            body_size=bs,
            colour=colour,
            accent=accent,
        )
        pictures.append((start, end, _solid(bg)))
    return _render(path, 12.0, items, _slides_background(pictures), cuts=(4.0, 8.0))


CAPTIONS = (
    "Welcome back to the workshop",
    "Today we look at river deltas",
    "Sediment builds up over centuries",
    "and the coastline slowly moves",
)


def _caption(text: str, start: float, end: float, size: int = 34) -> _Text:
    width = font(SANS, size).getbbox(text)[2]
    return _Text(
        text, start, end, ((SIZE[0] - width) // 2, 630), SANS, size, (255, 255, 255), "caption", band=True
    )


def captions_clip(path: Path) -> TextClip:
    """12 s of a slowly panning photograph with a burnt-in caption every 3 s."""
    items = [_caption(text, 3.0 * i, 3.0 * i + 3.0) for i, text in enumerate(CAPTIONS)]
    shots = [footage.Shot("coffee.png", 12 * FPS, width=0.7, pan=(0.01, 0.0))]
    return _render(path, 12.0, items, _moving(shots, seed=1))


def title_clip(path: Path) -> TextClip:
    """8 s: a title card (0-3 s, large, on black), then a slide with smaller text."""
    items = [
        _Text("The Northern Lights", 0.0, 3.0, (190, 300), SERIF_BOLD, 92, (250, 250, 250), "title"),
        _Text("A film by Ana Lima", 0.0, 3.0, (470, 450), SERIF, 36, (200, 200, 200), "title"),
        *_slide_items(
            3.0,
            8.0,
            "Where auroras form",
            ["High above the polar regions"],
            title_font=SANS_BOLD,
            body_font=SANS,
            title_size=48,
            body_size=34,
            colour=(30, 30, 30),
            accent=(20, 80, 160),
        ),
    ]
    pictures = [(0.0, 3.0, _solid((6, 6, 8), 0.0)), (3.0, 8.0, _solid(LIGHT))]
    return _render(path, 8.0, items, _slides_background(pictures), cuts=(3.0,))


CREDITS = (
    "Directed by Ana Lima",
    "Camera Jonas Berg",
    "Music Clara Oduya",
    "Editing Tom Reyes",
    "Thanks for watching",
)


def credits_clip(path: Path) -> TextClip:
    """10 s: credits scrolling up on black at 60 px/s."""
    items = []
    for i, text in enumerate(CREDITS):
        width = font(SANS, 40).getbbox(text)[2]
        items.append(
            _Text(
                text,
                0.0,
                10.0,
                ((SIZE[0] - width) // 2, 260 + 110 * i),
                SANS,
                40,
                (235, 235, 235),
                "credit",
                scroll=60.0,
            )
        )
    return _render(path, 10.0, items, lambda t: _solid((0, 0, 0), 0.0))


def overlay_clip(path: Path) -> TextClip:
    """10 s of a photograph panned across, with a line of text held over it from 2 s to 8 s."""
    items = [
        _Text("Harbour at dawn", 2.0, 8.0, (100, 120), SANS_BOLD, 64, (255, 255, 255), "overlay", stroke=3)
    ]
    shots = [footage.Shot("chelsea.png", 10 * FPS, width=0.6, centre=(0.3, 0.5), pan=(0.06, 0.0))]
    return _render(path, 10.0, items, _moving(shots, seed=2))


NO_TEXT = footage.Footage(
    name="no-text",
    size=SIZE,
    fps=str(FPS),
    shots=(
        footage.Shot("coffee.png", 100, width=0.5, pan=(0.05, 0.01), shake=0.004),
        footage.Shot("chelsea.png", 100, width=0.6, zoom=0.06, shake=0.003),
        footage.Shot("grass.png", 100, width=0.5, pan=(-0.04, 0.02), gain=(1.0, 1.25)),
    ),
    joins=(footage.CUT, footage.Join("dissolve", 12)),
    passers=((150, 12),),
)


def no_text_clip(path: Path) -> TextClip:
    """About 11.5 s of real-looking moving footage (testkit.footage) with no text at all."""
    truth = footage.make(NO_TEXT, path)
    return TextClip(
        path=path, duration=truth.duration, lines=(), cuts=tuple(truth.time(f) for f in truth.cuts)
    )


# --- the lecture -----------------------------------------------------------------

_TOPICS = (
    "Introduction to signal processing",
    "Sampling and aliasing",
    "The discrete Fourier transform",
    "Windows and spectral leakage",
    "Filters in the time domain",
    "Designing a low pass filter",
    "Convolution by multiplication",
    "Noise and how to measure it",
    "Compression of audio",
    "Images as two dimensional signals",
    "Edges and gradients",
    "Summary and further reading",
    "Questions from last week",
    "Exercises for Friday",
)
_WORDS = (
    "signal",
    "sample",
    "rate",
    "frequency",
    "spectrum",
    "filter",
    "window",
    "energy",
    "phase",
    "noise",
    "model",
    "average",
    "error",
    "measure",
    "image",
    "pixel",
    "value",
    "sound",
    "wave",
    "pulse",
    "period",
    "delay",
    "input",
    "output",
    "linear",
    "system",
    "response",
    "kernel",
    "matrix",
    "vector",
    "basis",
    "series",
    "power",
    "decibel",
    "sensor",
    "camera",
    "frame",
    "motion",
    "data",
    "result",
)


def _sentence(rng: np.random.Generator, low: int, high: int) -> str:
    words = list(rng.choice(_WORDS, int(rng.integers(low, high + 1))))
    if rng.random() < 0.4:
        words.insert(int(rng.integers(0, len(words))), str(int(rng.integers(2, 999))))
    text = " ".join(words)
    return text[0].upper() + text[1:]


def lecture_items(
    duration: float = 180.0, seed: int = 15
) -> tuple[list[_Text], list[tuple[float, float, np.ndarray]]]:
    rng = np.random.default_rng(seed)
    items: list[_Text] = []
    pictures = []
    fonts = ((SANS_BOLD, SANS), (SERIF_BOLD, SERIF), (SANS_BOLD, MONO))
    t, index = 0.0, 0
    while t < duration:
        end = min(duration, t + float(rng.integers(10, 21)))
        dark = index % 2 == 0
        title_font, body_font = fonts[index % len(fonts)]
        bullets = [_sentence(rng, 3, 6) for _ in range(int(rng.integers(2, 5)))]
        items += _slide_items(
            t,
            end,
            _TOPICS[index % len(_TOPICS)],
            bullets,
            title_font=title_font,
            body_font=body_font,
            title_size=int(rng.integers(40, 52)),
            body_size=int(rng.integers(28, 36)),
            colour=(225, 225, 225) if dark else (35, 35, 35),
            accent=(255, 200, 80) if dark else (30, 70, 150),
        )
        pictures.append((t, end, _solid(DARK if dark else LIGHT)))
        t, index = end, index + 1
    t = 0.5
    while t < duration - 1:
        end = min(duration, t + float(rng.integers(4, 9)) / 2)
        items.append(_caption(_sentence(rng, 4, 8), t, end, size=30))
        t = end
    return items, pictures


def lecture_clip(path: Path, duration: float = 180.0) -> TextClip:
    """The benchmark's lecture: slides every 10-20 s, a swaying inset of a person, captions every 2-4 s."""
    items, pictures = lecture_items(duration)
    cuts = tuple(start for start, _, _ in pictures[1:])
    # Bottom right, above the captions: clear of the slide's text, as a presenter's camera is placed.
    inset = _Inset((1000, 360, 1240, 600))
    return _render(path, duration, items, _slides_background(pictures), cuts=cuts, inset=inset)


def cached(maker: Callable[[Path], TextClip], directory: Path, name: str) -> TextClip:
    """``maker``'s clip in ``directory``, made once per recipe; its truth is stored beside it."""
    digest = hashlib.sha256(f"{RECIPE_VERSION}:{name}:{footage.RECIPE_VERSION}".encode()).hexdigest()[:12]
    path = directory / f"{name}-{digest}.mp4"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        data = json.loads(meta.read_text())
        lines = tuple(Line(**{**row, "box": tuple(row["box"])}) for row in data["lines"])
        return TextClip(path=path, duration=data["duration"], lines=lines, cuts=tuple(data["cuts"]))
    directory.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.part.mp4")  # two test processes may make it at once
    clip = maker(partial)
    partial.replace(path)
    clip = dataclasses.replace(clip, path=path)
    rows = [dataclasses.asdict(line) for line in clip.lines]
    meta.write_text(json.dumps({"duration": clip.duration, "cuts": clip.cuts, "lines": rows}, indent=1))
    return clip
