"""The video page's scene strip when a scene begins with a dissolve or a fade."""

from __future__ import annotations

import pytest

from analysis.tests.test_pages import _html, make_analysis

pytestmark = pytest.mark.django_db


def with_transition(video, duration: float, kind: str):
    """`video`, analysed (scenes at 0, 2 and 4 s), its second scene beginning with a `kind`."""
    analysis = make_analysis(video, duration=duration)
    scenes = [dict(scene) for scene in analysis.scenes]
    scenes[1]["transition"] = {"kind": kind, "start": 1.5, "end": 2.5}  # scene 2 starts at 2.0
    analysis.scenes = scenes
    analysis.save(update_fields=["scenes"])
    video.mark_done()
    return video


@pytest.fixture
def dissolving_video(owner, clips, make_video):
    video = make_video(owner, clips["short"].path, name="holiday.mp4")
    return with_transition(video, clips["short"].duration, "dissolve")


def test_it_names_the_dissolve_a_scene_begins_with(owner_client, dissolving_video):
    html = _html(owner_client.get(dissolving_video.get_absolute_url()))
    assert 'aria-label="Play scene 2 from 00:02, which begins with a dissolve from 00:01 to 00:02"' in html
    assert '<span class="scene-transition">dissolve</span>' in html
    assert 'aria-label="Play scene 3 from 00:04"' in html  # a cut: as before
    assert html.count('class="scene-transition"') == 1
