"""A generated video whose frames carry their own numbers, for the clip tests.

Each frame shows its frame number as a row of black and white blocks across
the top (a 10-bit code that survives H.264) over a mid-grey picture;
keyframes fall every second exactly; the sound beeps at the start of every second.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import imageio_ffmpeg
import numpy as np

FPS = 25
W, H = 320, 180
BITS = 10
BLOCK = W // BITS
SECONDS = 6
# The sound: a 0.1 s beep at the start of every second, so a clip's sound can be checked against its pictures.
BEEPS = "volume='if(lt(mod(t,1),0.1),1,0)':eval=frame"


def _frame(n: int) -> np.ndarray:
    picture = np.full((H, W, 3), 128, np.uint8)
    for bit in range(BITS):
        picture[:24, bit * BLOCK : (bit + 1) * BLOCK] = 255 if (n >> bit) & 1 else 0
    return picture


def frame_number(picture: np.ndarray) -> int:
    """The number the blocks of a decoded frame (H x W x 3) spell."""
    n = 0
    for bit in range(BITS):
        if picture[4:20, bit * BLOCK + 4 : (bit + 1) * BLOCK - 4].mean() > 128:
            n |= 1 << bit
    return n


def make_numbered(path: Path) -> Path:
    """6 s of 320x180 at 25 fps, keyframes every second, a beep at every whole second."""
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}", "-r", str(FPS), "-i", "-",
        "-f", "lavfi", "-i", f"sine=frequency=1000:sample_rate=44100:duration={SECONDS}," + BEEPS,
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-x264-params", f"keyint={FPS}:min-keyint={FPS}:scenecut=0",
        "-c:a", "aac", "-shortest", str(path),
    ]  # fmt: skip
    frames = b"".join(_frame(n).tobytes() for n in range(FPS * SECONDS))
    subprocess.run(command, input=frames, check=True)
    return path


def frame_numbers(path: Path) -> list[int]:
    """The number every decoded frame of a file spells, in order."""
    with av.open(str(path)) as container:
        return [frame_number(f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]


def beep_onsets(path: Path) -> list[float]:
    """The times (seconds into the file) where a beep starts, from 5 ms windows of the sound."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.rate
        samples = np.concatenate([f.to_ndarray().mean(axis=0) for f in container.decode(stream)])
    window = rate // 200
    loud = np.abs(samples[: len(samples) // window * window]).reshape(-1, window).max(axis=1) > 0.1
    starts = np.flatnonzero(loud & ~np.concatenate([[False], loud[:-1]]))
    return [float(i * window / rate) for i in starts]
