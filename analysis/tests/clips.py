"""Generate small test videos with a known ground truth.

Every clip is built by the ffmpeg binary that imageio-ffmpeg ships, from
lavfi sources only, so nothing is downloaded and the result is deterministic.
Each segment between two cuts uses a visually distinct source (test patterns,
colour bars, solid colours with moving noise, cellular automata, ...), and the
audio is a sine tone with silent stretches at known times.

The functions return a :class:`Clip`, which carries the ground truth and can be
passed anywhere a path is expected (it implements ``os.PathLike``).
"""

from __future__ import annotations

import itertools
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg

# Sources for the segments between cuts, in an order where neighbours look
# nothing alike. ``{s}`` is the frame size, ``{r}`` the frame rate.
SEGMENT_SOURCES: tuple[str, ...] = (
    "testsrc2=s={s}:r={r}",
    "smptehdbars=s={s}:r={r}",
    "color=c=0xC03020:s={s}:r={r},noise=alls=12:allf=t",
    "cellauto=s={s}:r={r}:rule=110:seed=1",
    "gradients=s={s}:r={r}:speed=0.03",
    "color=c=0x2050C0:s={s}:r={r},noise=alls=12:allf=t",
    "rgbtestsrc=s={s}:r={r}",
    "sierpinski=s={s}:r={r}",
    "pal100bars=s={s}:r={r}",
    "color=c=0x30A040:s={s}:r={r},noise=alls=12:allf=t",
    "yuvtestsrc=s={s}:r={r}",
    "life=s={s}:r={r}:seed=1:mold=10:life_color=0xE0E040:death_color=0x202060",
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Clip:
    """A generated clip and what is known to be in it.

    ``cuts`` are the exact times (seconds) of the first frame of every scene
    after the first, i.e. the requested cut times rounded to whole frames.
    """

    path: Path
    duration: float
    size: tuple[int, int]
    fps: float
    cuts: tuple[float, ...]
    has_audio: bool
    silent_ranges: tuple[tuple[float, float], ...]
    codec: str

    def __fspath__(self) -> str:
        return os.fspath(self.path)


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary bundled with imageio-ffmpeg."""
    return imageio_ffmpeg.get_ffmpeg_exe()


def available_encoders() -> set[str]:
    """Names of the encoders compiled into the bundled ffmpeg."""
    out = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-encoders"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 6 and parts[0][0] in "VAS":
            names.add(parts[1])
    return names


def make_clip(
    path: str | Path,
    *,
    duration: float = 6.0,
    size: tuple[int, int] = (320, 180),
    fps: float = 25,
    cuts: Sequence[float] = (2.0, 4.0),
    audio: bool = True,
    tone_until: float | None = None,
    silent_ranges: Sequence[tuple[float, float]] = (),
    flashes: Sequence[float] = (),
    sources: Sequence[str] = SEGMENT_SOURCES,
    codec: str = "libx264",
    container: str = "mp4",
    preset: str = "ultrafast",
    audio_rate: int = 44100,
    audio_channels: int = 2,
) -> Clip:
    """Write a clip with scene cuts at ``cuts`` and a tone with silences.

    Segment i uses ``sources[i % len(sources)]`` (lavfi source syntax with
    ``{s}`` for the size and ``{r}`` for the rate). Each time in ``flashes``
    turns two frames white, like a photo flash: a change that is not a cut.
    The audio is a 440 Hz sine at -18 dBFS peak, silenced (digital zeros)
    inside each of ``silent_ranges`` and from ``tone_until`` to the end.
    ``preset`` is passed to x264; ``ultrafast`` keeps tests quick, the
    benchmark uses a realistic one (CABAC, deblocking, B-frames).
    MP4 output is written with ``+faststart`` so the index sits at the front,
    which makes :func:`make_truncated` produce a file that opens but stops
    early.
    """
    path = Path(path)
    width, height = size
    total_frames = round(duration * fps)
    boundaries = [0, *sorted({round(c * fps) for c in cuts}), total_frames]
    if any(b <= a for a, b in itertools.pairwise(boundaries)):
        raise ValueError("cuts must lie strictly inside the clip")

    graph = []
    for i, (start, end) in enumerate(itertools.pairwise(boundaries)):
        source = sources[i % len(sources)].format(s=f"{width}x{height}", r=fps)
        graph.append(
            f"{source},scale={width}:{height},setsar=1,format=yuv420p,"
            f"trim=end_frame={end - start},setpts=PTS-STARTPTS[v{i}]"
        )
    segments = len(boundaries) - 1
    flash = "".join(
        f",drawbox=c=white:t=fill:enable='between(n,{round(t * fps)},{round(t * fps) + 1})'" for t in flashes
    )
    graph.append("".join(f"[v{i}]" for i in range(segments)) + f"concat=n={segments}:v=1:a=0{flash}[v]")

    silences = [(float(a), float(b)) for a, b in silent_ranges]
    if tone_until is not None:
        silences.append((float(tone_until), float(duration) + 1.0))
    if audio:
        tone = f"sine=frequency=440:sample_rate={audio_rate}:duration={duration}"
        if silences:
            ranges = "+".join(f"between(t,{a},{b})" for a, b in silences)
            tone += f",volume=volume=0:enable='{ranges}'"
        graph.append(tone + "[a]")

    cmd = ["-filter_complex", ";".join(graph)]
    cmd += ["-map", "[v]", "-c:v", codec, "-r", str(fps)]
    if codec in ("libx264", "libx264rgb"):
        cmd += ["-preset", preset, "-pix_fmt", "yuv420p"]
    else:
        cmd += ["-q:v", "4"]
    if audio:
        cmd += ["-map", "[a]", "-c:a", "aac", "-b:a", "96k", "-ac", str(audio_channels)]
    if container in ("mp4", "mov", "m4v"):
        cmd += ["-movflags", "+faststart"]
    cmd += ["-f", container, str(path)]
    _ffmpeg(*cmd)

    return Clip(
        path=path,
        duration=total_frames / fps,
        size=(width, height),
        fps=fps,
        cuts=tuple(b / fps for b in boundaries[1:-1]),
        has_audio=audio,
        silent_ranges=tuple(sorted(silences)) if audio else (),
        codec=codec,
    )


def make_truncated(src: str | Path, dst: str | Path) -> Path:
    """Copy the first half of ``src``'s bytes to ``dst`` (an interrupted upload)."""
    data = Path(os.fspath(src)).read_bytes()
    dst = Path(dst)
    dst.write_bytes(data[: len(data) // 2])
    return dst


def make_rotated(src: str | Path, dst: str | Path, *, degrees: int = 90) -> Path:
    """Remux ``src`` with a rotation tag, as phones write portrait video.

    ``degrees`` is clockwise, like the ``rotate`` tag phones write (and what
    the analyzer reports); ffmpeg's ``-display_rotation`` counts the other way.
    """
    dst = Path(dst)
    _ffmpeg("-display_rotation:v:0", str(-degrees), "-i", os.fspath(src), "-c", "copy", "-map", "0", str(dst))
    return dst


def make_audio_only(path: str | Path, *, duration: float = 3.0) -> Path:
    """Write an AAC file with a tone and no video stream (e.g. ``.m4a``)."""
    path = Path(path)
    tone = f"sine=frequency=440:sample_rate=44100:duration={duration}"
    _ffmpeg("-f", "lavfi", "-i", tone, "-c:a", "aac", "-f", "mp4", str(path))
    return path


def make_not_video(path: str | Path) -> Path:
    """Write a real PNG picture under a video's name (e.g. ``holiday.mp4``)."""
    path = Path(path)
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=64x36:d=1",
        "-frames:v",
        "1",
        "-c:v",
        "png",
        "-f",
        "image2pipe",
        str(path),
    )
    return path


def make_garbage(path: str | Path, *, size: int = 64 * 1024) -> Path:
    """Write bytes that are no media format at all (deterministic noise)."""
    path = Path(path)
    state = 0x2545F491
    out = bytearray()
    while len(out) < size:
        # xorshift32: repeatable without touching the global random state.
        state ^= (state << 13) & 0xFFFFFFFF
        state ^= state >> 17
        state ^= (state << 5) & 0xFFFFFFFF
        out += state.to_bytes(4, "little")
    path.write_bytes(bytes(out[:size]))
    return path


def _ffmpeg(*args: str) -> None:
    """Run the bundled ffmpeg quietly, overwriting its output."""
    _run([ffmpeg_exe(), "-hide_banner", "-v", "error", "-y", *args])


def _run(cmd: list[str]) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({result.returncode}): {result.stderr.strip()}")
