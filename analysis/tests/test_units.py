"""Media numbers for people, as the video page and the assistant both write them."""

import pytest

from analysis.analyzers.units import frame_rate, sample_rate


@pytest.mark.parametrize(
    ("fps", "text"),
    [(30.0, "30 fps"), (29.97002997, "29.97 fps"), (23.976, "23.976 fps"), (100.0, "100 fps")],
)
def test_frame_rate(fps, text):
    assert frame_rate(fps) == text


@pytest.mark.parametrize(("hertz", "text"), [(44100, "44.1 kHz"), (48000, "48 kHz"), (100000, "100 kHz")])
def test_sample_rate(hertz, text):
    assert sample_rate(hertz) == text
