"""Timeline charts as plain geometry for server-rendered inline SVG.

The template draws each chart in a plot box of WIDTH x HEIGHT user units that
stretches to the page's width (``preserveAspectRatio="none"``), so every
x coordinate here is "time as a fraction of the video, times WIDTH". Axis
labels are placed in percent of the chart's width, so text never stretches.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from analysis.analyzers.timefmt import format_time

WIDTH = 1000
HEIGHT = 100
MAX_POINTS = 600
TICK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)
MAX_TICKS = 8
LOUDNESS_FLOOR = -60.0


@dataclass(frozen=True)
class Tick:
    x: float  # plot units
    percent: float  # of the chart's width, for labels
    label: str
    anchor: str  # where the label sits against its mark: start, middle or end
    seconds: float = 0.0  # the moment it marks: its label is a link that plays from there


@dataclass(frozen=True)
class Shade:
    x: float
    width: float


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    low_label: str
    high_label: str
    duration: float
    line: str  # polyline points
    area: str  # polygon points: the line closed along the bottom
    shades: list[Shade] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT


def _finite(value, default: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def _buckets(values: Sequence[float], size: int, *, peak: bool) -> list[tuple[float, float]]:
    """(time, value) pairs, at most MAX_POINTS: each the mean (or peak) of its span of seconds."""
    count = len(values)
    if count <= size:
        return [(i + 0.5, v) for i, v in enumerate(values)]
    pairs = []
    for b in range(size):
        first, stop = b * count // size, (b + 1) * count // size
        chunk = values[first:stop]
        value = max(chunk) if peak else sum(chunk) / len(chunk)
        pairs.append(((first + stop) / 2, value))
    return pairs


def ticks(duration: float) -> list[Tick]:
    """Round time marks along the x axis, at most MAX_TICKS of them (0 included)."""
    if duration <= 0:
        return []
    step = next((s for s in TICK_STEPS if duration / s <= MAX_TICKS), None)
    if step is None:
        step = math.ceil(duration / MAX_TICKS / 3600) * 3600
    marks = []
    t = 0
    while t <= duration + 1e-9:
        percent = t / duration * 100
        anchor = "start" if t == 0 else "end" if percent > 97 else "middle"
        marks.append(
            Tick(
                x=round(t / duration * WIDTH, 2),
                percent=round(percent, 3),
                label=format_time(t),
                anchor=anchor,
                seconds=float(t),
            )
        )
        t += step
    return marks


def shades(silences: Sequence[dict], duration: float) -> list[Shade]:
    """Rectangles (in plot units) for the silent stretches."""
    if duration <= 0:
        return []
    result = []
    for silence in silences or []:
        if not isinstance(silence, dict):
            continue
        start = max(0.0, _finite(silence.get("start"), 0.0))
        end = min(duration, _finite(silence.get("end"), 0.0))
        if end > start:
            x = start / duration * WIDTH
            result.append(Shade(x=round(x, 2), width=round(max(0.5, (end - start) / duration * WIDTH), 2)))
    return result


def timeline_chart(
    key: str,
    title: str,
    values: Sequence,
    *,
    duration: float | None,
    low: float,
    high: float,
    low_label: str,
    high_label: str,
    silences: Sequence[dict] = (),
    peak: bool = False,
) -> Chart | None:
    """One per-second series as a chart, or None when there is nothing to draw."""
    if not values:
        return None
    numbers = [min(high, max(low, _finite(v, low))) for v in values]
    span = _finite(duration, 0.0) or float(len(numbers))
    span = max(span, 1e-3)
    pairs = _buckets(numbers, MAX_POINTS, peak=peak)
    # Hold the first and last values out to the edges so the area spans the whole video.
    pairs = [(0.0, pairs[0][1]), *pairs, (span, pairs[-1][1])]
    scale = (high - low) or 1.0

    def point(t: float, v: float) -> str:
        x = min(span, max(0.0, t)) / span * WIDTH
        y = HEIGHT - (v - low) / scale * HEIGHT
        return f"{x:.1f},{y:.1f}"

    line = " ".join(point(t, v) for t, v in pairs)
    return Chart(
        key=key,
        title=title,
        low_label=low_label,
        high_label=high_label,
        duration=span,
        line=line,
        area=f"0,{HEIGHT} {line} {WIDTH},{HEIGHT}",
        shades=shades(silences, span),
        ticks=ticks(span),
    )


def _nice_ceiling(value: float) -> float:
    """The next of 1, 2, 2.5, 5 x 10^n at or above value (1 for nothing)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * magnitude >= value - 1e-12:
            return factor * magnitude
    return 10 * magnitude


def timeline_charts(*, timelines: dict, silences: Sequence[dict], duration: float | None) -> list[Chart]:
    """The brightness, motion and loudness charts of one analysis (those it has)."""
    timelines = timelines or {}
    motion = [_finite(v, 0.0) for v in timelines.get("motion") or []]
    motion_high = _nice_ceiling(max(motion, default=0.0))
    charts = [
        timeline_chart(
            "brightness",
            "Brightness",
            timelines.get("brightness") or [],
            duration=duration,
            low=0,
            high=255,
            low_label="dark",
            high_label="bright",
            silences=silences,
        ),
        timeline_chart(
            "motion",
            "Motion",
            motion,
            duration=duration,
            low=0,
            high=motion_high,
            low_label="still",
            high_label="moving",
            silences=silences,
            peak=True,
        ),
        timeline_chart(
            "loudness",
            "Loudness",
            timelines.get("loudness") or [],
            duration=duration,
            low=LOUDNESS_FLOOR,
            high=0,
            low_label=f"{LOUDNESS_FLOOR:g} dBFS",
            high_label="0 dBFS",
            silences=silences,
        ),
    ]
    return [chart for chart in charts if chart is not None]
