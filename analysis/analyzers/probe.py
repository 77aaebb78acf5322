"""Read a media file's metadata with PyAV (headers only, plus one frame)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.stream

from analysis.analyzers.errors import EMPTY, NO_VIDEO, STILL_IMAGE, UNREADABLE, AnalysisError

# Demuxers that read single pictures; a video container never probes as these.
_IMAGE_DEMUXERS = ("image2", "image2pipe")


@dataclass(frozen=True)
class Probe:
    """What the file's headers say, plus what the analysis needs to plan."""

    metadata: dict[str, Any]
    frame_rate: float
    """Frames per second, always positive (a guess when the file gives none)."""
    video_end: float | None
    """Where the file says the video stream ends (s), if it says."""
    video_end_stated: bool
    """Whether ``video_end`` comes from the video stream itself, not the whole file."""
    display_size: tuple[int, int]
    """Width and height of the upright picture, after rotation and pixel aspect."""


def probe(path: Path) -> Probe:
    """Read the metadata of ``path``; raise :class:`AnalysisError` if it is no video.

    Decodes the first video frame, both to learn the rotation (which PyAV
    exposes per frame) and to make sure the video stream can be decoded at all.
    """
    file_size = path.stat().st_size
    if file_size == 0:
        raise AnalysisError(EMPTY)
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise AnalysisError(UNREADABLE, detail=str(exc)) from exc

    with container:
        format_name = container.format.name
        if format_name in _IMAGE_DEMUXERS or format_name.endswith("_pipe"):
            raise AnalysisError(STILL_IMAGE, detail=f"probed as {format_name}")
        video = next(
            (s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic),
            None,
        )
        if video is None:
            raise AnalysisError(NO_VIDEO)
        audio = container.streams.audio[0] if container.streams.audio else None
        rotation = _first_frame_rotation(container, video)

        vctx = video.codec_context
        width, height = vctx.width, vctx.height
        frame_rate = _frame_rate(video)
        duration = _seconds(container.duration, Fraction(1, av.time_base))
        video_duration = _seconds(video.duration, video.time_base)
        video_start = _seconds(video.start_time, video.time_base) or 0.0
        container_start = _seconds(container.start_time, Fraction(1, av.time_base)) or 0.0
        video_end = video_start - container_start + video_duration if video_duration is not None else duration
        if duration is None:
            duration = video_end

        metadata: dict[str, Any] = {
            "container": _container_name(container),
            "duration": round(duration, 3) if duration is not None else None,
            "video_codec": vctx.name,
            "width": width,
            "height": height,
            "frame_rate": round(frame_rate, 3),
            "bit_rate": container.bit_rate or None,
            "rotation": rotation,
            "audio_codec": audio.codec_context.name if audio else None,
            "audio_channels": audio.codec_context.layout.nb_channels if audio else None,
            "audio_sample_rate": audio.codec_context.sample_rate if audio else None,
            "file_size": file_size,
            "has_audio": audio is not None,
        }

    sar = video.sample_aspect_ratio
    display_width = round(width * sar) if sar and sar > 0 else width
    display_size = (height, display_width) if rotation in (90, 270) else (display_width, height)
    return Probe(
        metadata=metadata,
        frame_rate=frame_rate,
        video_end=video_end,
        video_end_stated=video_duration is not None,
        display_size=display_size,
    )


def _first_frame_rotation(container: av.container.InputContainer, stream: Any) -> int:
    """Clockwise rotation (0/90/180/270) a player applies to show the video upright.

    PyAV reports the display matrix angle counter-clockwise; phones and most
    tools speak of the clockwise ``rotate`` tag, so that is what we return.
    """
    try:
        for frame in container.decode(stream):
            return (-round(frame.rotation / 90) * 90) % 360
    except av.FFmpegError as exc:
        raise AnalysisError(UNREADABLE, detail=str(exc)) from exc
    raise AnalysisError(UNREADABLE, detail="the video stream has no decodable frame")


def _frame_rate(stream: Any) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and 0 < rate <= 1000:
            return float(rate)
    return 25.0


def _seconds(value: int | None, time_base: Fraction | None) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def _container_name(container: av.container.InputContainer) -> str:
    """A short container name: ffmpeg's demuxer names, narrowed down where they group."""
    names = container.format.name.split(",")
    if "mp4" in names:
        brand = container.metadata.get("major_brand", "").strip()
        return "mov" if brand == "qt" else "mp4"
    if "webm" in names:
        codecs = {s.codec_context.name for s in container.streams if s.type in ("video", "audio")}
        return "webm" if codecs <= {"vp8", "vp9", "av1", "opus", "vorbis"} else "matroska"
    return names[0]
