"""How many frames in a row no other frame refers to: whether the decoder may skip them.

Skipping the frames no other frame depends on (``-skip_frame noref``) saves
a good part of the decoding, and the scene detector then sees a gap where
each skipped frame was. A cut inside a gap of one or two frames is still
placed within a frame of where it is; in a longer gap it is not. So the
local analysis skips them only when the stream never has more than
:data:`~analysis.analyzers.local.MAX_SKIPPED_RUN` of them in a row, which it
learns here by reading the packets' NAL unit headers (no decoding): x264's
B-pyramid has at most one in a row; a camera's IBBP pattern two; x264 without
a pyramid three.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av

_H264_SLICES = (1, 5)  # non-IDR and IDR slices
_HEVC_NONREFERENCE = frozenset(range(0, 15, 2))  # TRAIL_N, TSA_N, STSA_N, RADL_N, RASL_N, RSV_VCL_N10..14


def longest_nonreference_run(path: Path, *, packets: int = 600) -> int | None:
    """The most frames in a row (in display order) that no other frame refers to,
    among the first ``packets`` frames of the first video stream; None when the
    codec is neither H.264 nor HEVC or the packets do not say."""
    with av.open(str(path)) as container:
        if not container.streams.video:
            return None
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        if codec not in ("h264", "hevc"):
            return None
        length_size = _length_size(codec, stream.codec_context.extradata or b"")
        frames: list[tuple[int, bool]] = []
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            if packet.pts is None:
                return None
            reference = _is_reference(codec, memoryview(packet), length_size)
            if reference is not None:
                frames.append((packet.pts, reference))
            if len(frames) >= packets:
                break
    longest = run = 0
    for _, reference in sorted(frames):
        run = 0 if reference else run + 1
        longest = max(longest, run)
    return longest if frames else None


def _length_size(codec: str, extradata: bytes) -> int | None:
    """Bytes of each NAL unit's length prefix (avcC/hvcC), or None for start codes (Annex B)."""
    if not extradata or extradata[0] != 1:
        return None
    if codec == "h264" and len(extradata) > 4:
        return (extradata[4] & 3) + 1
    if codec == "hevc" and len(extradata) > 21:
        return (extradata[21] & 3) + 1
    return None


def _is_reference(codec: str, data: memoryview, length_size: int | None) -> bool | None:
    """Whether the picture in ``data`` may be referred to; None if it holds no picture."""
    for header in _nal_headers(data, length_size):
        if codec == "h264":
            if header[0] & 0x1F in _H264_SLICES:
                return header[0] & 0x60 != 0  # nal_ref_idc
        else:
            kind = (header[0] >> 1) & 0x3F
            if kind < 32:  # a slice
                return kind not in _HEVC_NONREFERENCE
    return None


def _nal_headers(data: memoryview, length_size: int | None) -> Iterator[bytes]:
    """The first two bytes of each NAL unit in a packet."""
    if length_size is not None:
        at = 0
        while at + length_size < len(data):
            size = int.from_bytes(data[at : at + length_size], "big")
            start = at + length_size
            if size <= 0 or start + 2 > len(data):
                return
            yield bytes(data[start : start + 2])
            at = start + size
        return
    raw = bytes(data[: 1 << 16])  # start codes: the slices' headers sit near the front
    at = raw.find(b"\x00\x00\x01")
    while at >= 0 and at + 5 <= len(raw):
        yield raw[at + 3 : at + 5]
        at = raw.find(b"\x00\x00\x01", at + 3)
