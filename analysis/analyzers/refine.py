"""Placing a cut exactly where the first pass decoded around it.

The local analysis may decode a video without its B-frames (``-skip_frame
bidir``): they are about half the frames of a typical H.264 stream and the
cheapest half to leave out. The scene detector then sees a gap where they
were, and a cut found just after a gap lies somewhere in it. A gap of one or
two frames is placed in its middle, within a frame; a longer one is decoded
here: from the keyframe before it, every other B-frame still skipped, and only
the frames of the gap and the two either side are looked at. The cut is where
the picture changes most among them; where no step stands out, it was motion
seen a few frames apart (a whip pan), and no cut.

x264 (with its default scene-cut detection) starts each new shot with an I- or
P-frame, so most cuts need nothing here; a camera's fixed group of pictures
or an encoder told not to look for cuts puts them in gaps, and pays a short
decode per cut.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from analysis.analyzers.decode import SMALL_SIZE
from analysis.analyzers.scenes import Boundary

SPIKE = 2.5
"""A cut changes the picture at least this many times more than the other steps of its gap."""
MAX_READ_AHEAD = 32
"""Packets past the gap read before giving up on a picture the decoder holds back."""


def place_cuts(
    path: Path, fps: Fraction, boundaries: Sequence[Boundary], *, longer_than: int
) -> list[Boundary | None]:
    """``boundaries`` with each cut found after more than ``longer_than`` skipped
    frames placed on its exact frame, or None where no step among those frames
    stands out (left as it was if the frames cannot be read)."""
    unsure = [b for b in boundaries if b.kind == "cut" and b.skipped > longer_than]
    if not unsure:
        return list(boundaries)
    placed: dict[Boundary, Boundary | None] = {}
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        offset = (container.start_time or 0) / av.time_base
        for boundary in unsure:
            after = boundary.start + boundary.skipped // 2  # the first frame decoded after the gap
            before = after - boundary.skipped - 1  # the last one before it
            pictures = _decode(container, stream, fps, offset, before, after)
            if len(pictures) < after - before + 1:
                continue
            changes = np.array(
                [np.abs(pictures[i] - pictures[i - 1]).mean() for i in range(before + 1, after + 1)]
            )
            step = int(np.argmax(changes))
            if changes[step] < SPIKE * np.median(np.delete(changes, step)):
                # Every step changes the picture about as much: motion (a whip pan seen
                # every few frames looks like a cut), not a change of shot.
                placed[boundary] = None
                continue
            cut = before + 1 + step
            placed[boundary] = dataclasses.replace(boundary, start=cut, end=cut, skipped=0)
    return [placed.get(b, b) for b in boundaries]


def _decode(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    fps: Fraction,
    offset: float,
    first: int,
    last: int,
) -> dict[int, np.ndarray]:
    """Frames ``first``..``last`` (analysis frame numbers) at 64x36, RGB as float."""

    def number(seconds: float) -> int:
        return round((seconds - offset) * fps)

    context = stream.codec_context
    container.seek(round((float(first / fps) + offset) / stream.time_base), stream=stream, backward=True)
    pictures: dict[int, np.ndarray] = {}
    beyond = 0
    try:
        for packet in container.demux(stream):
            if packet.pts is not None:
                at = number(float(packet.pts * stream.time_base))
                context.skip_frame = "DEFAULT" if first <= at <= last else "BIDIR"
                beyond += at > last
            for frame in context.decode(packet):
                if frame.time is not None and first <= (n := number(frame.time)) <= last:
                    image = frame.to_ndarray(
                        width=SMALL_SIZE[0], height=SMALL_SIZE[1], format="rgb24", interpolation="AREA"
                    )
                    pictures[n] = image.astype(np.float32)
            if len(pictures) == last - first + 1 or beyond > MAX_READ_AHEAD:
                break
    except av.error.FFmpegError:
        return {}
    finally:
        context.skip_frame = "DEFAULT"
    return pictures
