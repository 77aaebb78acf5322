"""Generate test videos with spoken sentences at known times.

Speech comes from Debian's ``espeak-ng`` (a formant synthesiser: robotic, but
clear and deterministic); everything else is built by the ffmpeg binary that
imageio-ffmpeg ships, as in :mod:`analysis.tests.clips`. The functions return
the ground truth along with the path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analysis.tests.clips import Clip, _run, ffmpeg_exe, make_clip

VOICE = "en-us"
WORDS_PER_MINUTE = 150
AUDIBLE = 100 / 32768
"""Samples quieter than this (about -50 dBFS) are the silence espeak-ng pads with."""


@dataclass(frozen=True)
class Sentence:
    """One spoken sentence: when its first and last sounds are heard (seconds)."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class SpeechClip:
    """A generated clip with speech, and what is said in it when."""

    path: Path
    duration: float
    size: tuple[int, int]
    fps: float
    sentences: tuple[Sentence, ...]

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    @property
    def text(self) -> str:
        """Everything said, in order: the reference transcript."""
        return " ".join(sentence.text for sentence in self.sentences)

    @property
    def speech_end(self) -> float:
        """When the last sentence stops being heard."""
        return self.sentences[-1].end if self.sentences else 0.0


def espeak_exe() -> str | None:
    """Path of ``espeak-ng``, or None when it is not installed."""
    return shutil.which("espeak-ng")


def make_speech_clip(
    path: str | Path,
    sentences: Sequence[tuple[float, str]],
    *,
    duration: float,
    size: tuple[int, int] = (320, 180),
    fps: float = 25,
) -> SpeechClip:
    """Write an MP4 (H.264 + AAC) where each ``(start, text)`` is spoken from ``start`` s.

    The picture is ffmpeg's moving ``testsrc2`` pattern. Each sentence is
    synthesised to its own WAV file and delayed by a whole number of samples,
    so it starts exactly at its time; a sentence's ``end`` is its start plus
    the time of the last audible sample of its WAV (espeak-ng pads a few
    hundred milliseconds of silence, which is not speech). Sentences must not
    overlap and must end before ``duration``.
    """
    if not sentences:
        raise ValueError("no sentences: make_silent_clip makes a clip without speech")
    path = Path(path)
    width, height = size
    timed = sorted((float(start), text) for start, text in sentences)

    with tempfile.TemporaryDirectory(prefix="speech-") as scratch:
        truth: list[Sentence] = []
        inputs: list[str] = []
        graph: list[str] = []
        for index, (start, text) in enumerate(timed):
            wav = Path(scratch) / f"{index}.wav"
            rate, spoken = _synthesise(text, wav)
            if truth and start < truth[-1].end:
                raise ValueError(f"sentence at {start} s starts before the one before it ends")
            truth.append(Sentence(start=start, end=round(start + spoken, 3), text=text))
            inputs += ["-i", str(wav)]
            # Delay by whole samples ("S"): exact start times, whatever the rate.
            graph.append(f"[{index + 1}:a]adelay=delays={round(start * rate)}S:all=1[s{index}]")
        if truth and truth[-1].end > duration:
            raise ValueError(f"the speech lasts until {truth[-1].end} s, past the {duration} s clip")

        mixed = "".join(f"[s{index}]" for index in range(len(truth)))
        graph.append(
            f"{mixed}amix=inputs={len(truth)}:normalize=0:duration=longest,"
            f"aresample=44100,apad=whole_dur={duration},atrim=end={duration}[a]"
        )
        _run(
            [
                *(ffmpeg_exe(), "-hide_banner", "-v", "error", "-y"),
                *("-f", "lavfi", "-i", f"testsrc2=s={width}x{height}:r={fps}:d={duration}"),
                *inputs,
                *("-filter_complex", ";".join(graph), "-map", "0:v", "-map", "[a]"),
                *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
                *("-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart", "-f", "mp4", str(path)),
            ]
        )
    return SpeechClip(path=path, duration=duration, size=size, fps=fps, sentences=tuple(truth))


def make_silent_clip(path: str | Path, *, duration: float = 4.0) -> Clip:
    """Write a clip whose audio track holds only digital silence."""
    return make_clip(path, duration=duration, cuts=(), tone_until=0)


def spoken_length(text: str) -> float:
    """Seconds ``text`` takes to say, as :func:`make_speech_clip` says it."""
    with tempfile.TemporaryDirectory(prefix="speech-") as scratch:
        return _synthesise(text, Path(scratch) / "sentence.wav")[1]


def _synthesise(text: str, wav: Path) -> tuple[int, float]:
    """Write ``text`` spoken to ``wav``; return its sample rate and audible length (s)."""
    espeak = espeak_exe()
    if espeak is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    subprocess.run(
        [espeak, "-v", VOICE, "-s", str(WORDS_PER_MINUTE), "-w", str(wav), text],
        check=True,
        capture_output=True,
    )
    return _audible_length(wav)


def _audible_length(wav: Path) -> tuple[int, float]:
    """The WAV's sample rate, and seconds from its start to its last audible sample."""
    with wave.open(str(wav)) as reader:
        rate = reader.getframerate()
        if reader.getsampwidth() != 2 or reader.getnchannels() != 1:
            raise ValueError(f"{wav}: expected 16-bit mono PCM from espeak-ng")
        samples = np.frombuffer(reader.readframes(reader.getnframes()), "<i2")
    audible = np.flatnonzero(np.abs(samples.astype(np.float32) / 32768) > AUDIBLE)
    return rate, float(audible[-1] + 1) / rate if len(audible) else 0.0
