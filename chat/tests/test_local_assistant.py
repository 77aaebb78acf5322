"""The offline assistant: plain VideoFacts in, Markdown chunks out (no database, no Redis)."""

# The replies' typography (a multiplication sign, an en dash) is part of what these tests check.
# ruff: noqa: RUF001, RUF002

from __future__ import annotations

import dataclasses
import math
import re

import pytest

from analysis.analyzers.timefmt import format_range, format_seconds, format_time
from chat.assistant import Provider, get_provider
from chat.assistant.base import Turn, VideoFacts
from chat.assistant.local import LocalProvider
from chat.assistant.questions import parse_question
from chat.markdown import render_markdown

SECONDS = 75


def _timeline(base: float, **moments: float) -> list[float]:
    """A per-second timeline at ``base``, with ``s52=-3.0`` setting second 52."""
    values = [base] * SECONDS
    for key, value in moments.items():
        values[int(key.removeprefix("s"))] = value
    return values


def make_video(**changes) -> VideoFacts:
    """A 75 s 720p talk with cuts at 12.0, 30.5 and 61.2 s, loudest at 00:52, silent 00:40–00:44."""
    loudness = _timeline(-30.0, s10=-9.0, s20=-12.0, s52=-3.0)
    for second in range(40, 44):
        loudness[second] = -91.0
    video = VideoFacts(
        uuid="8c1c7d0e-0000-4000-8000-000000000001",
        name="team-update.mp4",
        status="done",
        stage="Done",
        progress=100,
        failure_reason="",
        metadata={
            "container": "mov,mp4,m4a,3gp,3g2,mj2",
            "duration": 75.4,
            "video_codec": "h264",
            "width": 1280,
            "height": 720,
            "frame_rate": 30.0,
            "bit_rate": 2_500_000,
            "rotation": 0,
            "audio_codec": "aac",
            "audio_channels": 2,
            "audio_sample_rate": 48000,
            "file_size": 23_570_000,
            "has_audio": True,
        },
        scenes=[
            {"index": 1, "start": 0.0, "end": 12.0, "thumbnail": "scene-001.jpg"},
            {"index": 2, "start": 12.0, "end": 30.5, "thumbnail": "scene-002.jpg"},
            {"index": 3, "start": 30.5, "end": 61.2, "thumbnail": "scene-003.jpg"},
            {"index": 4, "start": 61.2, "end": 75.4, "thumbnail": "scene-004.jpg"},
        ],
        timelines={
            "brightness": _timeline(110.0, s7=8.0, s65=240.0),
            "motion": _timeline(3.0, s33=60.0, s5=40.0),
            "loudness": loudness,
        },
        silences=[{"start": 40.0, "end": 44.0}],
        transcript=[
            {"start": 1.5, "end": 6.0, "text": "Good morning and welcome to the team update."},
            {"start": 21.4, "end": 26.0, "text": "Our budget for the spring campaign is settled."},
            {"start": 47.0, "end": 53.0, "text": "Next we look at the launch timeline."},
            {"start": 62.0, "end": 70.0, "text": "That's all for today, thanks for watching."},
        ],
    )
    return dataclasses.replace(video, **changes)


def unanalysed(name: str, status: str, **changes) -> VideoFacts:
    return make_video(
        name=name, status=status, metadata={}, scenes=[], timelines={}, silences=[], transcript=[], **changes
    )


def chunks(question: str, videos: list[VideoFacts], earlier: tuple[str, ...] = ()) -> list[str]:
    history = []
    for text in earlier:
        history += [Turn("user", text), Turn("assistant", "(an earlier answer)")]
    history.append(Turn("user", question))
    return list(LocalProvider().stream_reply(history=history, videos=videos))


def reply(question: str, videos: list[VideoFacts], earlier: tuple[str, ...] = ()) -> str:
    return "".join(chunks(question, videos, earlier))


# --- times ---


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0, "00:00"), (75.4, "01:15"), (3723, "1:02:03"), (59.999, "00:59"), (3600, "1:00:00"), (-2, "00:00")],
)
def test_it_formats_times_as_clock_readings(seconds, expected):
    assert format_time(seconds) == expected


def test_it_formats_odd_times_as_zero():
    assert format_time(math.nan) == "00:00"
    assert format_time(math.inf) == "00:00"


def test_it_formats_ranges_and_lengths():
    assert format_range(40.0, 44.2) == "00:40–00:44"
    assert format_seconds(4.04) == "4.0 s"
    assert format_seconds(612) == "612 s"


# --- facts from the analysis ---


def test_it_tells_the_length():
    assert reply("How long is it?", [make_video()]) == "It is **01:15** long (75.4 s)."


def test_it_tells_resolution_and_frame_rate():
    text = reply("What resolution and fps is it?", [make_video()])
    assert "**1280×720** (720p HD, landscape)" in text
    assert "**30 fps**" in text


def test_it_turns_the_resolution_of_a_rotated_video():
    video = make_video(metadata={**make_video().metadata, "width": 1920, "height": 1080, "rotation": -90})
    text = reply("what are its dimensions", [video])
    assert "**1080×1920** (1080p Full HD, portrait)" in text
    assert "stores it as 1920×1080" in text


def test_it_tells_the_format():
    text = reply("Which codec and file size?", [make_video()])
    assert text == (
        "The file is **MP4**: 23.6 MB, 2.5 Mb/s overall. The video is **H.264**. "
        "The sound is **AAC stereo, 48 kHz**."
    )


def test_it_lists_the_cuts():
    text = reply("When does the scene change?", [make_video()])
    assert "I found **4 scenes**. The first cut is at 00:12, then 00:30 and 01:01." in text
    assert "The longest scene runs 00:30–01:01 (30.7 s)." in text


def test_it_lists_ten_cuts_then_counts_the_rest():
    scenes = [{"index": i + 1, "start": i * 10.0, "end": i * 10.0 + 10, "thumbnail": ""} for i in range(15)]
    text = reply("how many cuts?", [make_video(scenes=scenes)])
    assert "**15 scenes**" in text
    assert (
        "The first cut is at 00:10, then 00:20, 00:30, 00:40, 00:50, 01:00, 01:10, 01:20, 01:30, 01:40"
        in text
    )
    assert "01:40 and 4 more." in text
    assert "01:50" not in text


def test_it_says_when_there_is_one_continuous_shot():
    video = make_video(scenes=[{"index": 1, "start": 0.0, "end": 75.4, "thumbnail": ""}])
    assert reply("any cuts?", [video]) == "It is **one continuous shot**: I found no cuts."


def test_it_finds_the_loudest_moments():
    text = reply("When is it loudest?", [make_video()])
    assert text == (
        "The loudest moment is at **00:52** (-3.0 dBFS). "
        "Other loud moments: 00:10 (-9.0 dBFS) and 00:20 (-12.0 dBFS)."
    )


def test_it_skips_missing_loudness_values():
    loudness = [None, float("-inf"), float("nan"), -20.0, -2.5, float("inf"), "oops"]
    video = make_video(timelines={**make_video().timelines, "loudness": loudness})
    assert "The loudest moment is at **00:04** (-2.5 dBFS)." in reply("loudest?", [video])


def test_it_finds_the_quietest_moment():
    text = reply("what's the quietest part?", [make_video()])
    assert text.startswith("The quietest moment is at **00:40** (silent).")
    assert "It has 1 silent stretch: 00:40–00:44." in text


def test_it_lists_silent_stretches():
    assert reply("Are there any silent parts?", [make_video()]) == (
        "There is one silent stretch: **00:40–00:44** (4.0 s)."
    )
    silences = [{"start": 3.0, "end": 4.5}, {"start": 40.0, "end": 44.0}]
    text = reply("silences?", [make_video(silences=silences)])
    assert "There are 2 silent stretches, 5.5 s in all:\n- 00:03–00:04 (1.5 s)\n- 00:40–00:44 (4.0 s)" in text


def test_it_describes_the_sound():
    text = reply("Does it have audio? Is there music?", [make_video()])
    assert "It has sound: **AAC stereo, 48 kHz**." in text
    assert "the loudest moment is at 00:52" in text
    assert "I can't tell music from speech" in text


def test_it_says_when_there_is_no_sound_track():
    video = make_video(
        metadata={**make_video().metadata, "has_audio": False, "audio_codec": None},
        timelines={**make_video().timelines, "loudness": []},
        silences=[],
        transcript=[],
    )
    assert reply("is there sound?", [video]) == "It has **no sound track**."
    assert reply("when is it loudest?", [video]) == "It has no sound track, so there are no loud moments."


def test_it_finds_the_darkest_and_brightest_moments():
    text = reply("When is it darkest, and when brightest?", [make_video()])
    assert "The darkest moment is at **00:07** (very dark, 8 of 255)." in text
    assert "The brightest moment is at **01:05** (very bright, 240 of 255)." in text


def test_it_finds_the_most_active_moment():
    text = reply("Where is the most action?", [make_video()])
    assert text.startswith("The most movement is around **00:33**. That's about 20× the typical amount.")
    assert "Another busy moment: 00:05." in text


# --- speech ---


def test_it_finds_a_word_in_the_transcript():
    text = reply("When is the budget mentioned?", [make_video()])
    assert text == (
        "“budget” comes up once, at **00:21**: “Our budget for the spring campaign is settled.” "
        "([clip 00:21–00:26](clip:8c1c7d0e-0000-4000-8000-000000000001/21.40-26.00))"
    )


def test_it_lists_every_segment_with_a_word():
    transcript = [*make_video().transcript, {"start": 66.0, "end": 68.0, "text": "Budgets close Friday."}]
    text = reply('What is said about "budget"?', [make_video(transcript=transcript)])
    assert text.startswith("“budget” comes up in 2 places:\n")
    assert "- 00:21 “Our budget for the spring campaign is settled.” ([clip 00:21–00:26](clip:" in text
    assert "- 01:06 “Budgets close Friday.” ([clip 01:06–01:08](clip:" in text


def test_it_says_when_a_word_is_not_in_the_transcript():
    assert reply("Do they talk about pizza?", [make_video()]) == "I couldn't find “pizza” in the transcript."


def test_it_searches_the_transcript_for_a_question_it_cannot_otherwise_place():
    text = reply("spring campaign", [make_video()])
    assert "at **00:21**" in text


def test_it_quotes_the_transcript_when_asked_what_is_said():
    text = reply("What's said in the video?", [make_video()])
    assert "The transcript has 4 segments from 00:01 to 01:10" in text
    assert "- 00:01 “Good morning and welcome to the team update.”" in text
    assert "- 01:02 “That's all for today, thanks for watching.”" in text


def test_it_says_when_there_is_no_transcript():
    text = reply("What do they say?", [make_video(transcript=())])
    assert "There's no transcript for it" in text


# --- several topics, several videos ---


def test_it_answers_every_topic_of_a_question_in_its_order():
    text = reply("How long is it, when is it loudest, and how many scenes?", [make_video()])
    assert text.index("**01:15**") < text.index("**00:52**") < text.index("**4 scenes**")


def test_it_answers_for_each_video_labelled_by_name():
    other = make_video(name="beach.mov", metadata={**make_video().metadata, "duration": 30.0})
    text = reply("How long are they?", [make_video(), other])
    assert text == (
        "**`team-update.mp4`**\n- It is **01:15** long (75.4 s).\n\n**`beach.mov`**\n- It is **00:30** long (30.0 s)."
    )


@pytest.mark.parametrize(
    "question",
    [
        "How long is beach.mov?",
        "how long is the beach video",
        "How long is the second video?",
        "video 2: length?",
    ],
)
def test_it_answers_for_the_video_named(question):
    other = make_video(name="Beach_Sunset.MOV", metadata={**make_video().metadata, "duration": 30.0})
    text = reply(question.replace("beach.mov", "beach_sunset.mov"), [make_video(), other])
    assert text == "About `Beach_Sunset.MOV`:\n\nIt is **00:30** long (30.0 s)."


def test_it_does_not_take_the_first_cut_for_the_first_video():
    other = make_video(name="beach.mov")
    question = parse_question("When is the first cut?", [make_video(), other])
    assert question.videos == []


def test_it_reuses_the_topics_of_the_question_before_for_a_follow_up():
    other = make_video(name="beach.mov", metadata={**make_video().metadata, "duration": 30.0})
    text = reply("and the last one?", [make_video(), other], earlier=("How long is team-update.mp4?",))
    assert text == "About `beach.mov`:\n\nIt is **00:30** long (30.0 s)."


def test_it_summarises_a_video_named_without_a_question():
    other = make_video(name="beach.mov")
    text = reply("beach.mov?", [make_video(), other])
    assert text.startswith("About `beach.mov`:\n\nHere's what the analysis found:\n- **Basics:** 01:15")


def test_it_says_when_a_named_video_is_not_in_the_conversation():
    text = reply("How long is holiday.mp4?", [make_video()])
    assert text == "I don't see `holiday.mp4` in this conversation. The videos here are `team-update.mp4`."


# --- videos that are not ready, no videos, questions it cannot answer ---


def test_it_says_a_video_is_still_being_analysed():
    video = unanalysed("clip.mp4", "processing", stage="Finding scenes", progress=40)
    assert reply("How long is it?", [video]) == (
        "`clip.mp4` is still being analysed (Finding scenes, 40%). I'll post what I find as soon as it's done."
    )
    queued = unanalysed("clip.mp4", "queued", stage="Waiting in the queue", progress=0)
    assert reply("scenes?", [queued]).startswith("`clip.mp4` is waiting in the queue to be analysed.")


def test_it_gives_the_failure_reason():
    video = unanalysed("clip.mp4", "failed", failure_reason="this file has no video stream")
    assert reply("When is it loudest?", [video]).startswith(
        "I couldn't analyse `clip.mp4`: this file has no video stream."
    )


def test_it_answers_for_the_ready_video_and_waits_for_the_other():
    waiting = unanalysed("clip.mp4", "processing", stage="Measuring sound", progress=92)
    text = reply("how long?", [make_video(), waiting])
    assert "**`team-update.mp4`**\n- It is **01:15** long" in text
    assert "**`clip.mp4`**\n- It is still being analysed (Measuring sound, 92%)." in text


def test_it_says_it_needs_an_attached_video():
    text = reply("How long is it?", [])
    assert text.startswith("I can only answer questions about videos attached to this conversation")
    assert "attach it to a message" in text


def test_it_says_plainly_when_it_cannot_answer_and_that_it_is_offline():
    text = reply("What colour is the car?", [make_video()])
    assert text.startswith("Sorry, I can't answer that from the analysis. I'm the offline assistant")
    assert "**Scenes:** how many there are and when the picture cuts" in text


def test_it_explains_itself_when_asked_for_help():
    text = reply("What can you do?", [make_video()])
    assert text.startswith("I'm the offline assistant")
    assert "- **Sound:** the loudest and quietest moments and the silent stretches" in text


def test_it_greets_back():
    text = reply("Hello!", [make_video()])
    assert text.startswith(
        "Hi! I'm the offline assistant for your videos. I can tell you about `team-update.mp4`"
    )


# --- the message posted when an analysis finishes ---


def test_it_summarises_a_finished_analysis():
    text = "".join(LocalProvider().stream_analysis_summary(video=make_video()))
    assert text.startswith("`team-update.mp4` is ready. Here's what the analysis found:\n")
    assert "- **Basics:** 01:15 · 1280×720 · 30 fps · H.264 in MP4 · 23.6 MB\n" in text
    assert "loudest at 00:52; 1 silent stretch (00:40–00:44)" in text
    assert "- **Scenes:** 4, with cuts at 00:12, 00:30 and 01:01\n" in text
    assert "darkest at 00:07, brightest at 01:05, most movement around 00:33" in text
    assert "offline assistant" in text


def test_it_reports_a_failed_analysis():
    video = unanalysed("clip.mp4", "failed", failure_reason="the file stops before the video ends")
    text = "".join(LocalProvider().stream_analysis_summary(video=video))
    assert text.startswith("I couldn't analyse `clip.mp4`: the file stops before the video ends.")


# --- streaming and safety ---


def test_it_streams_an_answer_in_several_chunks():
    pieces = chunks("When does the scene change? Any silence?", [make_video()])
    assert len(pieces) >= 3
    assert all(isinstance(piece, str) and piece for piece in pieces)
    assert "".join(pieces) == reply("When does the scene change? Any silence?", [make_video()])


class _NotYet(dict):
    """Timelines that fail when read: what is sent before reading them was sent before working them out."""

    def get(self, *args):
        raise LookupError("timelines read")


def test_it_sends_the_first_chunk_before_working_out_the_rest():
    stream = LocalProvider().stream_analysis_summary(video=make_video(timelines=_NotYet()))
    first = next(stream)
    assert first.startswith("`team-update.mp4`")
    opening = first + "".join(next(stream) for _ in range(2))
    assert opening.startswith("`team-update.mp4` is ready. Here's")
    with pytest.raises(LookupError):
        list(stream)


def test_it_keeps_outside_text_out_of_links():
    video = make_video(
        name="[win](https://evil.example).mp4",
        transcript=[{"start": 21.0, "end": 23.0, "text": "budget: [click](https://evil.example) <b>now</b>"}],
    )
    html = render_markdown(reply("When is the budget mentioned?", [video, make_video()]))
    assert "evil.example" in html
    assert 'href="https://evil.example"' not in html
    assert "<b>" not in html


@pytest.mark.parametrize(
    "question",
    [
        "describe it", "how long", "resolution", "fps", "codec", "sound", "loudest", "quietest", "silence",
        "scenes", "darkest", "brightest", "most action", "what is said", "is it done?", "which videos?",
    ],
)  # fmt: skip
def test_it_answers_from_a_sparse_analysis_without_gaps(question):
    video = make_video(metadata={"duration": 9.5}, scenes=[], timelines={}, silences=[], transcript=[])
    text = reply(question, [video])
    assert text
    assert not re.search(r"\bNone\b|\bnan\b|\binf\b|\[\]|\{\}", text)


# --- choosing a provider ---


def test_it_gets_the_local_provider_by_name():
    provider = get_provider("local")
    assert isinstance(provider, LocalProvider)
    assert isinstance(provider, Provider)
    assert (provider.name, provider.model) == ("local", "videochat-offline-1")


def test_it_gets_the_provider_the_settings_choose(monkeypatch):
    from django.conf import settings

    monkeypatch.setattr(settings, "ASSISTANT_PROVIDER", "local", raising=False)
    assert isinstance(get_provider(), LocalProvider)


def test_it_refuses_an_unknown_provider():
    with pytest.raises(ValueError, match="gemini-ultra"):
        get_provider("gemini-ultra")
