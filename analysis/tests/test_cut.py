"""The cutter (analysis/analyzers/cut.py) on a video whose frames carry their own numbers
(analysis/tests/numbered.py): reading a clip's frames back says which source frames it holds."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from PIL import Image

from analysis.analyzers.cut import EXACT, FAST, Caption, CutError, cut, keyframe_at_or_before
from analysis.tests.numbered import FPS, H, beep_onsets, frame_numbers, make_numbered


@pytest.fixture(scope="module")
def numbered(tmp_path_factory) -> Path:
    return make_numbered(tmp_path_factory.mktemp("cut") / "numbered.mp4")


def _bottom_darkness(path: Path) -> list[float]:
    """Per frame, how much darker than the grey the caption band's rows are."""
    with av.open(str(path)) as container:
        return [
            128 - float(f.to_ndarray(format="rgb24")[H - 20 : H - 12, :40].mean())
            for f in container.decode(video=0)
        ]


def test_it_decodes_its_own_source(numbered):
    assert frame_numbers(numbered)[:30] == list(range(30))


def test_it_cuts_exactly_at_the_frames_asked_for(numbered, tmp_path):
    result = cut(numbered, tmp_path, start=1.4, end=3.2, mode=EXACT)
    numbers = frame_numbers(result.clip)
    assert result.start_used == 1.4
    assert abs(numbers[0] - round(1.4 * FPS)) <= 1
    # The last frame is the one shown just before the end.
    assert abs(numbers[-1] - (round(3.2 * FPS) - 1)) <= 1
    assert numbers == list(range(numbers[0], numbers[-1] + 1))


def test_it_starts_a_fast_cut_at_the_keyframe_it_names(numbered, tmp_path):
    assert keyframe_at_or_before(numbered, 2.5) == pytest.approx(2.0, abs=0.01)
    assert keyframe_at_or_before(numbered, 3.0) == pytest.approx(3.0, abs=0.01)
    result = cut(numbered, tmp_path, start=2.5, end=4.0, mode=FAST)
    assert result.start_used == pytest.approx(2.0, abs=0.01)
    numbers = frame_numbers(result.clip)
    assert numbers[0] == round(result.start_used * FPS)
    assert abs(numbers[-1] - (4 * FPS - 1)) <= 1


def test_it_burns_captions_in_at_their_lines_times(numbered, tmp_path):
    lines = [Caption(1.5, 2.0, "the budget"), Caption(2.6, 3.0, "is discussed here")]
    result = cut(numbered, tmp_path, start=1.0, end=3.4, mode=EXACT, captions=lines)
    assert result.captions_drawn == 2
    dark = _bottom_darkness(result.clip)
    shown = [i for i, d in enumerate(dark) if d > 30]
    # Frames are numbered from the clip's start (1.0 s): lines at 0.5-1.0 s and 1.6-2.0 s.
    expected = [i for i in range(len(dark)) if 0.5 <= i / FPS <= 1.0 or 1.6 <= i / FPS <= 2.0]
    assert len(set(shown) ^ set(expected)) <= 4, (shown, expected)
    # The pictures' numbers are untouched above the band.
    assert frame_numbers(result.clip)[0] == FPS


def test_it_makes_a_soundless_animated_preview_and_a_poster(numbered, tmp_path):
    result = cut(numbered, tmp_path, start=0.0, end=2.0, mode=FAST)
    with Image.open(result.preview) as preview:
        assert preview.format == "WEBP"
        assert preview.n_frames > 1
        assert preview.size[0] == 320
    with Image.open(result.poster) as poster:
        assert poster.format == "JPEG"
    with av.open(str(result.clip)) as container:
        assert container.streams.audio  # the clip keeps its sound


def test_it_refuses_an_end_before_the_start(numbered, tmp_path):
    with pytest.raises(CutError):
        cut(numbered, tmp_path, start=3.0, end=2.0)


@pytest.mark.parametrize(("mode", "start", "end"), [(EXACT, 1.4, 3.2), (FAST, 2.5, 4.4)])
def test_the_sound_stays_in_step_with_the_pictures(numbered, tmp_path, mode, start, end):
    result = cut(numbered, tmp_path, start=start, end=end, mode=mode, preview=False, poster=False)
    numbers = frame_numbers(result.clip)
    source_beeps = beep_onsets(numbered)
    onsets = beep_onsets(result.clip)
    checked = 0
    for second in range(1, 6):
        if second * FPS not in numbers:
            continue
        # Where this second's picture is in the clip, plus how late the source's own beep is after it.
        expected = numbers.index(second * FPS) / FPS + (source_beeps[second] - second)
        assert min(abs(expected - onset) for onset in onsets) <= 0.01, (second, expected, onsets)
        checked += 1
    assert checked >= 1
