"""Tests for the pure local analyzer, on clips generated with known content.

No database and no Django: each test calls ``analyze`` on a file.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from analysis.analyzers import errors
from analysis.analyzers.decode import Decoder, Plan
from analysis.analyzers.images import storyboard_interval
from analysis.analyzers.local import ANALYZER_NAME, ANALYZER_VERSION, AnalysisError, analyze
from analysis.tests.clips import (
    Clip,
    make_audio_only,
    make_clip,
    make_garbage,
    make_not_video,
    make_rotated,
    make_truncated,
)

FPS = 25
CUTS = (1.6, 3.4, 4.72)
SILENCE = (2.5, 4.0)


@pytest.fixture(scope="module")
def clips_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="module")
def clip(clips_dir: Path) -> Clip:
    return make_clip(clips_dir / "standard.mp4", duration=6.0, fps=FPS, cuts=CUTS, silent_ranges=[SILENCE])


@pytest.fixture(scope="module")
def analysed(clip: Clip, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    out_dir = tmp_path_factory.mktemp("standard-out")
    return analyze(clip, out_dir), out_dir


@pytest.fixture(scope="module")
def result(analysed: tuple[dict[str, Any], Path]) -> dict[str, Any]:
    return analysed[0]


def assert_jpeg(path: Path) -> tuple[int, int]:
    """Fail unless ``path`` is a complete JPEG; return its size."""
    with Image.open(path) as image:
        assert image.format == "JPEG"
        image.load()  # decodes every byte: a truncated file fails here
        return image.size


def assert_refused(path: Path, reason: str, out_dir: Path) -> None:
    with pytest.raises(AnalysisError) as caught:
        analyze(path, out_dir)
    assert caught.value.reason == reason
    assert str(caught.value) == reason


def test_it_names_itself() -> None:
    assert ANALYZER_NAME == "local"
    assert ANALYZER_VERSION


def test_it_reads_metadata(clip: Clip, result: dict[str, Any]) -> None:
    metadata = result["metadata"]
    assert metadata["container"] == "mp4"
    assert metadata["duration"] == pytest.approx(clip.duration, abs=1 / FPS)
    assert metadata["video_codec"] == "h264"
    assert (metadata["width"], metadata["height"]) == (320, 180)
    assert metadata["frame_rate"] == FPS
    assert metadata["rotation"] == 0
    assert metadata["has_audio"] is True
    assert metadata["audio_codec"] == "aac"
    assert metadata["audio_channels"] == 2
    assert metadata["audio_sample_rate"] == 44100
    assert metadata["file_size"] == clip.path.stat().st_size
    # Bits per second over the whole file, give or take the container's overhead.
    expected_rate = clip.path.stat().st_size * 8 / clip.duration
    assert metadata["bit_rate"] == pytest.approx(expected_rate, rel=0.05)


def test_it_finds_the_cuts_within_two_frames(clip: Clip, result: dict[str, Any]) -> None:
    assert len(result["cuts"]) == len(clip.cuts)
    for found, true in zip(result["cuts"], clip.cuts, strict=True):
        assert abs(found - true) <= 2 / FPS, (result["cuts"], clip.cuts)


def test_it_lists_scenes_between_the_cuts(clip: Clip, result: dict[str, Any]) -> None:
    scenes = result["scenes"]
    assert [s["index"] for s in scenes] == [1, 2, 3, 4]
    assert scenes[0]["start"] == 0
    assert [s["start"] for s in scenes[1:]] == result["cuts"]
    assert [s["end"] for s in scenes[:-1]] == result["cuts"]
    assert scenes[-1]["end"] == pytest.approx(clip.duration, abs=1 / FPS)
    assert [s["thumbnail"] for s in scenes] == [f"scene-00{i}.jpg" for i in range(1, 5)]


def test_it_writes_a_thumbnail_of_each_scene(analysed: tuple[dict[str, Any], Path]) -> None:
    result, out_dir = analysed
    thumbnails = [assert_jpeg(out_dir / s["thumbnail"]) for s in result["scenes"]]
    assert thumbnails == [(320, 180)] * 4
    # Neighbouring scenes come from different sources, so their pictures differ.
    pixels = [Image.open(out_dir / s["thumbnail"]).convert("L").getdata() for s in result["scenes"]]
    for before, after in itertools.pairwise(pixels):
        difference = sum(abs(a - b) for a, b in zip(before, after, strict=True)) / len(before)
        assert difference > 10


def test_it_writes_a_poster(analysed: tuple[dict[str, Any], Path]) -> None:
    result, out_dir = analysed
    assert result["poster"] == "poster.jpg"
    assert assert_jpeg(out_dir / "poster.jpg") == (320, 180)
    with Image.open(out_dir / "poster.jpg") as poster:
        low, high = poster.convert("L").getextrema()
    assert high - low > 50  # not a black (or flat) frame


def test_it_writes_a_storyboard_with_the_stated_geometry(
    clip: Clip, analysed: tuple[dict[str, Any], Path]
) -> None:
    result, out_dir = analysed
    board = result["storyboard"]
    assert board["image"] == "storyboard.jpg"
    assert board["interval"] == 0.5
    assert board["count"] == math.ceil(clip.duration / board["interval"])
    assert (board["tile_width"], board["tile_height"]) == (160, 90)
    assert board["columns"] * (board["rows"] - 1) < board["count"] <= board["columns"] * board["rows"]
    assert assert_jpeg(out_dir / "storyboard.jpg") == (
        board["columns"] * board["tile_width"],
        board["rows"] * board["tile_height"],
    )


@pytest.mark.parametrize(
    ("duration", "interval"), [(6.0, 0.5), (50.0, 0.5), (60.0, 1.0), (600.0, 10.0), (7200.0, 120.0)]
)
def test_it_keeps_storyboards_to_about_a_hundred_tiles(duration: float, interval: float) -> None:
    assert storyboard_interval(duration) == interval


def test_it_returns_plain_data_with_relative_picture_names(
    analysed: tuple[dict[str, Any], Path],
) -> None:
    result, out_dir = analysed
    assert json.loads(json.dumps(result)) == result
    names = [result["poster"], result["storyboard"]["image"]]
    names += [s["thumbnail"] for s in result["scenes"]]
    assert sorted(names) == sorted(p.name for p in out_dir.iterdir())


def test_it_measures_timelines_per_second(clip: Clip, result: dict[str, Any]) -> None:
    timelines = result["timelines"]
    seconds = math.ceil(clip.duration)
    assert {name: len(values) for name, values in timelines.items()} == {
        "brightness": seconds,
        "motion": seconds,
        "loudness": seconds,
    }
    assert all(0 < value < 255 for value in timelines["brightness"])
    assert all(value >= 0 for value in timelines["motion"])
    # testsrc2 (the first scene) moves; SMPTE bars (the second) stand still.
    assert timelines["motion"][0] > 0.5
    assert timelines["motion"][2] < 0.2


def test_it_measures_loudness_lower_in_the_silence(result: dict[str, Any]) -> None:
    loudness = result["timelines"]["loudness"]
    # The tone peaks at 1/8 of full scale: RMS = 20*log10(1/8/sqrt(2)) = -21.1 dBFS.
    assert loudness[0] == pytest.approx(-21.1, abs=0.5)
    assert loudness[5] == pytest.approx(-21.1, abs=0.5)
    assert loudness[3] == -91.0  # the whole of second 3 is digital silence


def test_it_finds_the_silent_stretch(result: dict[str, Any]) -> None:
    [silence] = result["silences"]
    assert silence["start"] == pytest.approx(SILENCE[0], abs=0.1)
    assert silence["end"] == pytest.approx(SILENCE[1], abs=0.1)


def test_it_handles_a_clip_without_audio(clips_dir: Path, tmp_path: Path) -> None:
    clip = make_clip(clips_dir / "mute.mp4", duration=3.0, cuts=(1.5,), audio=False)
    result = analyze(clip, tmp_path)
    metadata = result["metadata"]
    assert metadata["has_audio"] is False
    assert metadata["audio_codec"] is None
    assert metadata["audio_channels"] is None
    assert metadata["audio_sample_rate"] is None
    assert result["timelines"]["loudness"] == []
    assert len(result["timelines"]["brightness"]) == 3
    assert result["silences"] == []
    assert result["cuts"] == [round(c, 3) for c in clip.cuts]


def test_it_reports_progress_rising_to_100(clip: Clip, tmp_path: Path) -> None:
    calls: list[tuple[int, str]] = []
    analyze(clip, tmp_path, progress=lambda percent, stage: calls.append((percent, stage)))
    percents = [percent for percent, _ in calls]
    assert percents[0] == 0
    assert percents[-1] == 100
    assert percents == sorted(set(percents))  # strictly rising
    assert calls[0][1] == "Reading metadata"
    assert all(stage and isinstance(stage, str) for _, stage in calls)


def test_it_reads_rotation_and_turns_pictures_upright(clip: Clip, clips_dir: Path, tmp_path: Path) -> None:
    rotated = make_rotated(clip, clips_dir / "portrait.mp4", degrees=90)
    result = analyze(rotated, tmp_path)
    metadata = result["metadata"]
    assert metadata["rotation"] == 90
    assert (metadata["width"], metadata["height"]) == (320, 180)  # as stored
    assert assert_jpeg(tmp_path / "poster.jpg") == (180, 320)
    assert assert_jpeg(tmp_path / "scene-001.jpg") == (180, 320)
    board = result["storyboard"]
    assert (board["tile_width"], board["tile_height"]) == (90, 160)


def test_it_ignores_a_flash_within_a_shot(clips_dir: Path, tmp_path: Path) -> None:
    clip = make_clip(clips_dir / "flash.mp4", duration=4.0, cuts=(2.0,), flashes=(1.0, 3.0))
    result = analyze(clip, tmp_path)
    assert result["cuts"] == [2.0]


def test_it_finds_no_cut_in_one_busy_shot(clips_dir: Path, tmp_path: Path) -> None:
    # A scrolling cellular automaton and noise change every pixel every frame.
    busy = ("cellauto=s={s}:r={r}:rule=110:seed=1,noise=alls=20:allf=t",)
    clip = make_clip(clips_dir / "busy.mp4", duration=4.0, cuts=(), sources=busy, audio=False)
    result = analyze(clip, tmp_path)
    assert result["cuts"] == []
    assert [(s["start"], s["end"]) for s in result["scenes"]] == [(0.0, 4.0)]


def test_it_finds_cuts_when_decoding_every_frame(clips_dir: Path, tmp_path: Path) -> None:
    # x264's medium preset uses B-frames, which the default decoding may skip.
    clip = make_clip(clips_dir / "bframes.mp4", duration=5.0, fps=30, cuts=(1.3, 2.9, 3.5), preset="medium")
    fast = analyze(clip, tmp_path / "fast")
    every = analyze(clip, tmp_path / "every", skip_frames=False)
    assert every["cuts"] == [round(c, 3) for c in clip.cuts]
    for found, true in zip(fast["cuts"], clip.cuts, strict=True):
        assert abs(found - true) <= 2 / 30


def test_it_reads_the_same_small_frames_shrunk_before_the_frame_rate_filter(clips_dir: Path) -> None:
    # Shrinking first leaves the filter to copy small frames where the decoder skipped one.
    clip = make_clip(clips_dir / "bframes.mp4", duration=5.0, fps=30, cuts=(1.3, 2.9, 3.5), preset="medium")
    plan = Plan(
        fps=Fraction(30),
        sample_size=(64, 36),
        poster_size=(64, 36),
        poster_start=0.0,
        poster_step=1.0,
        poster_count=1,
        rotation=0,
        audio=False,
        skip="noref",
    )

    def small_frames(scale_first: bool) -> np.ndarray:
        with Decoder(clip.path, replace(plan, scale_first=scale_first)) as decoder:
            frames = np.concatenate(list(decoder.small_frames(16)))
            assert decoder.wait() == 0
        return frames

    first, after = small_frames(True), small_frames(False)
    assert len(first) == 150
    assert np.array_equal(first, after)
    assert np.all(first[1:] == first[:-1], axis=1).sum() >= 10  # the skipped frames, filled in


def test_it_reads_other_containers_and_codecs(clips_dir: Path, tmp_path: Path) -> None:
    clip = make_clip(clips_dir / "other.mkv", duration=3.0, cuts=(1.0,), codec="mpeg4", container="matroska")
    result = analyze(clip, tmp_path)
    assert result["metadata"]["container"] == "matroska"
    assert result["metadata"]["video_codec"] == "mpeg4"
    assert result["cuts"] == [1.0]


def test_it_survives_light_corruption(clip: Clip, clips_dir: Path, tmp_path: Path) -> None:
    data = bytearray(clip.path.read_bytes())
    middle = len(data) * 6 // 10
    data[middle : middle + 2000] = bytes(2000)
    damaged = clips_dir / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    result = analyze(damaged, tmp_path)
    assert result["scenes"][-1]["end"] == pytest.approx(clip.duration, abs=1 / FPS)


def test_it_refuses_a_truncated_file(clip: Clip, clips_dir: Path, tmp_path: Path) -> None:
    truncated = make_truncated(clip, clips_dir / "truncated.mp4")
    assert_refused(truncated, errors.TRUNCATED, tmp_path)
    assert list(tmp_path.iterdir()) == []  # the pictures written on the way are gone


def test_it_refuses_a_file_without_video(clips_dir: Path, tmp_path: Path) -> None:
    assert_refused(make_audio_only(clips_dir / "song.m4a"), errors.NO_VIDEO, tmp_path)


def test_it_refuses_a_picture_named_like_a_video(clips_dir: Path, tmp_path: Path) -> None:
    assert_refused(make_not_video(clips_dir / "picture.mp4"), errors.STILL_IMAGE, tmp_path)


def test_it_refuses_garbage(clips_dir: Path, tmp_path: Path) -> None:
    assert_refused(make_garbage(clips_dir / "garbage.mp4"), errors.UNREADABLE, tmp_path)


def test_it_refuses_an_empty_file(clips_dir: Path, tmp_path: Path) -> None:
    empty = clips_dir / "empty.mp4"
    empty.write_bytes(b"")
    assert_refused(empty, errors.EMPTY, tmp_path)


def test_it_raises_file_not_found_for_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        analyze(tmp_path / "nowhere.mp4", tmp_path / "out")
