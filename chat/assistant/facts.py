"""Reading a video's analysis defensively: it is JSON from storage.

Any field may be missing, of the wrong type or not finite; each reader returns
clean values, or nothing.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from operator import itemgetter

from chat.assistant.base import VideoFacts


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str


def number(value: object) -> float | None:
    if type(value) is float:  # the common case, kept quick for long timelines
        return value if math.isfinite(value) else None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def series(video: VideoFacts, name: str) -> list[tuple[int, float]]:
    """A per-second timeline as (second, value) pairs, without the missing and infinite values."""
    values = video.timelines.get(name) if isinstance(video.timelines, dict) else None
    if not isinstance(values, list | tuple):
        return []
    return [(second, finite) for second, value in enumerate(values) if (finite := number(value)) is not None]


def _spans(items: object) -> list[tuple[float, float]]:
    if not isinstance(items, list | tuple):
        return []
    spans = []
    for item in items:
        if isinstance(item, dict):
            start, end = number(item.get("start")), number(item.get("end"))
            if start is not None and end is not None and end >= start:
                spans.append((start, end))
    return sorted(spans)


def scenes(video: VideoFacts) -> list[tuple[float, float]]:
    return _spans(video.scenes)


@dataclass(frozen=True)
class Change:
    """Where one scene gives way to the next: a hard cut at ``at``, or a gradual
    transition (``kind`` "dissolve" or "fade") from ``start`` to ``end``."""

    at: float
    kind: str = "cut"
    start: float | None = None
    end: float | None = None


TRANSITIONS = ("dissolve", "fade")


def changes(video: VideoFacts) -> list[Change]:
    """The scene changes in order: the start of each scene after the first (those
    :func:`scenes` reads), and how it begins; older analyses say nothing: cuts."""
    items = []
    for item in video.scenes if isinstance(video.scenes, list | tuple) else ():
        if isinstance(item, dict):
            start, end = number(item.get("start")), number(item.get("end"))
            if start is not None and end is not None and end >= start:
                items.append((start, item))
    found = []
    for at, item in sorted(items, key=itemgetter(0))[1:]:
        transition = item.get("transition")
        if isinstance(transition, dict) and transition.get("kind") in TRANSITIONS:
            start, end = number(transition.get("start")), number(transition.get("end"))
            if start is not None and end is not None and start <= at <= end:
                found.append(Change(at, transition["kind"], start, end))
                continue
        found.append(Change(at))
    return found


def silences(video: VideoFacts) -> list[tuple[float, float]]:
    return _spans(video.silences)


def segments(video: VideoFacts) -> list[Segment]:
    segments = []
    for item in video.transcript if isinstance(video.transcript, list | tuple) else ():
        if not isinstance(item, dict):
            continue
        start, end, text = number(item.get("start")), number(item.get("end")), item.get("text")
        if start is not None and isinstance(text, str) and text.strip():
            segments.append(Segment(start, end if end is not None else start, " ".join(text.split())))
    return sorted(segments, key=lambda segment: segment.start)


@dataclass(frozen=True)
class Shown:
    """A line of text on screen from ``start`` to ``end``; ``height`` and ``top`` are fractions of the frame."""

    start: float
    end: float
    text: str
    height: float = 0.0
    top: float = 0.0


def onscreen(video: VideoFacts) -> list[Shown]:
    """The text read on screen, in time order (top to bottom at the same moment)."""
    lines = []
    for item in video.onscreen if isinstance(video.onscreen, list | tuple) else ():
        if not isinstance(item, dict):
            continue
        start, end, text = number(item.get("start")), number(item.get("end")), item.get("text")
        if start is None or not isinstance(text, str) or not text.strip():
            continue
        box = item.get("box")
        top = number(box[1]) if isinstance(box, list | tuple) and len(box) == 4 else None
        lines.append(
            Shown(
                start,
                end if end is not None and end >= start else start,
                " ".join(text.split()),
                max(0.0, number(item.get("height")) or 0.0),
                top or 0.0,
            )
        )
    return sorted(lines, key=lambda line: (line.start, line.top))


TITLE_SECONDS = 15.0
TITLE_SHARE = 0.1


def title(video: VideoFacts) -> Shown | None:
    """The video's title as shown: the largest text that comes on screen early (in its
    first 15 s, or its first tenth when that is longer); of equal sizes the earliest."""
    length = duration(video) or 0.0
    early = [line for line in onscreen(video) if line.start <= max(TITLE_SECONDS, TITLE_SHARE * length)]
    return max(early, key=lambda line: (line.height, -line.start), default=None)


def headings(video: VideoFacts, count: int) -> list[Shown]:
    """Up to ``count`` slide headings: the largest text of each scene, in order (the title left out)."""
    lines = onscreen(video)
    named = title(video)
    spans = scenes(video) or [(0.0, math.inf)]
    found: list[Shown] = []
    for start, end in spans:
        inside = [line for line in lines if start <= line.start < end and line != named]
        if inside:
            heading = max(inside, key=lambda line: (line.height, -line.start))
            if heading.text not in {other.text for other in found}:
                found.append(heading)
    return found[:count]


def duration(video: VideoFacts) -> float | None:
    duration = number(video.metadata.get("duration"))
    if duration is not None and duration > 0:
        return duration
    if spans := scenes(video):
        return spans[-1][1]
    return None


def resolution(video: VideoFacts) -> tuple[int, int] | None:
    """Width and height of the picture as it plays (after any rotation)."""
    width, height = number(video.metadata.get("width")), number(video.metadata.get("height"))
    if not width or not height:
        return None
    rotation = int(number(video.metadata.get("rotation")) or 0)
    return (int(height), int(width)) if rotation % 180 == 90 else (int(width), int(height))


def has_audio(video: VideoFacts) -> bool:
    has_audio = video.metadata.get("has_audio")
    if isinstance(has_audio, bool):
        return has_audio
    return bool(video.metadata.get("audio_codec")) or bool(series(video, "loudness"))


def extremes(series: list[tuple[int, float]], count: int, *, highest: bool) -> list[tuple[int, float]]:
    """Up to ``count`` of the highest (or lowest) seconds, each a distinct moment.

    Moments are a few seconds apart, and after the first only those that stand
    out at least half as far from the typical value are kept (in a flat
    timeline, the runners-up are not "moments" at all).
    """
    if not series:
        return []
    spacing = max(2, min(10, len(series) // 15))
    # A stable sort, so of equal values the earliest second comes first.
    ranked = sorted(series, key=itemgetter(1), reverse=highest)
    typical = statistics.median(value for _, value in series)
    standout = abs(ranked[0][1] - typical) / 2
    chosen = [ranked[0]]
    for second, value in ranked[1:]:
        if len(chosen) == count or not standout or abs(value - typical) < standout:
            break
        if all(abs(second - other) > spacing for other, _ in chosen):
            chosen.append((second, value))
    return chosen
