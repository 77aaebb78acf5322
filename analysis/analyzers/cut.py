"""Cut a time range of a video into a clip of its own: a file path and options in, files out.

Two ways to cut, both with the ffmpeg binary imageio-ffmpeg ships:

- **fast**: a stream copy from the keyframe at or before the start (found with
  PyAV from the packets' headers, nothing decoded). Nothing is re-encoded, so
  it costs about what copying the bytes costs, but the clip starts at that
  keyframe, which may be seconds before the start asked for; the result says
  which (`start_used`), so the page can say so.
- **exact**: decoded and re-encoded (H.264 + AAC), frame-accurate: the first
  frame is the one shown at `start`, the last the one shown just before `end`.

Captions (the transcript's lines) are burnt in only by an exact cut, as a
fast cut copies the pictures untouched. Each line is drawn once by Pillow with
the font Pillow itself ships (`ImageFont.load_default(size=...)`, no system
font), and ffmpeg's `overlay` shows each picture between its line's times;
drawing is per line, not per frame. A soundless animated WebP preview and a
JPEG poster are made from the clip.

No Django here: the job (analysis/clip_jobs.py) wraps this module.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import av
import imageio_ffmpeg
from PIL import Image, ImageDraw, ImageFont

FAST, EXACT = "fast", "exact"
PREVIEW_FPS = 8
PREVIEW_WIDTH = 320
PREVIEW_MAX_SECONDS = 6.0
CAPTION_FONT_PX = 28


class CutError(Exception):
    """The clip cannot be made from this file; `reason` is a sentence for a person."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Caption:
    """One line of the transcript, in the source video's seconds."""

    start: float
    end: float
    text: str


@dataclass
class CutResult:
    clip: Path
    start_used: float  # where the clip really starts, in the source's seconds
    end: float
    mode: str
    preview: Path | None = None
    poster: Path | None = None
    captions_drawn: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return self.end - self.start_used


def _ffmpeg(args: Sequence[str]) -> None:
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise CutError("The video could not be cut.", done.stderr[-2000:])


def keyframe_at_or_before(path: str | Path, t: float) -> float:
    """The time of the last video keyframe at or before `t` (seconds), from the packets' headers."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            base = stream.time_base
            best = None
            # Seek backwards to a keyframe before t, then walk the headers up to t:
            # the seek lands on some keyframe at or before t, the walk finds the last one.
            target = max(0.0, t - 0.001)
            container.seek(int(target / base), stream=stream, backward=True, any_frame=False)
            for packet in container.demux(stream):
                if packet.pts is None:
                    continue
                when = float(packet.pts * base)
                if when > t + 1e-6:
                    break
                if packet.is_keyframe:
                    best = when
            if best is None:
                # The seek went past every keyframe before t (it should not): the stream's first one.
                container.seek(0, stream=stream)
                for packet in container.demux(stream):
                    if packet.pts is not None and packet.is_keyframe:
                        best = float(packet.pts * base)
                        break
    except (av.FFmpegError, IndexError) as exc:
        raise CutError("The video's pictures cannot be read.", str(exc)) from exc
    return 0.0 if best is None else max(0.0, best)


def _caption_png(text: str, width: int, out: Path) -> tuple[int, int]:
    """A caption picture: white text on a translucent dark band, as wide as the video."""
    font = ImageFont.load_default(size=max(12, round(CAPTION_FONT_PX * width / 640)))
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    lines = _wrap(text, font, probe, width - 24)
    line_height = font.getbbox("Ag")[3] + 6
    height = line_height * len(lines) + 12
    image = Image.new("RGBA", (width, height), (0, 0, 0, 150))
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        w = draw.textlength(line, font=font)
        draw.text(((width - w) / 2, 6 + i * line_height), line, font=font, fill=(255, 255, 255, 255))
    image.save(out)
    return image.size


def _wrap(text: str, font, draw: ImageDraw.ImageDraw, room: float) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= room:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines[:3] or [""]


def _video_size(path: Path) -> tuple[int, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream.codec_context.width, stream.codec_context.height


def cut(
    source: str | Path,
    out_dir: str | Path,
    *,
    start: float,
    end: float,
    mode: str = EXACT,
    captions: Sequence[Caption] = (),
    preview: bool = True,
    poster: bool = True,
) -> CutResult:
    """Cut [start, end) of `source` into `out_dir`/clip.mp4 (and preview.webp, poster.jpg)."""
    source, out_dir = Path(source), Path(out_dir)
    if not end > start >= 0:
        raise CutError("The clip must end after it starts.")
    clip = out_dir / "clip.mp4"
    if mode == FAST:
        start_used = keyframe_at_or_before(source, start)
        # Input seeking to a keyframe time with stream copy starts exactly there.
        _ffmpeg(
            [
                *("-ss", f"{start_used:.6f}", "-i", str(source), "-t", f"{end - start_used:.6f}"),
                *("-map", "0:v:0", "-map", "0:a:0?", "-c", "copy", "-avoid_negative_ts", "make_zero"),
                *("-movflags", "+faststart", str(clip)),
            ]
        )
        result = CutResult(clip=clip, start_used=start_used, end=end, mode=FAST)
        if captions:
            result.notes.append("A fast cut copies the pictures, so captions need an exact cut.")
    elif mode == EXACT:
        result = CutResult(clip=clip, start_used=start, end=end, mode=EXACT)
        with tempfile.TemporaryDirectory() as tmp:
            args = ["-ss", f"{start:.6f}", "-i", str(source)]
            shown = [c for c in captions if c.end > start and c.start < end and c.text.strip()]
            graph = ""
            if shown:
                width, height = _video_size(source)
                last = "0:v:0"
                for i, caption in enumerate(shown):
                    png = Path(tmp) / f"caption-{i}.png"
                    _caption_png(caption.text, width, png)
                    args += ["-i", str(png)]
                    a, b = max(0.0, caption.start - start), caption.end - start
                    graph += (
                        f"[{last}][{i + 1}:v]overlay=x=0:y=H-h-{max(8, height // 20)}"
                        f":enable='between(t,{a:.3f},{b:.3f})'[v{i}];"
                    )
                    last = f"v{i}"
                graph = graph.rstrip(";")
                args += ["-filter_complex", graph, "-map", f"[{last}]"]
                result.captions_drawn = len(shown)
            else:
                args += ["-map", "0:v:0"]
            args += ["-map", "0:a:0?", "-t", f"{end - start:.6f}"]
            args += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p"]
            args += ["-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", str(clip)]
            _ffmpeg(args)
    else:
        raise CutError(f"Unknown cut {mode!r}.")
    if preview:
        result.preview = out_dir / "preview.webp"
        length = min(PREVIEW_MAX_SECONDS, result.duration)
        _ffmpeg(
            [
                *("-i", str(clip), "-an", "-t", f"{length:.3f}"),
                *("-vf", f"fps={PREVIEW_FPS},scale={PREVIEW_WIDTH}:-2:flags=lanczos"),
                *("-c:v", "libwebp_anim", "-loop", "0", "-quality", "60", str(result.preview)),
            ]
        )
    if poster:
        result.poster = out_dir / "poster.jpg"
        _ffmpeg(
            [
                "-ss",
                f"{result.duration / 2:.3f}",
                "-i",
                str(clip),
                "-frames:v",
                "1",
                "-q:v",
                "3",
                str(result.poster),
            ]
        )
    return result
