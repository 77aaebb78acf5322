"""Recognise a video container from the first bytes of a file.

Only the bytes count: a file's name and the content type the browser sent are
whatever the user's machine made of it. `sniff_container` answers one of the
keys of `analysis.models.CONTAINER_EXTENSIONS`, or None. `describe` names the
common things that are not videos, so a refusal can say what the file is.
"""

from __future__ import annotations

# Enough for every check below: a dozen MPEG-TS packets, any EBML header.
SNIFF_BYTES = 4096

EBML_MAGIC = b"\x1a\x45\xdf\xa3"
EBML_DOCTYPE = 0x4282
TS_SYNC = 0x47
TS_PACKET = 188
# Blu-ray and AVCHD (.m2ts, .mts): a 4-byte timestamp before each TS packet.
M2TS_PACKET = 192
PS_PACK_START = b"\x00\x00\x01\xba"

# ISO base media files that are pictures or sound, not videos: HEIF/AVIF
# photos and iTunes audio share the `ftyp` box with MP4.
NOT_VIDEO_BRANDS = {
    b"mif1": "a HEIF picture",
    b"msf1": "a HEIF picture",
    b"heic": "a HEIC picture",
    b"heix": "a HEIC picture",
    b"heim": "a HEIC picture",
    b"heis": "a HEIC picture",
    b"avif": "an AVIF picture",
    b"avis": "an AVIF picture",
    b"M4A ": "an audio file (M4A)",
    b"M4B ": "an audio book (M4B)",
    b"M4P ": "an audio file (M4P)",
}
# Classic QuickTime files may start with one of these atoms instead of `ftyp`.
QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}

KNOWN_NOT_VIDEO = (
    (b"\x89PNG\r\n\x1a\n", "a PNG picture"),
    (b"\xff\xd8\xff", "a JPEG picture"),
    (b"GIF87a", "a GIF picture"),
    (b"GIF89a", "a GIF picture"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive or office document"),
    (b"ID3", "an MP3 audio file"),
    (b"fLaC", "a FLAC audio file"),
    (b"OggS", "an Ogg file"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
)


def sniff_container(head: bytes) -> str | None:
    """The container the bytes start with ("mp4", "mov", ...), or None."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return "mov"
        if brand in NOT_VIDEO_BRANDS:
            return None
        return "mp4"
    if len(head) >= 8 and head[4:8] in QUICKTIME_ATOMS and _plausible_atom_size(head):
        return "mov"
    if head.startswith(EBML_MAGIC):
        doctype = _ebml_doctype(head)
        if doctype in ("webm", "matroska"):
            return doctype
        return None
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if _is_transport_stream(head):
        return "mpegts"
    if head.startswith(PS_PACK_START):
        return "mpegps"
    return None


def describe(head: bytes) -> str | None:
    """A few words for what a non-video file is ("a PNG picture"), when we can tell."""
    if not head:
        return None
    if len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] in NOT_VIDEO_BRANDS:
        return NOT_VIDEO_BRANDS[head[8:12]]
    for magic, what in KNOWN_NOT_VIDEO:
        if head.startswith(magic):
            return what
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "a WAV audio file"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "a WebP picture"
    text = head[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "a web page (HTML)"
    if text.startswith(b"<?xml") or text.startswith(b"<svg"):
        return "an XML or SVG document"
    if _looks_like_text(head):
        return "a text file"
    return None


def _looks_like_text(head: bytes) -> bool:
    sample = head[:1024]
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character cut at the end of the sample is still text.
        try:
            sample[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    return all(b >= 0x20 or b in b"\t\r\n\f" for b in sample)


def _plausible_atom_size(head: bytes) -> bool:
    # 0 means "to the end of the file", 1 "a 64-bit size follows"; else at least the header.
    # Text that happens to read "....free" is not a movie.
    size = int.from_bytes(head[:4], "big")
    return (size in (0, 1) or size >= 8) and not _looks_like_text(head)


def _is_transport_stream(head: bytes) -> bool:
    """Sync bytes every 188 bytes (or 192 with timestamps), at least two packets' worth."""
    for packet, offset in ((TS_PACKET, 0), (M2TS_PACKET, 4)):
        starts = range(offset, len(head), packet)
        if len(starts) >= 2 and all(head[i] == TS_SYNC for i in starts):
            return True
    return False


def _read_vint(data: bytes, pos: int, *, keep_marker: bool) -> tuple[int, int] | None:
    """An EBML variable-length integer at pos: (value, next position), or None."""
    if pos >= len(data):
        return None
    first = data[pos]
    length = 1
    mask = 0x80
    while length <= 8 and not first & mask:
        length += 1
        mask >>= 1
    if length > 8 or pos + length > len(data):
        return None
    value = first if keep_marker else first & (mask - 1)
    for byte in data[pos + 1 : pos + length]:
        value = (value << 8) | byte
    return value, pos + length


def _ebml_doctype(head: bytes) -> str | None:
    """The DocType of the EBML header that starts head ("webm", "matroska", ...)."""
    size = _read_vint(head, len(EBML_MAGIC), keep_marker=False)
    if size is None:
        return None
    header_size, pos = size
    end = min(len(head), pos + header_size)
    while pos < end:
        element = _read_vint(head, pos, keep_marker=True)
        if element is None:
            return None
        element_id, pos = element
        length = _read_vint(head, pos, keep_marker=False)
        if length is None:
            return None
        data_size, pos = length
        if element_id == EBML_DOCTYPE:
            return head[pos : pos + data_size].rstrip(b"\x00").decode("ascii", "replace")
        pos += data_size
    return None
