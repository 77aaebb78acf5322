"""The on-screen text reader on generated clips whose every rendered line is known.

No database and no Django: each test calls ``read_onscreen_text`` on a clip
made by :mod:`testkit.textclips`, once per test process (the clips and the
reads are shared through session fixtures; the model is loaded once by the
module itself).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from analysis.analyzers import onscreen
from analysis.analyzers.onscreen import (
    MODEL_MISSING,
    MODEL_NAME,
    NO_TEXT,
    OnscreenTextUnavailable,
    read_onscreen_text,
    text_distance,
)
from testkit import textclips
from testkit.textclips import Line, TextClip

MAKERS: dict[str, Callable[[Path], TextClip]] = {
    "slides": textclips.slides_clip,
    "captions": textclips.captions_clip,
    "title": textclips.title_clip,
    "credits": textclips.credits_clip,
    "overlay": textclips.overlay_clip,
    "no-text": textclips.no_text_clip,
}

Read = tuple[TextClip, dict[str, Any], list[float]]


@pytest.fixture(scope="session")
def read(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Read]:
    """Make (once a session) the clip of that name and read it: (clip, result, progress fractions)."""
    folder = tmp_path_factory.mktemp("textclips")
    done: dict[str, Read] = {}

    def read(name: str) -> Read:
        if name not in done:
            clip = textclips.cached(MAKERS[name], folder, name)
            fractions: list[float] = []
            result = read_onscreen_text(
                clip.path, duration=clip.duration, cuts=clip.cuts, progress=fractions.append
            )
            done[name] = (clip, result, fractions)
        return done[name]

    return read


def span_of(line: Line, spans: list[dict[str, Any]]) -> dict[str, Any]:
    """The span that read ``line``: the same words, overlapping it on screen."""
    matches = [
        span
        for span in spans
        if text_distance(span["text"], line.text) <= 0.1
        and span["start"] < line.end
        and span["end"] > line.start
    ]
    assert len(matches) == 1, f"{line.text!r}: {matches or spans}"
    return matches[0]


def test_it_reads_every_slide_line_once_with_its_times(read) -> None:
    clip, result, _ = read("slides")
    spans = result["spans"]
    assert result["model"] == MODEL_NAME
    assert len(spans) == len(clip.lines) == 8
    for line in clip.lines:
        span = span_of(line, spans)
        assert span["text"] == line.text
        assert abs(span["start"] - line.start) <= 1.0
        assert abs(span["end"] - line.end) <= 1.0
        assert span["confidence"] >= 0.8
    assert "note" not in result


def test_the_box_is_where_the_line_is_drawn(read) -> None:
    clip, result, _ = read("slides")
    for line in clip.lines:
        box = span_of(line, result["spans"])["box"]
        assert all(0.0 <= v <= 1.0 for v in box)
        centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        assert line.box[0] <= centre[0] <= line.box[2]
        assert line.box[1] <= centre[1] <= line.box[3]


def test_spans_are_sorted_by_time_then_top_then_left(read) -> None:
    _, result, _ = read("slides")
    keys = [(s["start"], s["box"][1], s["box"][0]) for s in result["spans"]]
    assert keys == sorted(keys)


def test_a_caption_change_is_a_new_span(read) -> None:
    clip, result, _ = read("captions")
    spans = result["spans"]
    assert [s["text"] for s in spans] == [line.text for line in clip.lines] == list(textclips.CAPTIONS)
    for line, span in zip(clip.lines, spans, strict=True):
        assert abs(span["start"] - line.start) <= 1.0
        assert abs(span["end"] - line.end) <= 1.0
    # Captions at the bottom: the box says so.
    assert all(span["box"][1] > 0.8 for span in spans)


def test_the_title_card_is_the_largest_early_text(read) -> None:
    _, result, _ = read("title")
    early = [span for span in result["spans"] if span["start"] < 5.0]
    title = max(early, key=lambda span: span["height"])
    assert title["text"] == "The Northern Lights"
    assert title["start"] == 0.0
    assert abs(title["end"] - 3.0) <= 1.0
    assert {span["text"] for span in result["spans"]} == {
        "The Northern Lights",
        "A film by Ana Lima",
        "Where auroras form",
        "High above the polar regions",
    }


def test_it_reads_text_held_over_moving_footage(read) -> None:
    clip, result, _ = read("overlay")
    (line,) = clip.lines
    (span,) = result["spans"]
    assert span["text"] == line.text == "Harbour at dawn"
    assert abs(span["start"] - 2.0) <= 1.0
    assert abs(span["end"] - 8.0) <= 1.0


def test_it_reads_every_name_of_scrolling_credits(read) -> None:
    _, result, _ = read("credits")
    texts = [span["text"] for span in result["spans"]]
    for credit in textclips.CREDITS:
        assert any(text_distance(text, credit) <= 0.2 for text in texts), (credit, texts)
    assert all(any(text_distance(text, credit) <= 0.5 for credit in textclips.CREDITS) for text in texts), (
        texts
    )


def test_it_finds_nothing_on_footage_without_text(read) -> None:
    _, result, _ = read("no-text")
    assert result["spans"] == []
    assert result["note"] == NO_TEXT
    assert result["frames_read"] >= 1


def test_it_reads_far_fewer_pictures_than_it_samples(read) -> None:
    clip, result, _ = read("slides")
    sampled = clip.duration * onscreen.SAMPLE_FPS
    assert result["frames_read"] <= sampled / 4


def test_progress_rises_to_one(read) -> None:
    _, _, fractions = read("captions")
    assert fractions[0] == 0.0
    assert fractions[-1] == 1.0
    assert fractions == sorted(fractions)
    assert len(fractions) > 10


def test_it_is_unavailable_when_the_model_cannot_be_loaded(read, tmp_path: Path, monkeypatch) -> None:
    clip, _, _ = read("title")
    monkeypatch.setattr(onscreen, "MODEL_DIR", tmp_path / "no-models-here")
    monkeypatch.setattr(onscreen, "_engine", onscreen._engine.fresh())
    with pytest.raises(OnscreenTextUnavailable) as caught:
        read_onscreen_text(clip.path)
    assert caught.value.reason == MODEL_MISSING
    assert "no-models-here" in caught.value.detail


def test_a_file_that_is_no_video_is_unreadable(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    with pytest.raises(OnscreenTextUnavailable) as caught:
        read_onscreen_text(junk)
    assert caught.value.reason == onscreen.UNREADABLE_PICTURE


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_onscreen_text(tmp_path / "missing.mp4")


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [("Revenue grew", "revenue  grew", 0.0), ("abcde", "abcdx", 0.2), ("", "", 0.0), ("abc", "", 1.0)],
)
def test_text_distance_ignores_case_and_spaces(a: str, b: str, expected: float) -> None:
    assert text_distance(a, b) == pytest.approx(expected)
