"""One ffmpeg process that decodes the file once and feeds every measurement.

The bundled ffmpeg decodes the video a single time and splits the decoded
pictures, inside its own filter graph, into small raw streams written to
separate pipes:

- ``pipe:1`` every frame shrunk to 64x36 YUV 4:2:0, at a constant rate, for
  scene detection, brightness and motion;
- ``samples`` two frames a second at thumbnail size, RGB, upright, for scene
  thumbnails and storyboard tiles;
- ``posters`` a handful of frames at poster size spread over the video;
- ``audio`` the first audio track as 16 kHz mono float PCM.

Full-size pictures never cross into Python. Deblocking is skipped while
decoding (invisible at these sizes) and, if asked, so are the B-frames or the
frames no other frame depends on; that is what keeps the whole analysis under
the cost of a plain ``ffmpeg -i file -f null -`` decode.

The main thread reads ``pipe:1``; one thread per other pipe reads its stream,
so ffmpeg never blocks on a full pipe.
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import IO

import imageio_ffmpeg
import numpy as np

from analysis.analyzers.loaded import cores

SMALL_SIZE = (64, 36)
SAMPLE_FPS = 2
AUDIO_RATE = 16000
AUDIO_RECORD = AUDIO_RATE // 20  # 50 ms of samples per read

# Rotation (clockwise degrees) to the filters that show the picture upright.
_UPRIGHT = {0: "", 90: ",transpose=clock", 180: ",hflip,vflip", 270: ",transpose=cclock"}


@dataclass(frozen=True)
class Plan:
    """What to ask ffmpeg for; sizes are upright (display) width x height."""

    fps: Fraction
    sample_size: tuple[int, int]
    poster_size: tuple[int, int]
    poster_start: float
    poster_step: float
    poster_count: int
    rotation: int
    audio: bool
    skip: str = ""
    """Frames the decoder leaves out: ``"noref"`` those no other frame refers to,
    ``"bidir"`` every B-frame, ``""`` none."""
    scale_first: bool = False
    """Shrink the small frames before the frame-rate filter rather than after: cheaper
    where that filter repeats frames (the source's rate is at most ``fps``, and each
    skipped frame is filled in with a copy), dearer where it drops them."""


@dataclass
class Sample:
    """One picture from a side stream: its time in seconds and RGB pixels."""

    time: float
    image: np.ndarray


END = None  # what a side-stream queue yields once its stream has ended


class Decoder:
    """Runs the ffmpeg process; use as a context manager.

    Iterate :meth:`small_frames` in the calling thread. Samples and poster
    candidates arrive on :attr:`samples` and :attr:`posters` (queues ending
    with :data:`END`); audio records are handed to ``on_audio`` on a reader
    thread, in order.
    """

    def __init__(self, path: Path, plan: Plan, *, on_audio: Callable[[bytes], None] | None = None) -> None:
        self.samples: queue.SimpleQueue[Sample | None] = queue.SimpleQueue()
        self.posters: queue.SimpleQueue[Sample | None] = queue.SimpleQueue()
        self._stderr_tail: deque[str] = deque(maxlen=40)
        self._threads: list[threading.Thread] = []
        self._errors: list[Exception] = []  # raised by on_audio, re-raised by wait()

        read_fds, write_fds = zip(*(os.pipe() for _ in range(3)), strict=True)
        samples_fd, posters_fd, audio_fd = write_fds
        try:
            self._process = subprocess.Popen(
                _command(path, plan, samples_fd, posters_fd, audio_fd),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=write_fds,
            )
        except BaseException:
            for fd in read_fds:
                os.close(fd)
            raise
        finally:
            for fd in write_fds:
                os.close(fd)

        sw, sh = plan.sample_size
        pw, ph = plan.poster_size
        self._start(_read_images, read_fds[0], (sh, sw, 3), SAMPLE_FPS, 0.0, self.samples)
        self._start(
            _read_images,
            read_fds[1],
            (ph, pw, 3),
            1 / plan.poster_step,
            plan.poster_start,
            self.posters,
        )
        self._start(_read_records, read_fds[2], AUDIO_RECORD * 4, on_audio, self._errors)
        self._start(_read_lines, self._process.stderr, self._stderr_tail)

    def _start(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def small_frames(self, batch: int) -> Iterator[np.ndarray]:
        """Yield arrays of up to ``batch`` small frames, shape (n, width*height*3/2), uint8."""
        width, height = SMALL_SIZE
        frame_bytes = width * height * 3 // 2
        stdout = self._process.stdout
        assert stdout is not None
        while True:
            data = stdout.read(frame_bytes * batch)
            count = len(data) // frame_bytes
            if count:
                yield np.frombuffer(data, np.uint8, count * frame_bytes).reshape(count, -1)
            if count < batch:
                return

    def wait(self) -> int:
        """Wait for ffmpeg and every reader to finish; return ffmpeg's exit code."""
        code = self._process.wait()
        for thread in self._threads:
            thread.join()
        if self._errors:
            raise self._errors[0]
        return code

    @property
    def stderr(self) -> str:
        """The last lines ffmpeg wrote to its error output."""
        return "".join(self._stderr_tail).strip()

    def __enter__(self) -> Decoder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process.poll() is None:
            self._process.kill()
        if self._process.stdout:
            self._process.stdout.close()
        self._process.wait()
        for thread in self._threads:
            thread.join()


def ffmpeg_exe() -> str:
    """The ffmpeg binary imageio-ffmpeg ships (or the one IMAGEIO_FFMPEG_EXE names)."""
    return imageio_ffmpeg.get_ffmpeg_exe()


def _command(path: Path, plan: Plan, samples_fd: int, posters_fd: int, audio_fd: int) -> list[str]:
    upright = _UPRIGHT[plan.rotation]
    # Scale in the stored orientation, then turn the (now small) picture upright.
    sw, sh = _stored(plan.sample_size, plan.rotation)
    pw, ph = _stored(plan.poster_size, plan.rotation)
    rate, shrink = f"fps={plan.fps}:start_time=0", f"scale={SMALL_SIZE[0]}:{SMALL_SIZE[1]}:flags=area"
    small = f"{shrink},{rate}" if plan.scale_first else f"{rate},{shrink}"
    graph = [
        "[0:v:0]split=3[small][samples][posters]",
        f"[small]{small},format=yuv420p[small_out]",
        f"[samples]fps={SAMPLE_FPS}:start_time=0,scale={sw}:{sh}:flags=area{upright},format=rgb24[samples_out]",
        # One frame at poster_start, then the first frame each poster_step after.
        f"[posters]select='isnan(prev_selected_t)*gte(t,{plan.poster_start:.3f})"
        f"+gte(t-prev_selected_t,{plan.poster_step:.3f})',"
        f"scale={pw}:{ph}:flags=bicubic{upright},format=rgb24[posters_out]",
    ]
    decoder_options = [
        "-skip_loop_filter:v",
        "all",
        "-flags2:v",
        "fast",
        "-threads:v",
        str(_decoder_threads()),
    ]
    if plan.skip:
        decoder_options += ["-skip_frame:v", plan.skip]
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-noautorotate"]
    command += [*decoder_options, "-i", os.fspath(path.absolute())]
    outputs = [
        # The frame-rate filters above set the timing; ffmpeg must not add or drop frames.
        *("-map", "[small_out]", "-fps_mode", "passthrough", "-f", "rawvideo", "pipe:1"),
        *("-map", "[samples_out]", "-fps_mode", "passthrough", "-f", "rawvideo", f"pipe:{samples_fd}"),
        *("-map", "[posters_out]", "-fps_mode", "passthrough", "-frames:v", str(plan.poster_count)),
        *("-f", "rawvideo", f"pipe:{posters_fd}"),
    ]
    if plan.audio:
        graph.append(f"[0:a:0]aresample={AUDIO_RATE},aformat=sample_fmts=flt:channel_layouts=mono[audio_out]")
        outputs += ["-map", "[audio_out]", "-f", "f32le", f"pipe:{audio_fd}"]
    return [*command, "-filter_complex", ";".join(graph), *outputs]


def _decoder_threads() -> int:
    """Frame threads for the video decoder: two per core. ffmpeg's own choice (one
    more than the cores) leaves a core idle a good part of the time once the
    B-frames are skipped, as a skipped frame's thread has next to nothing to do."""
    return 2 * cores()


def _stored(size: tuple[int, int], rotation: int) -> tuple[int, int]:
    """The stored (pre-rotation) width and height of an upright ``size``."""
    width, height = size
    return (height, width) if rotation in (90, 270) else (width, height)


def _read_images(
    fd: int,
    shape: tuple[int, int, int],
    rate: float,
    start: float,
    out: queue.SimpleQueue[Sample | None],
) -> None:
    """Read fixed-size RGB pictures from ``fd`` into ``out``, then :data:`END`."""
    size = shape[0] * shape[1] * shape[2]
    try:
        with os.fdopen(fd, "rb") as pipe:
            index = 0
            while len(data := pipe.read(size)) == size:
                image = np.frombuffer(data, np.uint8).reshape(shape)
                out.put(Sample(time=start + index / rate, image=image))
                index += 1
    finally:
        out.put(END)


def _read_records(
    fd: int, size: int, handle: Callable[[bytes], None] | None, errors: list[Exception]
) -> None:
    """Hand ``fd``'s bytes to ``handle`` in records of ``size`` (the last may be short).

    Keeps reading after ``handle`` fails (the failure lands in ``errors``), so
    ffmpeg never stalls on a full pipe.
    """
    with os.fdopen(fd, "rb") as pipe:
        while data := pipe.read(size):
            if handle is None or errors:
                continue
            try:
                handle(data)
            except Exception as exc:
                errors.append(exc)


def _read_lines(stream: IO[bytes], tail: deque[str]) -> None:
    for line in stream:
        tail.append(line.decode("utf-8", "replace"))
