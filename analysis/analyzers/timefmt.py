"""Times for people: ``MM:SS``, or ``H:MM:SS`` past an hour. Pure Python.

The one way the project writes a moment: pages, charts, the assistants and
the prompts sent to Gemini all use it, and the chat page turns exactly these
forms into links that seek the player (see ``chat.markdown.TIME``).
"""

from __future__ import annotations

import math
import re

# Stored times are rounded to the millisecond; without this, a value like
# 11.9999999 (float arithmetic on 12.0) would be cited a second early.
_TOLERANCE = 1e-6

EN_DASH = "\N{EN DASH}"
_CLOCK = re.compile(r"^\s*(?:(\d+):)?(\d{1,3}):(\d{1,2}(?:\.\d+)?)\s*$")


def format_time(seconds: float) -> str:
    """A moment as a clock reading, rounded down: 0 → "00:00", 75.4 → "01:15", 3723 → "1:02:03"."""
    whole = int(seconds + _TOLERANCE) if math.isfinite(seconds) and seconds > 0 else 0
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def format_range(start: float, end: float) -> str:
    """A stretch of time: (40.0, 44.2) → "00:40\N{EN DASH}00:44"."""
    return f"{format_time(start)}{EN_DASH}{format_time(end)}"


def format_seconds(seconds: float) -> str:
    """A length of time in seconds: 4.04 → "4.0 s", 75.25 → "75.3 s", 612 → "612 s"."""
    return f"{seconds:.1f} s" if seconds < 100 else f"{seconds:.0f} s"


def parse_clock(text: str) -> float | None:
    """A clock reading in seconds: "01:15" → 75.0, "1:02:03" → 3723.0, "00:04.5" → 4.5; None if not one."""
    match = _CLOCK.match(text)
    if match is None:
        return None
    hours, minutes, secs = match.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + float(secs)
