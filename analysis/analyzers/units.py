"""Media numbers for people: frame rates, sample rates, channel layouts. Pure Python.

The video page's filters and the offline assistant both describe a video's
picture and sound; they say it the same way through these.
"""

from __future__ import annotations

CHANNEL_NAMES = {1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"}


def frame_rate(fps: float) -> str:
    """30.0 → "30 fps", 29.97002997 → "29.97 fps", 23.976 → "23.976 fps"."""
    return f"{fps:.3f}".rstrip("0").rstrip(".") + " fps"


def sample_rate(hertz: float) -> str:
    """44100 → "44.1 kHz", 48000 → "48 kHz"."""
    return f"{hertz / 1000:.1f}".removesuffix(".0") + " kHz"
