"""Scene detection on footage that looks real (:mod:`testkit.footage`).

Each test films a short clip from scikit-image's photographs (panning,
shaking, grainy) with one thing in it that the benchmark's corpus taught us
about, and checks what the local analyzer makes of it. No Django: each test
calls ``analyze`` on a file. Clips are made once per test session.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from analysis.analyzers.local import analyze
from analysis.analyzers.references import Runs, skippable_runs
from analysis.analyzers.refine import place_cuts
from analysis.analyzers.scenes import Boundary
from analysis.tests.clips import available_encoders, make_clip
from testkit.footage import CAMERA_GOP, CUT, Footage, Join, Shot, Truth, cached

SIZE = (480, 270)
WARM = ((128.0, 112.0, 96.0), (52.0, 48.0, 46.0))  # one grade for two shots: same brightness and colour

LONG_FADE = Footage(
    name="test-long-fade",
    size=SIZE,
    fps="25",
    shots=(
        Shot("chelsea.png", 40, width=0.6, pan=(0.02, 0.0)),
        Shot("rocket.jpg", 40, width=0.5, shake=0.002),
    ),
    joins=(Join("fade", 12, hold=125),),
)

CLIPS = {
    "similar": Footage(
        name="test-similar",
        size=SIZE,
        fps="25",
        shots=(
            Shot("astronaut.png", 30, centre=(0.4, 0.35), width=0.5, pan=(-0.05, 0.02), look=WARM),
            Shot("astronaut.png", 30, centre=(0.62, 0.72), width=0.45, pan=(0.04, 0.0), look=WARM),
        ),
    ),
    "last-second": Footage(
        name="test-last-second",
        size=SIZE,
        fps="30000/1001",
        shots=(
            Shot("rocket.jpg", 12, width=0.55, shake=0.003),  # a cut in the first second too
            Shot("coffee.png", 40, width=0.7, zoom=0.12),
            Shot("motorcycle_left.png", 8, width=0.7, pan=(0.1, 0.0)),
        ),
    ),
    "montage": Footage(
        name="test-montage",
        size=SIZE,
        fps="50",
        shots=(
            Shot("hubble_deep_field.jpg", 30, width=0.5, pan=(0.05, 0.0)),
            Shot("coins.png", 5, width=0.7, tint=(1.0, 0.9, 0.7)),
            Shot("coffee.png", 4, width=0.6),
            Shot("astronaut.png", 6, width=0.5, centre=(0.4, 0.4)),
            Shot("chelsea.png", 35, width=0.6, shake=0.002),
        ),
    ),
    "flash": Footage(
        name="test-flash",
        size=SIZE,
        fps="30",
        shots=(
            Shot("astronaut.png", 45, width=0.55, pan=(0.03, 0.0), shake=0.003),
            Shot("chelsea.png", 35, width=0.65, shake=0.003),
        ),
        flashes=((12, 2), (43, 1), (60, 3)),  # the second a frame before the cut
    ),
    "fade": Footage(
        name="test-fade",
        size=SIZE,
        fps="25",
        shots=(
            Shot("chelsea.png", 30, width=0.6, pan=(0.02, 0.0)),
            Shot("rocket.jpg", 35, width=0.5, gain=(1.0, 1.0, 0.5), shake=0.002),
        ),
        joins=(Join("fade", 10, hold=2),),
        fade_in=10,
    ),
    # Fade out, black for 5-6 s (longer than a pass's look back and ahead), fade in:
    # an editor's clean black (one frame repeated) and a camera's grainy one.
    "long-fade": LONG_FADE,
    "long-grainy-fade": replace(
        LONG_FADE, name="test-long-grainy-fade", joins=(Join("fade", 12, hold=150, grain=2.5),)
    ),
    "dissolve": Footage(
        name="test-dissolve",
        size=SIZE,
        fps="30",
        shots=(
            Shot("rocket.jpg", 40, width=0.55, zoom=0.08),
            Shot("astronaut.png", 45, width=0.5, pan=(0.04, 0.0), look=WARM),
        ),
        joins=(Join("dissolve", 20),),
    ),
    "grey-fade": Footage(
        name="test-grey-fade",
        size=SIZE,
        fps="30",
        shots=(Shot("grey", 75, gain=(0.0, 1.0, 2.2, 1.0, 0.0), noise=2.0),),
    ),
    "passer-by": Footage(
        name="test-passer-by",
        size=SIZE,
        fps="25",
        shots=(Shot("motorcycle_left.png", 60, width=0.7, pan=(0.02, 0.0), shake=0.002),),
        passers=((20, 12),),
    ),
    "whip": Footage(
        name="test-whip",
        size=SIZE,
        fps="30",
        shots=(Shot("retina.jpg", 60, centre=(0.3, 0.45), width=0.35, shake=0.004, whip=(20, 6, 1.2, 0.1)),),
    ),
    "whip-cut": Footage(
        name="test-whip-cut",
        size=SIZE,
        fps="30",
        shots=(
            Shot("retina.jpg", 30, centre=(0.3, 0.5), width=0.35, whip=(24, 10, 1.2, 0.0)),
            Shot("hubble_deep_field.jpg", 30, centre=(0.3, 0.5), width=0.4, whip=(-5, 10, 1.0, 0.0)),
        ),
    ),
    "camera-gop": Footage(
        name="test-camera-gop",
        size=SIZE,
        fps="24",
        shots=(
            Shot("grass.png", 21, width=0.5, pan=(0.05, 0.0), tint=(0.9, 1.0, 0.8)),
            Shot("gravel.png", 23, width=0.5, pan=(0.0, 0.04), tint=(0.9, 1.0, 0.8)),
            Shot("brick.png", 20, width=0.6, zoom=0.08, tint=(0.9, 1.0, 0.8)),
        ),
        x264=CAMERA_GOP,
    ),
    "no-pyramid": Footage(
        name="test-no-pyramid",
        size=SIZE,
        fps="25",
        shots=(
            Shot("chelsea.png", 22, width=0.6),
            Shot("coffee.png", 23, width=0.6, pan=(0.03, 0.0)),
            Shot("ihc.png", 20, width=0.5),
        ),
        joins=(CUT, CUT),
        x264="bframes=3:b-pyramid=none:b-adapt=0:scenecut=0:keyint=100",
    ),
}


@pytest.fixture(scope="session")
def footage_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("footage")


@pytest.fixture(scope="session")
def film(footage_dir: Path):
    """Make (once a session) the clip of that name, analyse it, return (truth, result)."""
    results: dict[str, tuple[Truth, dict[str, Any]]] = {}

    def film(name: str) -> tuple[Truth, dict[str, Any]]:
        if name not in results:
            truth = cached(CLIPS[name], footage_dir)
            out = footage_dir / f"{name}-out"
            results[name] = (truth, analyze(truth.path, out))
        return results[name]

    return film


def frames(times: list[float], truth: Truth) -> list[int]:
    return [round(t * truth.fps) for t in times]


def assert_cuts(result: dict[str, Any], truth: Truth) -> None:
    """The hard cuts found are the true ones, each within a frame."""
    found = frames(result["cuts"], truth)
    assert len(found) == len(truth.cuts), (found, truth.cuts)
    for cut, true in zip(found, truth.cuts, strict=True):
        assert abs(cut - true) <= 1, (found, truth.cuts)


def test_it_finds_a_cut_between_shots_of_the_same_brightness_and_colour(film) -> None:
    truth, result = film("similar")
    assert_cuts(result, truth)
    assert result["transitions"] == []
    assert len(result["scenes"]) == 2


def test_it_finds_cuts_in_the_first_and_the_last_second(film) -> None:
    truth, result = film("last-second")
    assert truth.cuts[0] < truth.fps
    assert truth.frames - truth.cuts[-1] < truth.fps
    assert_cuts(result, truth)
    assert [scene["index"] for scene in result["scenes"]] == [1, 2, 3]


def test_it_finds_shots_of_four_to_six_frames(film) -> None:
    truth, result = film("montage")
    assert_cuts(result, truth)


def test_it_takes_no_flash_for_a_cut(film) -> None:
    truth, result = film("flash")
    assert_cuts(result, truth)  # the one real cut, a frame after a flash


def test_it_reports_a_fade_through_black_as_one_transition(film) -> None:
    truth, result = film("fade")
    assert result["cuts"] == []  # nor the fade in from black at the start, nor the lighting ramp
    [transition] = result["transitions"]
    [(_, first, last)] = truth.gradual
    assert transition["kind"] == "fade"
    start, end = frames([transition["start"], transition["end"]], truth)
    assert abs(start - first) <= 2, (start, end, truth.gradual)
    assert abs(end - (last + 1)) <= 2, (start, end, truth.gradual)
    first_scene, second_scene = result["scenes"]
    assert "transition" not in first_scene
    assert second_scene["transition"] == transition
    assert transition["start"] < second_scene["start"] < transition["end"]


@pytest.mark.parametrize("name", ["long-fade", "long-grainy-fade"])
def test_it_reports_a_fade_through_a_long_black_as_one_transition(film, name: str) -> None:
    truth, result = film(name)
    assert result["cuts"] == []
    [transition] = result["transitions"]
    [(_, first, last)] = truth.gradual
    assert last - first > 5 * truth.fps
    assert transition["kind"] == "fade"
    start, end = frames([transition["start"], transition["end"]], truth)
    assert abs(start - first) <= 3, (start, end, truth.gradual)
    assert abs(end - (last + 1)) <= 3, (start, end, truth.gradual)
    assert len(result["scenes"]) == 2


def test_it_reports_a_dissolve_as_one_transition(film) -> None:
    truth, result = film("dissolve")
    assert result["cuts"] == []
    [transition] = result["transitions"]
    [(_, first, last)] = truth.gradual
    assert transition["kind"] == "dissolve"
    start, end = frames([transition["start"], transition["end"]], truth)
    assert abs(start - first) <= 3, (start, end, truth.gradual)
    assert abs(end - (last + 1)) <= 3, (start, end, truth.gradual)
    assert [scene["transition"]["kind"] for scene in result["scenes"][1:]] == ["dissolve"]


@pytest.mark.parametrize("name", ["grey-fade", "passer-by", "whip"])
def test_it_finds_nothing_in_one_shot(film, name: str) -> None:
    # Black -> white -> black; someone passing close to the lens; a whip pan.
    _, result = film(name)
    assert result["cuts"] == []
    assert result["transitions"] == []
    assert len(result["scenes"]) == 1


def test_it_finds_a_cut_in_the_blur_of_a_whip_pan(film) -> None:
    # The blur takes the detail away either side of the cut, as a fade through black would.
    truth, result = film("whip-cut")
    assert_cuts(result, truth)
    assert result["transitions"] == []


def test_it_places_cuts_within_a_frame_when_it_skips_frames(film, footage_dir: Path) -> None:
    # A camera's fixed GOP: cuts land anywhere, two frames in a row are skipped.
    truth, result = film("camera-gop")
    assert skippable_runs(truth.path) == Runs(nonreference=2, bidirectional=2)
    assert_cuts(result, truth)


def test_it_decodes_a_longer_gap_again_to_place_the_cut_in_it(film) -> None:
    # IBBBP with no scene-cut detection: both cuts fall on the middle of three B-frames.
    truth, result = film("no-pyramid")
    assert skippable_runs(truth.path) == Runs(nonreference=3, bidirectional=3)
    assert frames(result["cuts"], truth) == list(truth.cuts)  # exact, not the gap's middle
    # What the detector hands over for the first: the gap 21-23 before the P-frame at 24.
    guess = Boundary("cut", 23, 23, skipped=3)
    (placed,) = place_cuts(truth.path, Fraction(25), [guess], longer_than=2)
    assert placed == Boundary("cut", truth.cuts[0], truth.cuts[0])
    # A gap short enough to guess is left alone.
    assert place_cuts(truth.path, Fraction(25), [Boundary("cut", 23, 23, skipped=2)], longer_than=2) == [
        Boundary("cut", 23, 23, skipped=2)
    ]


def test_it_reads_how_many_frames_in_a_row_it_could_skip(footage_dir: Path) -> None:
    recipe = CLIPS["similar"]
    shots = (recipe.shots[0],)
    pyramid = cached(Footage(name="refs-pyramid", size=(320, 180), fps="25", shots=shots), footage_dir)
    flat = cached(
        Footage(name="refs-p", size=(320, 180), fps="25", shots=shots, x264="bframes=0"), footage_dir
    )
    # x264's B-pyramid: b B b, three B-frames in a row, one of them referred to.
    assert skippable_runs(pyramid.path) == Runs(nonreference=1, bidirectional=3)
    assert skippable_runs(flat.path) == Runs(nonreference=0, bidirectional=0)


def test_it_finds_cuts_to_and_from_a_plain_picture_in_hevc(footage_dir: Path) -> None:
    # The plain red stretch is a dip in detail between two different pictures, but
    # it leaps in and out of it: cuts, not a fade. HEVC's references are read too.
    if "libx265" not in available_encoders():
        pytest.skip("the bundled ffmpeg has no HEVC encoder")
    clip = make_clip(footage_dir / "hevc.mp4", duration=5.0, fps=30, cuts=(1.3, 2.9, 3.5), codec="libx265")
    assert skippable_runs(clip.path).nonreference == 2
    result = analyze(clip, footage_dir / "hevc-out")
    assert result["transitions"] == []
    assert len(result["cuts"]) == 3
    for found, true in zip(result["cuts"], clip.cuts, strict=True):
        assert abs(found - true) <= 1 / 30 + 1e-3
