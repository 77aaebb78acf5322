"""Formatting of video numbers for people: times, rates, channels."""

from __future__ import annotations

import math

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

from analysis.analyzers import units
from analysis.analyzers.timefmt import format_seconds, format_time

register = template.Library()


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@register.filter
def mmss(seconds) -> str:
    """Seconds as a clock reading: 75.2 → "01:15", 3723 → "1:02:03" (empty for no number)."""
    number = _number(seconds)
    return "" if number is None else format_time(number)


@register.filter
def bitrate(bits_per_second) -> str:
    """1_234_567 → "1.2 Mb/s"."""
    number = _number(bits_per_second)
    if number is None or number <= 0:
        return ""
    for unit, scale in (("Mb/s", 1e6), ("kb/s", 1e3)):
        if number >= scale:
            return f"{number / scale:.1f} {unit}"
    return f"{number:.0f} b/s"


@register.filter
def frame_rate(fps) -> str:
    """29.97002997 → "29.97 fps", 25.0 → "25 fps"."""
    number = _number(fps)
    return "" if number is None or number <= 0 else units.frame_rate(number)


@register.filter
def sample_rate(hertz) -> str:
    """44100 → "44.1 kHz"."""
    number = _number(hertz)
    return "" if number is None or number <= 0 else units.sample_rate(number)


@register.filter
def channels(count) -> str:
    """1 → "mono", 2 → "stereo", 6 → "5.1", else "N channels"."""
    number = _number(count)
    if number is None or number <= 0:
        return ""
    return units.CHANNEL_NAMES.get(int(number), f"{int(number)} channels")


@register.filter
def seconds(value) -> str:
    """A duration in seconds for a person: 0.4 → "0.4 s", 75.25 → "75.3 s"."""
    number = _number(value)
    return "" if number is None else format_seconds(number)


@register.filter
def ago(moment) -> str:
    """How long ago, for a person: "just now", "5 minutes ago", "2 days, 3 hours ago"."""
    if moment is None:
        return ""
    if (timezone.now() - moment).total_seconds() < 60:
        return "just now"
    return f"{timesince(moment)} ago"
