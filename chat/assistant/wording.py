"""Words for people, and keeping outside text inert.

Formats, sizes, levels and lists are put the way a reply says them. Text that
comes from outside (file names, transcripts, failure reasons) is kept inert:
names go in code spans, other text is escaped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain

from analysis.analyzers import units
from analysis.analyzers.timefmt import format_range
from chat.assistant import facts
from chat.assistant.base import VideoFacts

MAX_QUOTE = 160
"""Characters of a transcript segment quoted."""
SILENT_DBFS = -90.0
"""A second at or below this level is digital silence (the analyzer's floor is -91)."""
NEAR_SILENT_DBFS = -50.0
"""The analyzer's silence threshold: quieter than this counts as silent."""


# --- words for people ---------------------------------------------------------

CONTAINERS = {
    "mp4": "MP4", "mov": "QuickTime MOV", "webm": "WebM", "matroska": "Matroska (MKV)", "avi": "AVI",
    "mpegts": "MPEG-TS", "mpeg": "MPEG-PS", "mpegps": "MPEG-PS", "flv": "FLV", "3gp": "3GP",
}  # fmt: skip
CODECS = {
    "h264": "H.264", "hevc": "H.265 (HEVC)", "vp8": "VP8", "vp9": "VP9", "av1": "AV1", "mpeg4": "MPEG-4",
    "mpeg2video": "MPEG-2", "mpeg1video": "MPEG-1", "prores": "ProRes", "mjpeg": "Motion JPEG",
    "aac": "AAC", "mp3": "MP3", "opus": "Opus", "vorbis": "Vorbis", "ac3": "AC-3", "eac3": "E-AC-3",
    "flac": "FLAC", "alac": "ALAC", "mp2": "MP2",
}  # fmt: skip


def container(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        return ""
    # ffmpeg may report a family ("mov,mp4,m4a,3gp,3g2,mj2"): MP4 is what people call it.
    names = [part.strip().lower() for part in name.split(",")]
    for known in ("mp4", *CONTAINERS):
        if known in names:
            return CONTAINERS[known]
    return plain(names[0].upper())


def codec(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        return ""
    name = name.strip().lower()
    if name.startswith("pcm_"):
        return "uncompressed PCM"
    return CODECS.get(name) or plain(name)


def audio_description(meta: dict) -> str:
    """E.g. "AAC stereo, 48 kHz"; empty when nothing is known."""
    channels = facts.number(meta.get("audio_channels"))
    rate = facts.number(meta.get("audio_sample_rate"))
    kind = " ".join(
        part
        for part in (
            codec(meta.get("audio_codec")),
            units.CHANNEL_NAMES.get(int(channels), f"{int(channels)}-channel") if channels else "",
        )
        if part
    )
    hertz = units.sample_rate(rate) if rate else ""
    return ", ".join(part for part in (kind, hertz) if part)


def byte_size(size: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size:.0f} bytes"


def bit_rate(bits_per_second: float) -> str:
    for unit, scale in (("Mb/s", 1e6), ("kb/s", 1e3)):
        if bits_per_second >= scale:
            return f"{bits_per_second / scale:.1f} {unit}"
    return f"{bits_per_second:.0f} b/s"


def level(dbfs: float) -> str:
    if dbfs <= SILENT_DBFS:
        return "silent"
    if dbfs < NEAR_SILENT_DBFS:
        return f"near silent, {dbfs:.1f} dBFS"
    return f"{dbfs:.1f} dBFS"


def shade(luma: float) -> str:
    for upper, word in ((40, "very dark"), (85, "dark"), (170, "of medium brightness"), (215, "bright")):
        if luma < upper:
            return word
    return "very bright"


def count(n: int, singular: str, plural: str = "", *, verb: bool = False) -> str:
    """(1, "scene") → "1 scene", (4, "scene") → "4 scenes"; with ``verb``, "is 1 video"."""
    noun = singular if n == 1 else plural or f"{singular}s"
    text = f"{n} {noun}"
    return (f"is {text}" if n == 1 else f"are {text}") if verb else text


def others(kind: str, moments: list[str]) -> str:
    """ " Another loud moment: 00:10." or " Other loud moments: 00:10 and 00:20." (empty for none)."""
    if not moments:
        return ""
    if len(moments) == 1:
        return f" Another {kind} moment: {moments[0]}."
    return f" Other {kind} moments: {join(moments)}."


def join(items: Sequence[str], last: str = "and") -> str:
    """["a", "b", "c"] → "a, b and c"."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def cut(items: list[str], keep: int) -> list[str]:
    """The first ``keep`` items, and "N more" for the rest."""
    return items if len(items) <= keep else [*items[:keep], f"{len(items) - keep} more"]


def paragraph(text: str, items: Iterable[str]) -> Iterator[str]:
    """The lines of a paragraph and the list under it (made as they are read)."""
    return chain([text], (f"- {item}" for item in items))


def names(videos: Sequence[VideoFacts]) -> str:
    return join(cut([code(video.name) for video in videos], 5))


def sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


# --- keeping outside text inert ------------------------------------------------

_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]<>#|~!])")


def code(name: str) -> str:
    """A file name as a code span: Markdown inside it is not interpreted, and it is never a link."""
    name = " ".join(name.replace("`", "'").split())
    return f"`{name}`" if name else "this video"


def plain(text: str) -> str:
    """Outside text on one line, with Markdown's punctuation escaped (so it cannot make a link or a list)."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", " ".join(str(text).split()))


def quote(text: str, limit: int = MAX_QUOTE) -> str:
    text = text.strip().strip('"“”')
    if len(text) > limit:
        text = text[: limit - 1].rsplit(" ", 1)[0] + "…"
    return plain(text)


def clip_offer(video: VideoFacts, start: float, end: float) -> str:
    """A link that offers the moment as a clip: the chat page resolves `clip:` to the clip form (chat.markdown)."""
    return f"[clip {format_range(start, end)}](clip:{video.uuid}/{start:.2f}-{end:.2f})"
