"""What every assistant provider takes and gives: plain data in, text chunks out.

No Django, no Redis, no models here: the chat job builds :class:`VideoFacts`
from a ``Video`` row and its latest ``Analysis``, and saves the chunks a
provider yields as the assistant's message.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class VideoFacts:
    """One video as an assistant sees it: its state and its latest analysis."""

    uuid: str
    name: str
    """The original file name (display only)."""
    status: str
    """``"queued"``, ``"processing"``, ``"done"`` or ``"failed"``."""
    stage: str
    """What the analysis is doing, e.g. ``"Finding scenes"``."""
    progress: int
    failure_reason: str
    metadata: dict
    """``{}`` until analysed; keys: container, duration, video_codec, width, height,
    frame_rate, bit_rate, rotation, audio_codec, audio_channels, audio_sample_rate,
    file_size, has_audio."""
    scenes: list[dict]
    """``[{"index", "start", "end", "thumbnail"}]``, times in seconds."""
    timelines: dict
    """``{"brightness": [0..255 per second], "motion": [0..255 per second],
    "loudness": [dBFS per second]}``."""
    silences: list[dict]
    """``[{"start", "end"}]``, times in seconds."""
    transcript: Sequence[dict] = ()
    """Speech segments ``[{"start", "end", "text"}]``; empty when there is none."""
    onscreen: Sequence[dict] = ()
    """Text read on screen ``[{"start", "end", "text", "box", "height"}]``: ``box`` is
    ``[x0, y0, x1, y1]`` and ``height`` the line's height, as fractions of the frame."""
    extra: dict = field(default_factory=dict)
    """Analyzer extras without a field of their own."""


@dataclass(frozen=True)
class Turn:
    """One message of the conversation."""

    role: str
    """``"user"`` or ``"assistant"``."""
    text: str


@runtime_checkable
class Provider(Protocol):
    """An assistant: the conversation so far in, the reply out, a piece at a time."""

    name: str
    """Stored with each reply, e.g. ``"local"``."""
    model: str
    """Stored with each reply, e.g. ``"videochat-offline-1"``."""

    def stream_reply(self, *, history: list[Turn], videos: list[VideoFacts]) -> Iterator[str]:
        """The reply to the newest message of ``history`` (the user's), in Markdown chunks.

        ``videos`` are the videos attached anywhere in the conversation.
        """
        ...

    def stream_analysis_summary(self, *, video: VideoFacts) -> Iterator[str]:
        """The unprompted message posted when a video the user asked about is finished (or failed)."""
        ...


class ProviderError(Exception):
    """A reply that could not be produced. The message is safe to show the user."""
