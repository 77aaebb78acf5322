"""The offline assistant on scenes that begin with a dissolve or a fade.

Analyses made since the detector found gradual transitions mark the scene
that begins with one (``"transition": {"kind", "start", "end"}``); older
ones do not, and read as cuts, as before.
"""

from __future__ import annotations

import dataclasses

from chat.assistant import facts
from chat.assistant.local import LocalProvider
from chat.tests.test_local_assistant import make_video, reply

DISSOLVE = {"kind": "dissolve", "start": 29.8, "end": 31.2}
FADE = {"kind": "fade", "start": 60.0, "end": 62.4}


def with_transitions():
    video = make_video()
    scenes = [dict(scene) for scene in video.scenes]
    scenes[2]["transition"] = DISSOLVE  # starts at 30.5, in the middle of it
    scenes[3]["transition"] = FADE  # starts at 61.2
    return dataclasses.replace(video, scenes=scenes)


def test_it_reads_each_scene_change_and_its_kind():
    assert facts.changes(with_transitions()) == [
        facts.Change(12.0),
        facts.Change(30.5, "dissolve", 29.8, 31.2),
        facts.Change(61.2, "fade", 60.0, 62.4),
    ]


def test_it_reads_an_older_analysis_as_cuts():
    assert [change.kind for change in facts.changes(make_video())] == ["cut", "cut", "cut"]


def test_it_takes_a_transition_that_does_not_hold_the_scene_start_for_a_cut():
    video = make_video()
    scenes = [dict(scene) for scene in video.scenes]
    scenes[1]["transition"] = {"kind": "dissolve", "start": 40.0, "end": 41.0}  # the scene starts at 12.0
    scenes[2]["transition"] = {"kind": "wipe", "start": 30.0, "end": 31.0}
    assert [c.kind for c in facts.changes(dataclasses.replace(video, scenes=scenes))] == ["cut", "cut", "cut"]


def test_it_names_the_dissolves_and_fades_when_asked_about_scenes():
    text = reply("When does the scene change?", [with_transitions()])
    assert (
        "I found **4 scenes**. The first change is a cut at 00:12, "
        "then a dissolve from 00:29 to 00:31 and a fade from 01:00 to 01:02." in text
    )


def test_it_starts_with_the_transition_when_the_first_change_is_one():
    video = make_video()
    scenes = [dict(scene) for scene in video.scenes[:2]]
    scenes[1]["transition"] = {"kind": "dissolve", "start": 11.5, "end": 12.5}
    scenes[1]["end"] = 75.4
    text = reply("any cuts?", [dataclasses.replace(video, scenes=scenes)])
    assert "I found **2 scenes**. The first change is a dissolve from 00:11 to 00:12." in text


def test_it_lists_the_transitions_in_the_summary():
    text = "".join(LocalProvider().stream_analysis_summary(video=with_transitions()))
    assert (
        "- **Scenes:** 4, with a cut at 00:12, a dissolve from 00:29 to 00:31 and a fade from 01:00 to 01:02\n"
        in text
    )
