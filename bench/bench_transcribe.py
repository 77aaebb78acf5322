"""Benchmark offline speech to text: speed and word error rate on generated speech.

Run from the project root (no Django needed)::

    python -m bench.bench_transcribe [--runs 3] [--variants]

Generates a clip of about 67 s: a fixed paragraph of ordinary English (an
office update, 14 sentences, 151 words) spoken by espeak-ng with pauses of
0.7-2.5 s between the sentences, under a test picture, as H.264 + AAC. Then it
loads the model (timed, imports included: what each process that transcribes
pays once) and times, round by round so that background load hits all of them
alike:

- ``chosen``: :func:`analysis.analyzers.transcribe.transcribe` as it is;
- ``faster-whisper defaults``: the same file with ``options={}`` (beam search
  of 5, no voice-activity filter, each window conditioned on the one before);
- with ``--variants``, a few single changes to the chosen settings.

Each run includes decoding the audio from the file. Prints a table, then the
chosen settings' transcript, then one ``name: value`` line per figure. Times
are the best of the runs (the least disturbed by other work on the machine);
medians and CPU seconds (all threads of this process) are in the table.
``x real`` is seconds of audio per wall second; ``WER`` the word error rate
(lower case, punctuation dropped); ``start err`` the worst distance from a
sentence's start to the nearest segment start.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from analysis.analyzers.transcribe import TRANSCRIBE_OPTIONS, load_model, transcribe
from analysis.tests.speech import SpeechClip, make_speech_clip, spoken_length

PARAGRAPH = (
    "Good morning everyone, and thank you for joining the call today.",
    "We will start with a short update on the new office building.",
    "The builders finished the roof last week, two days ahead of schedule.",
    "Next month they will install the windows and the heating system.",
    "Our budget for the project is still on track.",
    "However, the price of steel went up again in the spring.",
    "Maria has asked the supplier for a better offer.",
    "We expect an answer from them before the end of the week.",
    "The second topic is the summer party for all the staff.",
    "It will take place by the lake on the last Friday in July.",
    "Please tell Peter if you would like to bring your family.",
    "Finally, remember to send your travel expenses by Monday.",
    "If you have any questions, you can write to me at any time.",
    "Thank you, and have a pleasant afternoon.",
)
PAUSES = (1.2, 0.8, 1.5, 1.0, 2.0, 0.9, 1.3, 2.5, 1.1, 0.7, 1.6, 1.0, 1.8)
"""Seconds of silence after each sentence but the last."""
LEAD_IN = 1.0
TAIL = 1.5

CHOSEN = "chosen"
DEFAULTS = "faster-whisper defaults"
VARIANTS: dict[str, Mapping[str, Any] | None] = {
    CHOSEN: None,
    DEFAULTS: {},
}
EXTRA_VARIANTS: dict[str, Mapping[str, Any]] = {
    "greedy": {**TRANSCRIBE_OPTIONS, "beam_size": 1},
    "beam 5": {**TRANSCRIBE_OPTIONS, "beam_size": 5},
    "no vad": {**TRANSCRIBE_OPTIONS, "vad_filter": False},
    "segment times": {**TRANSCRIBE_OPTIONS, "word_timestamps": False},
    "no fallback": {**TRANSCRIBE_OPTIONS, "temperature": 0.0},
}


def bench_clip(folder: Path) -> SpeechClip:
    """The paragraph, each sentence starting a pause after the one before it ends."""
    sentences: list[tuple[float, str]] = []
    start = LEAD_IN
    for text, pause in zip(PARAGRAPH, (*PAUSES, 0.0), strict=True):
        sentences.append((round(start, 2), text))
        start += spoken_length(text) + pause
    return make_speech_clip(folder / "speech-paragraph.mp4", sentences, duration=round(start + TAIL))


def words(text: str) -> list[str]:
    """Lower-case words, punctuation dropped (an apostrophe inside a word stays)."""
    return re.findall(r"[a-z0-9]+(?:'[a-z0-9]+)*", text.lower())


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level Levenshtein distance over the number of reference words."""
    ref, hyp = words(reference), words(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i]
        for j, hyp_word in enumerate(hyp, start=1):
            current.append(
                min(
                    previous[j] + 1,  # a reference word missed
                    current[j - 1] + 1,  # a word inserted
                    previous[j - 1] + (ref_word != hyp_word),  # kept or substituted
                )
            )
        previous = current
    return previous[-1] / max(1, len(ref))


def start_error(clip: SpeechClip, segments: Sequence[Mapping[str, Any]]) -> float:
    """Worst distance from a sentence's start to the nearest segment start (seconds)."""
    if not segments:
        return float("inf")
    return max(min(abs(s["start"] - sentence.start) for s in segments) for sentence in clip.sentences)


def timed(clip: SpeechClip, options: Mapping[str, Any] | None) -> tuple[float, float, dict[str, Any]]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = transcribe(clip.path, options=options)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--variants", action="store_true", help="also time single changes to the settings")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    contenders = dict(VARIANTS)
    if args.variants:
        contenders.update(EXTRA_VARIANTS)

    with tempfile.TemporaryDirectory(prefix="bench-transcribe-") as folder:
        print("generating the speech clip ...", file=sys.stderr)
        clip = bench_clip(Path(folder))
        start = time.perf_counter()
        load_model()
        load_seconds = time.perf_counter() - start

        walls: dict[str, list[float]] = {name: [] for name in contenders}
        cpus: dict[str, list[float]] = {name: [] for name in contenders}
        results: dict[str, dict[str, Any]] = {}
        for _ in range(args.runs):
            for name, options in contenders.items():
                wall, cpu, results[name] = timed(clip, options)
                walls[name].append(wall)
                cpus[name].append(cpu)

    audio = clip.duration
    print(
        f"clip: {audio:.1f} s, {len(clip.sentences)} sentences, {len(words(clip.text))} words, "
        f"speech until {clip.speech_end:.1f} s; best and median of {args.runs} runs\n"
    )
    print(
        f"{'':26}{'best s':>8}{'median s':>10}{'cpu s':>8}{'x real':>8}{'WER':>7}{'start err':>11}{'segs':>6}"
    )
    figures: dict[str, float] = {}
    for name in contenders:
        best = min(walls[name])
        segments = results[name]["segments"]
        wer = word_error_rate(clip.text, " ".join(s["text"] for s in segments))
        error = start_error(clip, segments)
        print(
            f"{name:26}{best:8.2f}{statistics.median(walls[name]):10.2f}{min(cpus[name]):8.2f}"
            f"{audio / best:8.1f}{wer:7.3f}{error:11.2f}{len(segments):6}"
        )
        if name == CHOSEN:
            figures |= {
                "transcribe_seconds": best,
                "transcribe_x_realtime": audio / best,
                "transcript_word_error_rate": wer,
                "transcript_start_error_seconds": error,
            }
        elif name == DEFAULTS:
            figures |= {
                "transcribe_default_settings_seconds": best,
                "transcribe_default_settings_x_realtime": audio / best,
                "transcribe_default_settings_word_error_rate": wer,
                "transcribe_default_settings_start_error_seconds": error,
            }
    figures["transcribe_audio_seconds"] = audio
    figures["transcribe_model_load_seconds"] = load_seconds
    print()

    print("transcript (chosen settings):")
    for segment in results[CHOSEN]["segments"]:
        print(f"  {segment['start']:6.2f} {segment['end']:6.2f}  {segment['text']}")
    print()
    for name, value in figures.items():
        print(f"{name}: {value:.3f}")


if __name__ == "__main__":
    main()
