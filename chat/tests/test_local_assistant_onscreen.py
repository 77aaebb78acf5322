"""The offline assistant answers from the text read on screen: what a slide says, when a word
appears, the title, and a summary that mentions them (plain VideoFacts in, Markdown out)."""

# ruff: noqa: RUF001

from __future__ import annotations

import dataclasses

from chat.assistant.local import LocalProvider
from chat.assistant.questions import Topic, parse_question
from chat.tests.test_local_assistant import make_video, reply


def _span(start, end, text, *, height=0.05, top=0.5):
    return {"start": start, "end": end, "text": text, "box": [0.1, top, 0.9, top + height], "height": height}


# A 75 s lecture (scenes 0-12, 12-30.5, 30.5-61.2, 61.2-75.4): a title card, slides, a caption.
ONSCREEN = [
    _span(0.5, 11.5, "Quarterly budget review", height=0.12, top=0.4),
    _span(0.5, 11.5, "Finance team, March", height=0.04, top=0.6),
    _span(12.5, 30.0, "Revenue grew 17% in March", height=0.08, top=0.1),
    _span(12.5, 30.0, "Costs stayed flat", height=0.04, top=0.4),
    _span(31.0, 60.0, "Next steps", height=0.08, top=0.1),
    _span(45.0, 48.0, "caption: we launch in May", height=0.03, top=0.9),
]


def lecture(**changes):
    return make_video(**{"name": "lecture.mp4", "onscreen": ONSCREEN, **changes})


def test_the_question_forms_raise_the_on_screen_topics():
    assert parse_question("What does the slide say at 2:10?", []).topics == [Topic.ONSCREEN]
    assert parse_question("What does the slide say at 2:10?", []).at == 130
    assert parse_question("what is on screen at 1:05?", []).topics == [Topic.ONSCREEN]
    assert parse_question("what is on screen at 1:05?", []).at == 65
    asked = parse_question("When does 'revenue' appear on screen?", [])
    assert (asked.topics, asked.search_terms) == ([Topic.ONSCREEN], ["revenue"])
    assert parse_question("What is the title of this video?", []).topics == [Topic.TITLE]
    # Speech words still ask about speech.
    assert Topic.SPEECH in parse_question("What is said while the slide is shown?", []).topics


def test_it_says_what_the_slide_says_at_a_moment():
    text = reply("What does the slide say at 0:20?", [lecture()])
    assert "At **00:20** the screen shows:" in text
    # Top to bottom: the heading, then the line under it.
    assert text.index("“Revenue grew 17% in March”") < text.index("“Costs stayed flat”")
    assert "Quarterly budget review" not in text
    assert "transcript" not in text.lower()


def test_it_says_what_is_on_screen_at_a_moment_with_one_line():
    text = reply("what is on screen at 0:50?", [lecture()])
    assert "At **00:50** the screen shows “Next steps” (from 00:31 to 01:00)." in text


def test_it_says_when_nothing_is_on_screen_at_a_moment():
    text = reply("what is on screen at 1:10?", [lecture()])
    assert "At 01:10 I saw no text on screen." in text
    assert "The text before it ends at 01:00: “Next steps”." in text


def test_it_says_when_a_word_appears_on_screen():
    text = reply("When does 'revenue' appear on screen?", [lecture()])
    assert "“revenue” appears on screen once, at **00:12** (until 00:30): “Revenue grew 17% in March”" in text
    assert "clip 00:12–00:30" in text


def test_a_word_only_on_screen_is_found_without_naming_the_screen():
    text = reply("Where is the launch in May?", [lecture(transcript=[])])
    assert "appears on screen" in text
    assert "00:45" in text


def test_it_says_when_a_word_is_not_on_screen():
    text = reply("When does 'helicopter' appear on screen?", [lecture()])
    assert "I didn't see “helicopter” on screen." in text


def test_it_tells_the_title_the_largest_early_text():
    text = reply("What is the title of this video?", [lecture()])
    assert "Its title looks like **“Quarterly budget review”**" in text
    assert "00:00" in text


def test_a_late_large_text_is_not_the_title():
    late = [_span(1.0, 5.0, "Welcome", height=0.05), _span(40.0, 45.0, "THE END", height=0.3)]
    text = reply("What is the title?", [lecture(onscreen=late)])
    assert "“Welcome”" in text
    assert "THE END" not in text


def test_without_on_screen_text_it_says_so_and_the_note_why():
    text = reply("What is on screen at 0:20?", [lecture(onscreen=[])])
    assert "I saw no text on screen in it" in text
    noted = lecture(
        onscreen=[],
        extra={"onscreen": {"note": "No on-screen text was read: text recognition is not available."}},
    )
    text = reply("What is the title?", [noted])
    assert "No on-screen text was read: text recognition is not available." in text
    assert "Its file name is `lecture.mp4`." in text


def test_a_note_that_only_says_nothing_was_seen_is_not_repeated():
    seen = lecture(onscreen=[], extra={"onscreen": {"note": "No text was seen on screen."}})
    text = reply("What is on screen at 0:20?", [seen])
    assert "I saw no text on screen in it" in text
    assert "No text was seen" not in text


def test_the_summary_mentions_the_title_and_slide_headings():
    text = "".join(LocalProvider().stream_analysis_summary(video=lecture()))
    assert "**On screen:** 6 lines of text" in text
    assert "the title looks like “Quarterly budget review” (00:00)" in text
    assert "“Revenue grew 17% in March” (00:12)" in text
    assert "“Next steps” (00:31)" in text
    described = reply("Describe the video", [lecture()])
    assert "**On screen:**" in described


def test_the_summary_without_on_screen_text_leaves_it_out():
    text = "".join(LocalProvider().stream_analysis_summary(video=make_video()))
    assert "On screen" not in text


def test_bad_spans_are_ignored():
    odd = [{"start": "x", "text": "no time"}, {"start": 1.0, "text": "  "}, "junk", _span(2.0, 4.0, "Agenda")]
    video = dataclasses.replace(lecture(), onscreen=odd)
    assert "“Agenda”" in reply("What is on screen at 0:03?", [video])


def test_gemini_is_told_the_text_read_on_screen_offline():
    from chat.assistant.gemini import _measurements

    lines = _measurements(lecture())
    assert any(
        line.startswith("- Text read on screen (offline): [00:00] Quarterly budget review") for line in lines
    )
    assert not any("on screen" in line for line in _measurements(make_video()))
