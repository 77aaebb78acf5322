"""The offline assistant: answers questions about videos from their stored analyses.

It needs no network and no API key. A question is understood by keyword
matching (:mod:`chat.assistant.questions`), and every topic it raises is
answered. The videos asked about are those it names or points to; otherwise
every video in the conversation is answered for, briefly and labelled. A
follow-up such as "and the other one?" reuses the topics of the question before
it.

Replies are Markdown, produced lazily and streamed a sentence (or a shorter
piece) at a time. Moments are always cited through
:func:`~analysis.analyzers.timefmt.format_time`, which the chat page links to the
player. Outside text is kept inert by :mod:`chat.assistant.wording`.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from analysis.analyzers import units
from analysis.analyzers.timefmt import format_range, format_seconds, format_time
from chat.assistant import facts, wording
from chat.assistant.base import Turn, VideoFacts
from chat.assistant.questions import STOP_WORDS, WORD, Question, Topic, parse_question

QUEUED, PROCESSING, DONE, FAILED = "queued", "processing", "done", "failed"

TIMES = "\N{MULTIPLICATION SIGN}"  # as in 1280 x 720

MAX_LISTED = 10
"""Items (cuts, silences, quotes) listed before "and N more"."""
MAX_LISTED_BRIEF = 3
"""The same, per video, when answering for several videos at once."""


Block = str | Iterable[str]
"""A paragraph of a reply: one string, or its lines (a paragraph and its list), made lazily."""


# --- the provider ---------------------------------------------------------


class LocalProvider:
    """The offline assistant (see the module docstring)."""

    name = "local"
    model = "videochat-offline-1"

    def stream_reply(self, *, history: list[Turn], videos: list[VideoFacts]) -> Iterator[str]:
        asked = [turn.text for turn in history if turn.role == "user"]
        question, earlier = (asked[-1], asked[:-1]) if asked else ("", [])
        yield from stream_markdown(_reply(question, earlier, videos))

    def stream_analysis_summary(self, *, video: VideoFacts) -> Iterator[str]:
        yield from stream_markdown(_analysis_summary(video))


OFFLINE = (
    "I'm the offline assistant (no AI API key is set up), so I only know what the video analysis measured"
)
NO_VIDEOS = (
    "I can only answer questions about videos attached to this conversation, and there aren't any yet. "
    "Upload a video, attach it to a message and ask me about it: for example how long it is, "
    "when the scenes change or when it's loudest."
)
CAPABILITIES = [
    "**The basics:** length, resolution, frame rate, codecs and file size (“How long is it?”)",
    "**Sound:** the loudest and quietest moments and the silent stretches (“When is it loudest?”)",
    "**Scenes:** how many there are and when the picture cuts (“When does the scene change?”)",
    "**Picture:** the darkest, brightest and most active moments (“Where is the most action?”)",
    "**Speech**, when there is a transcript: what is said and when (“When is the budget mentioned?”)",
    "**On screen:** the text shown (slides, captions, titles) and when "
    "(“What does the slide say at 2:10?”, “What is the title?”)",
]
EXAMPLES = "For example: “Describe the video”, “When is it darkest?” or “Are there silent parts?”"


def _reply(message: str, earlier: list[str], videos: Sequence[VideoFacts]) -> Iterator[Block]:
    """The reply to ``message`` as Markdown blocks (paragraphs, or a paragraph with its list)."""
    ask = parse_question(message, videos)
    if not ask.topics and ask.follow_up:
        for previous in reversed(earlier):
            if topics := parse_question(previous, videos).topics:
                ask.topics = topics
                break

    if not videos:
        if ask.greeting:
            yield "Hi! I'm the offline assistant for your videos."
        if ask.help:
            yield from _help(videos)
        elif ask.thanks and not ask.topics:
            yield "You're welcome!"
        else:
            yield NO_VIDEOS
        return
    if ask.unknown_names and not ask.videos:
        missing = wording.join([wording.code(name) for name in ask.unknown_names])
        yield f"I don't see {missing} in this conversation. The videos here are {wording.names(videos)}."
        return
    conversational = ask.help or ask.inventory or ask.greeting or ask.thanks
    if not ask.topics and not conversational:
        if ask.videos:
            ask.topics = [Topic.SUMMARY]
        elif any(_transcript_hits(video, ask.search_terms) for video in videos):
            # Not a question about the analysis, but its words are in what is said.
            ask.topics = [Topic.SPEECH]
        elif any(_onscreen_hits(video, ask.search_terms) for video in videos):
            # ... or in what is shown.
            ask.topics = [Topic.ONSCREEN]
    if not ask.topics:
        if ask.help:
            yield from _help(videos)
        elif ask.inventory:
            yield from _inventory(videos)
        elif ask.greeting:
            yield (
                f"Hi! I'm the offline assistant for your videos. I can tell you about {wording.names(videos)}: "
                "length, scenes, sound, brightness, movement and more. What would you like to know?"
            )
        elif ask.thanks:
            yield "You're welcome! Ask me anything else about your videos."
        else:
            yield from _cannot_answer()
        return

    selected = ask.videos or list(videos)
    if len(selected) == 1:
        yield from _answer_one(selected[0], ask, labelled=len(videos) > 1)
    else:
        for video in selected:
            yield _answer_brief(video, ask)
        if Topic.SUMMARY in ask.topics:
            yield f"{OFFLINE}: I can't see what the pictures show."


def _analysis_summary(video: VideoFacts) -> Iterator[Block]:
    if video.status != DONE:
        yield _state(video, wording.code(video.name))
        return
    yield wording.paragraph(
        f"{wording.code(video.name)} is ready. Here's what the analysis found:", _overview(video)
    )
    yield (
        "Ask me about any of it, such as when it's loudest or when the scenes change. "
        "I'm the offline assistant, so my answers come from this analysis."
    )


def _help(videos: Sequence[VideoFacts]) -> Iterator[Block]:
    yield wording.paragraph(
        "I'm the offline assistant: I answer questions about the videos in this conversation from their "
        "analysis, without an AI model (no API key is set up). You can ask me about:",
        CAPABILITIES,
    )
    if len(videos) > 1:
        yield "Name a video (or say “the second video”) to ask about just that one; otherwise I answer for each."
    elif not videos:
        yield NO_VIDEOS


def _cannot_answer() -> Iterator[Block]:
    yield wording.paragraph(
        f"Sorry, I can't answer that from the analysis. {OFFLINE}, and I can't see what the pictures show. "
        "I can tell you about:",
        CAPABILITIES,
    )
    yield EXAMPLES


def _inventory(videos: Sequence[VideoFacts]) -> Iterator[Block]:
    lines = []
    for video in videos:
        if video.status == DONE:
            duration = facts.duration(video)
            length = f"{format_time(duration)} long" if duration is not None else "length unknown"
            lines.append(f"{wording.code(video.name)}: analysed, {length}")
        else:
            lines.append(f"{wording.code(video.name)}: {_state(video, None)}")
    yield wording.paragraph(
        f"There {wording.count(len(videos), 'video', verb=True)} in this conversation:", lines
    )


# --- answering for one or several videos -----------------------------------


@dataclass
class Answer:
    text: str
    details: Iterable[str] = ()
    """List items under the text; cut to a few when answering for several videos."""
    complete: bool = False
    """Never cut the details (a summary's lines belong together)."""
    note: str = ""
    """A paragraph after the details, left out when answering for several videos."""


def _answer_one(video: VideoFacts, ask: Question, *, labelled: bool) -> Iterator[Block]:
    if video.status != DONE:
        yield _state(video, wording.code(video.name))
        return
    if labelled:
        yield f"About {wording.code(video.name)}:"
    elif ask.greeting:
        yield "Hi!"
    for topic in ask.topics:
        answer = ANSWERS[topic](video, ask)
        details = answer.details if answer.complete else wording.cut(list(answer.details), MAX_LISTED)
        yield wording.paragraph(answer.text, details)
        if answer.note:
            yield answer.note


def _answer_brief(video: VideoFacts, ask: Question) -> str:
    lines = [f"**{wording.code(video.name)}**"]
    if video.status != DONE:
        return "\n".join([*lines, f"- {_state(video, None)}"])
    for topic in ask.topics:
        answer = ANSWERS[topic](video, ask)
        details = answer.details if answer.complete else wording.cut(list(answer.details), MAX_LISTED_BRIEF)
        lines.append(f"- {answer.text}")
        lines += [f"  - {detail}" for detail in details]
    return "\n".join(lines)


def _state(video: VideoFacts, name: str | None) -> str:
    """Where an unfinished video is, named by ``name`` (or "it")."""
    if video.status == FAILED:
        reason = wording.sentence(
            wording.plain(video.failure_reason) or "the analysis stopped without saying why"
        )
        return (
            f"I couldn't analyse {name or 'it'}: {reason} "
            "You can re-analyse it from the video's page, or upload another file."
        )
    subject = name or "It"
    if video.status == DONE:
        return f"{subject} is analysed."
    if video.status == QUEUED:
        return (
            f"{subject} is waiting in the queue to be analysed. I'll post what I find as soon as it's done."
        )
    progress = f"{max(0, min(100, int(video.progress or 0)))}%"
    where = f"{stage}, {progress}" if (stage := wording.plain(video.stage)) else progress
    return f"{subject} is still being analysed ({where}). I'll post what I find as soon as it's done."


def _answer_status(video: VideoFacts, ask: Question) -> Answer:
    known = []
    if (duration := facts.duration(video)) is not None:
        known.append(f"{format_time(duration)} long")
    if scenes := facts.scenes(video):
        known.append(wording.count(len(scenes), "scene"))
    return Answer(f"It's analysed and ready ({', '.join(known)})." if known else "It's analysed and ready.")


def _answer_summary(video: VideoFacts, ask: Question) -> Answer:
    return Answer(
        "Here's what the analysis found:",
        _overview(video),
        complete=True,
        note=f"{OFFLINE}: I can't see what the pictures show.",
    )


def _overview(video: VideoFacts) -> Iterator[str]:
    """The analysis in a few lines: basics, sound, scenes, picture, speech (each made when read)."""
    meta = video.metadata
    basics = []
    if (duration := facts.duration(video)) is not None:
        basics.append(format_time(duration))
    if size := facts.resolution(video):
        basics.append(f"{size[0]}{TIMES}{size[1]}")
    if (fps := facts.number(meta.get("frame_rate"))) is not None:
        basics.append(units.frame_rate(fps))
    codec = wording.codec(meta.get("video_codec"))
    container = wording.container(meta.get("container"))
    if codec or container:
        basics.append(" in ".join(part for part in (codec, container) if part))
    if (file_size := facts.number(meta.get("file_size"))) is not None:
        basics.append(wording.byte_size(file_size))
    if basics:
        yield f"**Basics:** {' · '.join(basics)}"

    if not facts.has_audio(video):
        yield "**Sound:** none (no sound track)"
    else:
        sound = [wording.audio_description(meta) or "a sound track"]
        if loudest := facts.extremes(facts.series(video, "loudness"), 1, highest=True):
            sound.append(f"loudest at {format_time(loudest[0][0])}")
        silences = facts.silences(video)
        if silences:
            listed = wording.join(wording.cut([format_range(*s) for s in silences], 3))
            sound.append(f"{wording.count(len(silences), 'silent stretch', 'silent stretches')} ({listed})")
        else:
            sound.append("no silent stretches")
        yield f"**Sound:** {'; '.join(sound)}"

    if scenes := facts.scenes(video):
        changes = facts.changes(video)
        cuts = [format_time(change.at) for change in changes if change.kind == "cut"]
        gradual = [_change(change) for change in changes if change.kind != "cut"]
        if gradual:
            parts = wording.cut(gradual, 3)
            if cuts:
                at = wording.join(wording.cut(cuts, 5))
                parts.insert(0, f"a cut at {at}" if len(cuts) == 1 else f"cuts at {at}")
            yield f"**Scenes:** {len(scenes)}, with {wording.join(parts)}"
        elif cuts:
            yield f"**Scenes:** {len(scenes)}, with cuts at {wording.join(wording.cut(cuts, 5))}"
        else:
            yield "**Scenes:** one continuous shot"

    picture = []
    brightness = facts.series(video, "brightness")
    if darkest := facts.extremes(brightness, 1, highest=False):
        picture.append(f"darkest at {format_time(darkest[0][0])}")
    if brightest := facts.extremes(brightness, 1, highest=True):
        picture.append(f"brightest at {format_time(brightest[0][0])}")
    if (busiest := facts.extremes(facts.series(video, "motion"), 1, highest=True)) and busiest[0][1] >= 1:
        picture.append(f"most movement around {format_time(busiest[0][0])}")
    if picture:
        yield f"**Picture:** {', '.join(picture)}"

    if segments := facts.segments(video):
        first = segments[0]
        yield (
            f"**Speech:** {wording.count(len(segments), 'transcript segment')}, "
            f"starting at {format_time(first.start)} with “{wording.quote(first.text, 80)}”"
        )

    if lines := facts.onscreen(video):
        shown = [f"{wording.count(len(lines), 'line')} of text"]
        if title := facts.title(video):
            shown.append(
                f"the title looks like “{wording.quote(title.text, 80)}” ({format_time(title.start)})"
            )
        if headings := facts.headings(video, 3):
            listed = wording.join(
                [f"“{wording.quote(line.text, 60)}” ({format_time(line.start)})" for line in headings]
            )
            shown.append(f"then {listed}")
        yield f"**On screen:** {'; '.join(shown)}"


def _answer_length(video: VideoFacts, ask: Question) -> Answer:
    duration = facts.duration(video)
    if duration is None:
        return Answer("I don't know how long it is: the analysis has no duration.")
    exact = format_seconds(duration) if duration < 600 else f"about {round(duration / 60)} minutes"
    return Answer(f"It is **{format_time(duration)}** long ({exact}).")


def _answer_resolution(video: VideoFacts, ask: Question) -> Answer:
    size = facts.resolution(video)
    if size is None:
        return Answer("I don't know its resolution: the analysis has no picture size.")
    width, height = size
    shorter = min(width, height)
    label = next((name for least, name in RESOLUTION_NAMES if shorter >= least), "low resolution")
    shape = "landscape" if width > height else "portrait" if width < height else "square"
    text = f"The picture is **{width}{TIMES}{height}** ({label}, {shape})."
    rotation = facts.number(video.metadata.get("rotation")) or 0
    if int(rotation) % 180 == 90:
        text += (
            f" The file stores it as {height}{TIMES}{width} and turns it {abs(int(rotation))}° when it plays."
        )
    return Answer(text)


RESOLUTION_NAMES = [
    (2160, "4K"), (1440, "1440p"), (1080, "1080p Full HD"), (720, "720p HD"), (480, "480p SD"), (360, "360p"),
]  # fmt: skip


def _answer_frame_rate(video: VideoFacts, ask: Question) -> Answer:
    fps = facts.number(video.metadata.get("frame_rate"))
    if fps is None or fps <= 0:
        return Answer("I don't know its frame rate: the analysis doesn't have it.")
    text = f"It plays at **{units.frame_rate(fps)}**."
    if (duration := facts.duration(video)) is not None:
        text += f" That's about {round(fps * duration):,} frames in all."
    return Answer(text)


def _answer_format(video: VideoFacts, ask: Question) -> Answer:
    meta = video.metadata
    sizes = [
        text
        for value, show in (
            (meta.get("file_size"), wording.byte_size),
            (meta.get("bit_rate"), wording.bit_rate),
        )
        if (number := facts.number(value)) is not None and number > 0 and (text := show(number))
    ]
    if len(sizes) == 2:
        sizes[1] += " overall"
    container = wording.container(meta.get("container"))
    sentences = []
    if container and sizes:
        sentences.append(f"The file is **{container}**: {', '.join(sizes)}.")
    elif container or sizes:
        sentences.append(f"The file is **{container}**." if container else f"The file is {', '.join(sizes)}.")
    if codec := wording.codec(meta.get("video_codec")):
        sentences.append(f"The video is **{codec}**.")
    if not facts.has_audio(video):
        sentences.append("There is no sound track.")
    elif sound := wording.audio_description(meta):
        sentences.append(f"The sound is **{sound}**.")
    if not container and not codec:
        sentences.insert(0, "I don't know its format: the analysis doesn't have it.")
    return Answer(" ".join(sentences))


def _answer_sound(video: VideoFacts, ask: Question) -> Answer:
    if not facts.has_audio(video):
        return Answer("It has **no sound track**" + (", so no music either." if ask.music else "."))
    sentences = [f"It has sound: **{wording.audio_description(video.metadata) or 'a sound track'}**."]
    loudness = facts.series(video, "loudness")
    if loudness:
        typical = statistics.median(value for _, value in loudness)
        second, level = facts.extremes(loudness, 1, highest=True)[0]
        sentences.append(
            f"The typical level is about {typical:.0f} dBFS; the loudest moment is at "
            f"{format_time(second)} ({level:.1f} dBFS)."
        )
    silences = facts.silences(video)
    if not silences:
        sentences.append("There are no silent stretches.")
    elif len(silences) == 1:
        sentences.append(f"There is one silent stretch, {format_range(*silences[0])}.")
    else:
        sentences.append(
            f"There are {len(silences)} silent stretches; the first is {format_range(*silences[0])}."
        )
    if ask.music:
        sentences.append("I can't tell music from speech or other sounds: offline, I only measure loudness.")
    return Answer(" ".join(sentences))


def _answer_loud(video: VideoFacts, ask: Question) -> Answer:
    if not facts.has_audio(video):
        return Answer("It has no sound track, so there are no loud moments.")
    peaks = facts.extremes(facts.series(video, "loudness"), 3, highest=True)
    if not peaks:
        return Answer("I have no loudness measurements for it.")
    (second, level), others = peaks[0], peaks[1:]
    text = f"The loudest moment is at **{format_time(second)}** ({level:.1f} dBFS)."
    text += wording.others("loud", [f"{format_time(s)} ({v:.1f} dBFS)" for s, v in others])
    return Answer(text)


def _answer_quiet(video: VideoFacts, ask: Question) -> Answer:
    if not facts.has_audio(video):
        return Answer("It has no sound track, so it is silent throughout.")
    lows = facts.extremes(facts.series(video, "loudness"), 3, highest=False)
    if not lows:
        return Answer("I have no loudness measurements for it.")
    (second, level), others = lows[0], lows[1:]
    text = f"The quietest moment is at **{format_time(second)}** ({wording.level(level)})."
    text += wording.others("quiet", [f"{format_time(s)} ({wording.level(v)})" for s, v in others])
    if Topic.SILENCE not in ask.topics and (silences := facts.silences(video)):
        listed = wording.join(wording.cut([format_range(*s) for s in silences], 3))
        text += f" It has {wording.count(len(silences), 'silent stretch', 'silent stretches')}: {listed}."
    return Answer(text)


def _answer_silence(video: VideoFacts, ask: Question) -> Answer:
    if not facts.has_audio(video):
        return Answer("It has no sound track, so it is silent throughout.")
    silences = facts.silences(video)
    if not silences:
        return Answer("I found no silent stretches (a second or more of near silence).")
    if len(silences) == 1:
        start, end = silences[0]
        return Answer(
            f"There is one silent stretch: **{format_range(start, end)}** ({format_seconds(end - start)})."
        )
    total = sum(end - start for start, end in silences)
    return Answer(
        f"There are {len(silences)} silent stretches, {format_seconds(total)} in all:",
        [f"{format_range(start, end)} ({format_seconds(end - start)})" for start, end in silences],
    )


def _answer_scenes(video: VideoFacts, ask: Question) -> Answer:
    scenes = facts.scenes(video)
    if not scenes:
        return Answer("I have no scene information for it.")
    if len(scenes) == 1:
        return Answer("It is **one continuous shot**: I found no cuts.")
    changes = facts.changes(video)
    if all(change.kind == "cut" for change in changes):
        cuts = [format_time(change.at) for change in changes]
        if len(cuts) == 1:
            text = f"I found **2 scenes**. The cut is at {cuts[0]}."
        else:
            listed = wording.cut(cuts, MAX_LISTED)
            text = f"I found **{len(scenes)} scenes**. The first cut is at {listed[0]}, then {wording.join(listed[1:])}."
    else:
        # A cut is its moment; a dissolve or a fade is a stretch of time.
        listed = wording.cut(
            [format_time(c.at) if c.kind == "cut" else _change(c) for c in changes], MAX_LISTED
        )
        first = f"a cut at {listed[0]}" if changes[0].kind == "cut" else listed[0]
        text = f"I found **{len(scenes)} scenes**. The first change is {first}"
        text += f", then {wording.join(listed[1:])}." if len(listed) > 1 else "."
    start, end = max(scenes, key=lambda scene: scene[1] - scene[0])
    text += f" The longest scene runs {format_range(start, end)} ({format_seconds(end - start)})."
    return Answer(text)


def _change(change: facts.Change) -> str:
    """A gradual scene change for people: "a dissolve from 00:04 to 00:05"."""
    start = change.at if change.start is None else change.start
    end = change.at if change.end is None else change.end
    return f"a {change.kind} from {format_time(start)} to {format_time(end)}"


def _answer_dark(video: VideoFacts, ask: Question) -> Answer:
    return _brightness(video, highest=False, average=True)


def _answer_bright(video: VideoFacts, ask: Question) -> Answer:
    return _brightness(video, highest=True, average=Topic.DARK not in ask.topics)


def _brightness(video: VideoFacts, *, highest: bool, average: bool) -> Answer:
    series = facts.series(video, "brightness")
    moments = facts.extremes(series, 3, highest=highest)
    if not moments:
        return Answer("I have no brightness measurements for it.")
    word = "brightest" if highest else "darkest"
    (second, level), others = moments[0], moments[1:]
    text = f"The {word} moment is at **{format_time(second)}** ({wording.shade(level)}, {level:.0f} of 255)."
    text += wording.others("bright" if highest else "dark", [format_time(s) for s, _ in others])
    if average:
        mean = statistics.fmean(value for _, value in series)
        text += f" On average the picture is {wording.shade(mean)}."
    return Answer(text)


def _answer_motion(video: VideoFacts, ask: Question) -> Answer:
    series = facts.series(video, "motion")
    busiest = facts.extremes(series, 3, highest=True)
    if not busiest:
        return Answer("I have no movement measurements for it.")
    (second, level), others = busiest[0], busiest[1:]
    if level < 1:
        return Answer("There is almost no movement: the picture is practically still throughout.")
    text = f"The most movement is around **{format_time(second)}**."
    typical = statistics.median(value for _, value in series)
    if typical > 0 and level / typical >= 1.5:
        text += f" That's about {level / typical:.0f}{TIMES} the typical amount."
    text += wording.others("busy", [format_time(s) for s, _ in others])
    calmest = facts.extremes(series, 1, highest=False)[0][0]
    text += f" The calmest moment is around {format_time(calmest)}."
    return Answer(text)


def _answer_speech(video: VideoFacts, ask: Question) -> Answer:
    segments = facts.segments(video)
    if not segments:
        if not facts.has_audio(video):
            return Answer("It has no sound track, so nothing is said.")
        return Answer(
            "There's no transcript for it (no speech was found, or it wasn't transcribed), "
            "so I can't tell what is said."
        )
    if ask.search_terms:
        return _transcript_search(video, segments, ask.search_terms)
    words = sum(len(WORD.findall(segment.text)) for segment in segments)
    text = (
        f"The transcript has {wording.count(len(segments), 'segment')} "
        f"from {format_time(segments[0].start)} to {format_time(segments[-1].end)}, about {words:,} words."
    )
    counts = Counter(
        word
        for segment in segments
        for word in WORD.findall(segment.text.lower())
        if len(word) >= 4 and word not in STOP_WORDS
    )
    if frequent := [f"“{word}” ({n})" for word, n in counts.most_common(5) if n >= 2]:
        text += f" Words that come up most: {wording.join(frequent)}."
    quotes = [f"{format_time(segment.start)} “{wording.quote(segment.text)}”" for segment in segments]
    return Answer(text + " It starts:", quotes)


def _transcript_search(video: VideoFacts, segments: list[facts.Segment], terms: list[str]) -> Answer:
    wanted = wording.join([f"“{term}”" for term in terms], "or")
    hits = _matching(segments, terms)
    if not hits:
        return Answer(f"I couldn't find {wanted} in the transcript.")
    # Each moment found is offered as a clip of its line.
    if len(hits) == 1:
        hit = hits[0]
        return Answer(
            f"{wanted} comes up once, at **{format_time(hit.start)}**: “{wording.quote(hit.text)}” "
            f"({wording.clip_offer(video, hit.start, hit.end)})"
        )
    quotes = [
        f"{format_time(segment.start)} “{wording.quote(segment.text)}” "
        f"({wording.clip_offer(video, segment.start, segment.end)})"
        for segment in hits
    ]
    return Answer(f"{wanted} comes up in {len(hits)} places:", quotes)


def _transcript_hits(video: VideoFacts, terms: list[str]) -> bool:
    return video.status == DONE and bool(terms) and bool(_matching(facts.segments(video), terms))


def _onscreen_hits(video: VideoFacts, terms: list[str]) -> bool:
    return video.status == DONE and bool(terms) and bool(_matching(facts.onscreen(video), terms))


NEAR_SECONDS = 1.0
"""How far from a moment asked about a line may end (or begin) and still be what was on screen then."""


def _no_text(video: VideoFacts) -> str:
    note = (video.extra.get("onscreen") or {}).get("note") if isinstance(video.extra, dict) else None
    # A note saying why nothing was read; "no text was seen" is what the answer says anyway.
    if isinstance(note, str) and note.strip() and not note.lower().startswith("no text was seen"):
        return f"I have no text from its screen. {wording.sentence(wording.plain(note))}"
    return "I saw no text on screen in it (I read printed text, such as slides, captions and titles)."


def _answer_onscreen(video: VideoFacts, ask: Question) -> Answer:
    lines = facts.onscreen(video)
    if not lines:
        return Answer(_no_text(video))
    if ask.at is not None:
        return _onscreen_at(video, lines, ask.at)
    if ask.search_terms:
        return _onscreen_search(video, lines, ask.search_terms)
    return Answer(
        f"I read {wording.count(len(lines), 'line')} of text on screen, "
        f"from {format_time(lines[0].start)} to {format_time(lines[-1].end)}:",
        [f"{format_range(line.start, line.end)} “{wording.quote(line.text)}”" for line in lines],
    )


def _onscreen_at(video: VideoFacts, lines: list[facts.Shown], at: float) -> Answer:
    showing = [line for line in lines if line.start - NEAR_SECONDS <= at <= line.end + NEAR_SECONDS]
    if not showing:
        before = max((line for line in lines if line.end < at), key=lambda line: line.end, default=None)
        text = f"At {format_time(at)} I saw no text on screen."
        if before:
            text += f" The text before it ends at {format_time(before.end)}: “{wording.quote(before.text)}”."
        else:
            text += (
                f" The first text comes at {format_time(lines[0].start)}: “{wording.quote(lines[0].text)}”."
            )
        return Answer(text)
    if len(showing) == 1:
        line = showing[0]
        return Answer(
            f"At **{format_time(at)}** the screen shows “{wording.quote(line.text)}” "
            f"(from {format_time(line.start)} to {format_time(line.end)})."
        )
    # Top to bottom, as it reads on the screen.
    showing.sort(key=lambda line: (line.top, line.start))
    return Answer(
        f"At **{format_time(at)}** the screen shows:",
        [f"“{wording.quote(line.text)}” ({format_range(line.start, line.end)})" for line in showing],
    )


def _onscreen_search(video: VideoFacts, lines: list[facts.Shown], terms: list[str]) -> Answer:
    wanted = wording.join([f"“{term}”" for term in terms], "or")
    hits = _matching(lines, terms)
    if not hits:
        return Answer(f"I didn't see {wanted} on screen.")
    if len(hits) == 1:
        hit = hits[0]
        return Answer(
            f"{wanted} appears on screen once, at **{format_time(hit.start)}** (until {format_time(hit.end)}): "
            f"“{wording.quote(hit.text)}” ({wording.clip_offer(video, hit.start, hit.end)})"
        )
    return Answer(
        f"{wanted} appears on screen {wording.count(len(hits), 'time')}:",
        [
            f"{format_range(line.start, line.end)} “{wording.quote(line.text)}” "
            f"({wording.clip_offer(video, line.start, line.end)})"
            for line in hits
        ],
    )


def _answer_title(video: VideoFacts, ask: Question) -> Answer:
    title = facts.title(video)
    if title is None:
        seen = (
            "I saw no text early in it that could be its title" if facts.onscreen(video) else _no_text(video)
        )
        return Answer(f"{seen.rstrip('.')}. Its file name is {wording.code(video.name)}.")
    return Answer(
        f"Its title looks like **“{wording.quote(title.text)}”**: the largest text early on screen, "
        f"at {format_time(title.start)}."
    )


def _matching(segments: list, terms: list[str]) -> list:
    # A word also finds its longer forms: "budget" finds "budgets" and "budgeting".
    patterns = [
        re.compile(r"\b" + r"\W+".join(map(re.escape, term.split())) + r"\w*", re.IGNORECASE)
        for term in terms
    ]
    return [segment for segment in segments if any(p.search(segment.text) for p in patterns)]


ANSWERS: dict[Topic, Callable[[VideoFacts, Question], Answer]] = {
    Topic.STATUS: _answer_status,
    Topic.SUMMARY: _answer_summary,
    Topic.LENGTH: _answer_length,
    Topic.RESOLUTION: _answer_resolution,
    Topic.FRAME_RATE: _answer_frame_rate,
    Topic.FORMAT: _answer_format,
    Topic.SOUND: _answer_sound,
    Topic.LOUD: _answer_loud,
    Topic.QUIET: _answer_quiet,
    Topic.SILENCE: _answer_silence,
    Topic.SCENES: _answer_scenes,
    Topic.DARK: _answer_dark,
    Topic.BRIGHT: _answer_bright,
    Topic.MOTION: _answer_motion,
    Topic.SPEECH: _answer_speech,
    Topic.ONSCREEN: _answer_onscreen,
    Topic.TITLE: _answer_title,
}

# --- streaming -----------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?:])( +)")
_WORDS_WITH_SPACE = re.compile(r"\s*\S+\s*")
# About a few words: replies stream in small pieces, as a model's tokens would.
CHUNK_WIDTH = 24
"""Sentences longer than this are sent in several pieces."""


def stream_markdown(blocks: Iterable[Block]) -> Iterator[str]:
    """Markdown ``blocks`` joined by blank lines, as chunks of about a sentence.

    A block is a string, or the lines of a paragraph and its list. Joined, the
    chunks are exactly the reply. Blocks and their lines are produced lazily,
    so the first chunk leaves before the rest of the reply is worked out.
    """
    separator = ""
    for block in blocks:
        lines = (block,) if isinstance(block, str) else block
        lead = separator
        for line in (part for text in lines for part in text.split("\n") if part):
            pieces = _pieces(line)
            pieces[0] = lead + pieces[0]
            yield from pieces
            lead = "\n"
        if lead == "\n":
            separator = "\n\n"


def _pieces(line: str) -> list[str]:
    parts = _SENTENCE_END.split(line)
    sentences = [part + space for part, space in zip(parts[::2], [*parts[1::2], ""], strict=True)]
    pieces: list[str] = []
    for sentence in sentences:
        if len(sentence) <= CHUNK_WIDTH:
            pieces.append(sentence)
            continue
        piece = ""
        for word in _WORDS_WITH_SPACE.findall(sentence):
            if piece and len(piece) + len(word) > CHUNK_WIDTH:
                pieces.append(piece)
                piece = ""
            piece += word
        pieces.append(piece)
    return [piece for piece in pieces if piece] or [""]
