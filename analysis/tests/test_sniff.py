"""Container sniffing from the first bytes: real files from ffmpeg, handcrafted headers, impostors."""

from __future__ import annotations

import pytest

from analysis.models import CONTAINER_EXTENSIONS
from analysis.sniff import SNIFF_BYTES, describe, sniff_container
from analysis.tests.clips import make_clip, make_not_video

# Container key -> (video codec, ffmpeg muxer), tiny enough to make in a few ms each.
MUXED = {
    "mp4": ("libx264", "mp4"),
    "mov": ("mpeg4", "mov"),
    "webm": ("libvpx", "webm"),
    "matroska": ("mpeg4", "matroska"),
    "avi": ("mpeg4", "avi"),
    "mpegts": ("mpeg2video", "mpegts"),
    "mpegps": ("mpeg1video", "mpeg"),
}


def make_tiny(path, container: str):
    """A 0.2 s, 64x36 silent clip in the given container (a key of CONTAINER_EXTENSIONS)."""
    codec, muxer = MUXED[container]
    return make_clip(
        path, duration=0.2, size=(64, 36), fps=25, cuts=(), audio=False, codec=codec, container=muxer
    )


@pytest.mark.parametrize("container", sorted(MUXED))
def test_it_recognises_each_container_ffmpeg_writes(tmp_path, container):
    clip = make_tiny(tmp_path / f"clip{CONTAINER_EXTENSIONS[container]}", container)
    head = clip.path.read_bytes()[:SNIFF_BYTES]
    assert sniff_container(head) == container


def test_it_covers_every_container_the_model_knows():
    assert set(MUXED) == set(CONTAINER_EXTENSIONS)


def _ebml(doctype: bytes) -> bytes:
    # EBMLVersion 1, then DocType; sizes as 1-byte vints.
    body = b"\x42\x86\x81\x01" + b"\x42\x82" + bytes([0x80 | len(doctype)]) + doctype
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(body)]) + body + b"\x18\x53\x80\x67"


@pytest.mark.parametrize(
    ("head", "container"),
    [
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", "mp4"),
        (b"\x00\x00\x00\x1cftypM4V \x00\x00\x00\x01M4V M4A mp42", "mp4"),
        (b"\x00\x00\x00\x14ftyp3gp5\x00\x00\x00\x00", "mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00", "mov"),
        # Classic QuickTime without ftyp: a `wide` atom, then `mdat`.
        (b"\x00\x00\x00\x08wide\x00\x10\x00\x00mdat", "mov"),
        (b"\x00\x00\x6b\x2cmoov\x00\x00\x00\x6cmvhd", "mov"),
        (_ebml(b"webm"), "webm"),
        (_ebml(b"matroska"), "matroska"),
        (b"RIFF\x00\x10\x00\x00AVI LIST", "avi"),
        (b"\x47\x40\x00\x10" + b"\xff" * 184 + b"\x47\x01\x00\x10" + b"\xff" * 184, "mpegts"),
        # Blu-ray / AVCHD .m2ts: a 4-byte timestamp before every packet.
        ((b"\x00\x00\x00\x00\x47" + b"\xff" * 187) * 3, "mpegts"),
        (b"\x00\x00\x01\xba\x44\x00\x04\x00\x04\x01\x01\x89\xc3\xf8", "mpegps"),
    ],
)
def test_it_recognises_handcrafted_headers(head, container):
    assert sniff_container(head) == container


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"\x00",
        b"G",  # one sync byte is not a transport stream
        b"\x47" + b"\x00" * 187 + b"\x00",  # the second packet does not start with a sync byte
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
        b"GIF89a\x10\x00\x10\x00",
        b"%PDF-1.7\n",
        b"<!DOCTYPE html><html><head><title>x</title></head></html>",
        b"Get free videos here!\n" * 20,  # reads "....free" like a QuickTime atom, but is text
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",  # an iPhone photo
        b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1",
        b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom",
        b"RIFF\x24\x08\x00\x00WAVEfmt ",
        _ebml(b"something-else"),
        b"\x1a\x45\xdf\xa3\xff",  # an EBML header cut short
        bytes(range(256)) * 16,
    ],
)
def test_it_refuses_what_is_not_a_video_container(head):
    assert sniff_container(head) is None


def test_it_refuses_a_real_png_named_like_a_video(tmp_path):
    picture = make_not_video(tmp_path / "holiday.mp4")
    head = picture.read_bytes()[:SNIFF_BYTES]
    assert sniff_container(head) is None
    assert describe(head) == "a PNG picture"


@pytest.mark.parametrize(
    ("head", "what"),
    [
        (b"\xff\xd8\xff\xe1", "a JPEG picture"),
        (b"\n  <!doctype html>\n<html>", "a web page (HTML)"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "a HEIC picture"),
        (b"hello, this is a note\n", "a text file"),
        (b"", None),
        (bytes(range(256)), None),
    ],
)
def test_it_describes_common_impostors(head, what):
    assert describe(head) == what
