"""How many frames in a row the decoder could skip: whether it may skip them.

Skipping frames (``-skip_frame bidir``: every B-frame; ``-skip_frame noref``:
the frames no other frame depends on) saves a good part of the decoding, and
the scene detector then sees a gap where each skipped frame was. A cut inside
a gap of one or two frames is still placed within a frame of where it is; a
longer gap is decoded again around a cut (:mod:`analysis.analyzers.refine`).
So the local analysis skips only where runs stay short, which it learns here
by reading the packets' NAL unit and slice headers (no decoding): x264's
B-pyramid has at most one non-reference frame in a row and three B-frames; a
camera's IBBP pattern two of each.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av

_HEADER_BYTES = 12  # enough for a slice header's first numbers
_H264_SLICES = (1, 5)  # non-IDR and IDR slices
_HEVC_NONREFERENCE = frozenset(range(0, 15, 2))  # TRAIL_N, TSA_N, STSA_N, RADL_N, RASL_N, RSV_VCL_N10..14


@dataclass(frozen=True)
class Runs:
    """The most frames in a row (display order) the decoder could skip, per way of skipping.

    ``nonreference``: frames no other frame refers to (``-skip_frame noref``);
    ``bidirectional``: B-frames, referred to or not (``-skip_frame bidir``; H.264
    only, whose slice headers say so without decoding). None where the packets do
    not tell.
    """

    nonreference: int | None = None
    bidirectional: int | None = None


def skippable_runs(path: Path, *, packets: int = 600) -> Runs:
    """The :class:`Runs` of the first ``packets`` frames of the first video stream
    (nothing known when the codec is neither H.264 nor HEVC)."""
    with av.open(str(path)) as container:
        if not container.streams.video:
            return Runs()
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        if codec not in ("h264", "hevc"):
            return Runs()
        length_size = _length_size(codec, stream.codec_context.extradata or b"")
        frames: list[tuple[int, _Picture]] = []
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            if packet.pts is None:
                return Runs()
            picture = _picture(codec, memoryview(packet), length_size)
            if picture is not None:
                frames.append((packet.pts, picture))
            if len(frames) >= packets:
                break
    if not frames:
        return Runs()
    pictures = [picture for _, picture in sorted(frames, key=lambda frame: frame[0])]
    bidirectional = [picture.bidirectional for picture in pictures]
    return Runs(
        nonreference=_longest([not picture.reference for picture in pictures]),
        bidirectional=None if None in bidirectional else _longest(bidirectional),
    )


def _longest(flags: list) -> int:
    longest = run = 0
    for flag in flags:
        run = run + 1 if flag else 0
        longest = max(longest, run)
    return longest


@dataclass(frozen=True)
class _Picture:
    reference: bool
    bidirectional: bool | None  # None: not read (HEVC)


def _length_size(codec: str, extradata: bytes) -> int | None:
    """Bytes of each NAL unit's length prefix (avcC/hvcC), or None for start codes (Annex B)."""
    if not extradata or extradata[0] != 1:
        return None
    if codec == "h264" and len(extradata) > 4:
        return (extradata[4] & 3) + 1
    if codec == "hevc" and len(extradata) > 21:
        return (extradata[21] & 3) + 1
    return None


def _picture(codec: str, data: memoryview, length_size: int | None) -> _Picture | None:
    """What the picture in ``data`` is, read from its first slice; None if it holds none."""
    for header in _nal_headers(data, length_size):
        if codec == "h264":
            if header[0] & 0x1F in _H264_SLICES:
                return _Picture(reference=header[0] & 0x60 != 0, bidirectional=_h264_slice_type(header) == 1)
        else:
            kind = (header[0] >> 1) & 0x3F
            if kind < 32:  # a slice
                return _Picture(reference=kind not in _HEVC_NONREFERENCE, bidirectional=None)
    return None


def _h264_slice_type(header: bytes) -> int | None:
    """P 0, B 1, I 2, SP 3, SI 4: the second Exp-Golomb number of the slice header."""
    payload = header[1:].replace(b"\x00\x00\x03", b"\x00\x00")  # emulation prevention
    bits = "".join(f"{byte:08b}" for byte in payload)
    at = 0
    values = []
    for _ in range(2):  # first_mb_in_slice, slice_type
        zeros = len(bits) - len(bits[at:].lstrip("0")) - at
        if at + 2 * zeros + 1 > len(bits):
            return None
        values.append(int(bits[at + zeros : at + 2 * zeros + 1], 2) - 1)
        at += 2 * zeros + 1
    return values[1] % 5


def _nal_headers(data: memoryview, length_size: int | None) -> Iterator[bytes]:
    """The first bytes (up to :data:`_HEADER_BYTES`) of each NAL unit in a packet."""
    if length_size is not None:
        at = 0
        while at + length_size < len(data):
            size = int.from_bytes(data[at : at + length_size], "big")
            start = at + length_size
            if size <= 0 or start + 2 > len(data):
                return
            yield bytes(data[start : start + min(size, _HEADER_BYTES)])
            at = start + size
        return
    raw = bytes(data[: 1 << 16])  # start codes: the slices' headers sit near the front
    at = raw.find(b"\x00\x00\x01")
    while at >= 0 and at + 5 <= len(raw):
        following = raw.find(b"\x00\x00\x01", at + 3)
        yield raw[at + 3 : min(at + 3 + _HEADER_BYTES, following if following >= 0 else len(raw))]
        at = following
