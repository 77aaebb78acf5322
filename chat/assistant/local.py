"""The offline assistant: answers questions about videos from their stored analyses.

It needs no network and no API key. A question is understood by keyword
matching: each :class:`Topic` (length, scenes, loudness, ...) has patterns
with their synonyms, and every topic a question touches is answered. The
videos asked about are picked by name ("beach.mov", "the beach one") or by
position ("the second video"); otherwise every video in the conversation is
answered for, briefly and labelled. A follow-up such as "and the other one?"
reuses the topics of the question before it.

Replies are Markdown, produced lazily and streamed a sentence (or a shorter
piece) at a time. Moments are always cited through
:func:`~videochat.timefmt.format_time`, which the chat page links to the
player. Text that comes from outside (file names, transcripts, failure
reasons) is kept inert: names go in code spans, other text is escaped.
"""

from __future__ import annotations

import enum
import math
import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter

from chat.assistant.base import Turn, VideoFacts
from videochat.timefmt import format_range, format_seconds, format_time

QUEUED, PROCESSING, DONE, FAILED = "queued", "processing", "done", "failed"

TIMES = "\N{MULTIPLICATION SIGN}"  # as in 1280 x 720

MAX_QUESTION = 2000
"""Characters of a question that are read; the rest cannot change the answer."""
MAX_LISTED = 10
"""Items (cuts, silences, quotes) listed before "and N more"."""
MAX_LISTED_BRIEF = 3
"""The same, per video, when answering for several videos at once."""
MAX_QUOTE = 160
"""Characters of a transcript segment quoted."""
SILENT_DBFS = -90.0
"""A second at or below this level is digital silence (the analyzer's floor is -91)."""
NEAR_SILENT_DBFS = -50.0
"""The analyzer's silence threshold: quieter than this counts as silent."""


Block = str | Iterable[str]
"""A paragraph of a reply: one string, or its lines (a paragraph and its list), made lazily."""


def _words_re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# --- understanding the question ---------------------------------------------


class Topic(enum.Enum):
    """What a question asks about a video."""

    STATUS = "status"
    SUMMARY = "summary"
    LENGTH = "length"
    RESOLUTION = "resolution"
    FRAME_RATE = "frame rate"
    FORMAT = "format"
    SOUND = "sound"
    LOUD = "loud"
    QUIET = "quiet"
    SILENCE = "silence"
    SCENES = "scenes"
    DARK = "dark"
    BRIGHT = "bright"
    MOTION = "motion"
    SPEECH = "speech"


# What each topic sounds like in a question (matched case-insensitively).
TOPIC_WORDS: dict[Topic, str] = {
    Topic.STATUS: r"\b(?:status|progress|ready|finished|done|processing|how far along)\b"
    r"|\banaly[sz]ed yet\b|\bstill (?:working|running|analy[sz]ing)\b",
    Topic.SUMMARY: r"\bsumm\w*|\bdescri\w*|\boverview\b|\bdetails\b|\bstats\b|\bstatistics\b"
    r"|\bwhat(?:'s| is| was) (?:in|on)\b|\btell me (?:about|more)\b|\bwhat happens\b"
    r"|\bwhat(?:'s| is) (?:it|this|that|the video|this video) about\b",
    # "How long is the silence / the first scene?" asks about those, not the whole video.
    Topic.LENGTH: r"\bhow long\b(?!\W+(?:\w+\W+){0,3}?(?:scene|shot|silen|pause|quiet|gap|cut|segment|part))"
    r"|\blength\b|\bduration\b|\brun ?time\b|\bhow many (?:minutes|seconds|hours)\b",
    Topic.RESOLUTION: r"\bresolution\b|\bdimensions?\b|(?<!file )\bsize\b|\bhow (?:big|large)\b(?!.{0,20}\bfile\b)"
    r"|\bwidth\b|\bheight\b|\bpixels?\b|\b(?:hd|full hd|4k|uhd|\d{3,4}p)\b|\baspect\b"
    r"|\bportrait\b|\blandscape\b|\borientation\b|\bvertical\b|\bhorizontal\b",
    Topic.FRAME_RATE: r"\bfps\b|\bframe ?rates?\b|\bframes? (?:per|a) second\b|\bframes\b",
    Topic.FORMAT: r"\bcodecs?\b|\bformats?\b|\bcontainer\b|\bencod\w*|\bbit ?rate\b|\bfile ?size\b"
    r"|\bfile type\b|\bkind of file\b|\bhow (?:big|large) is (?:the|this|that) file\b"
    r"|\b(?:mega|giga|kilo)bytes?\b|\b(?:mb|gb)\b|\bh\.?26[45]\b|\bhevc\b|\bcompress\w*",
    Topic.SOUND: r"\bsound\w*|\baudio\b|\bmusic\w*|\bhear\w*|\bnoise\b|\bvolume\b|\bchannels?\b"
    r"|\bstereo\b|\bmono\b|\bsample ?rate\b",
    Topic.LOUD: r"\bloud\w*|\bnois(?:y|ier|iest)\b|\bpeaks?\b",
    Topic.QUIET: r"\bquiet\w*|\bsoftest\b|\blowest (?:volume|level)\b",
    Topic.SILENCE: r"\bsilen\w*|\bpauses?\b|\bmuted?\b|\bno sound\b|\bgaps?\b|\bdead air\b",
    Topic.SCENES: r"\bscenes?\b|\bcuts?\b|\bshots?\b|\btransitions?\b|\bcamera changes?\b|\bedits\b",
    Topic.DARK: r"\bdark\w*|\bdim(?:mest|mer)?\b|\bblack\b|\bnight\b|\blow[- ]light\b"
    r"|\bbrightness\b|\blighting\b|\bexposure\b|\blight levels?\b",
    Topic.BRIGHT: r"\bbright\w*|\blightest\b|\bsunn?y\b|\bwhite\b|\blighting\b|\bexposure\b|\blight levels?\b",
    Topic.MOTION: r"\baction\w*|\bmotion\b|\bmov(?:ing|ement|ements)\b|\bactiv\w*|\bbusy\b|\bbusiest\b"
    r"|\bcalm\w*|\bstatic\b|\bshak\w*|\bfast\b|\bintense\b|\bdynamic\b|\bexciting\b",
    # "What can you say?" is a request for help, not about speech.
    Topic.SPEECH: r"\btranscri\w*|(?<!you )(?<!you can )\bsa(?:y|ys|id|ying)\b|\bmention\w*|\btalk\w*"
    r"|\bspeak\w*|\bspoke\w*|\bspeech\b|\bwords?\b|\bdialog\w*|\bdiscuss\w*|\bquotes?\b"
    r"|\blyrics\b|\bvoices?\b|\bnarrat\w*|\bsubtitles?\b|\bcaptions?\b",
}
TOPIC_PATTERNS = {topic: _words_re(words) for topic, words in TOPIC_WORDS.items()}

GREETING = _words_re(r"^\W*(?:hi|hello|hey|hiya|howdy|greetings|good (?:morning|afternoon|evening|day))\b")
THANKS = _words_re(r"\b(?:thanks|thank you|thank u|thx|cheers)\b")
HELP = _words_re(
    r"\bhelp\b|\bwhat can (?:you|i)\b|\bwhat (?:do|should|could) i ask\b|\bhow (?:do|does) (?:this|it|you) work\b"
    r"|\bwho are you\b|\bwhat are you\b|\bwhat do you know\b|\bexamples?\b"
)
INVENTORY = _words_re(
    r"\bwhich videos\b|\bwhat videos\b|\bhow many videos\b|\blist (?:my |the |all )?(?:videos|files)\b"
)
FOLLOW_UP = _words_re(r"^\W*(?:and|what about|how about|same for|and for|now for|also for)\b")

ORDINALS = {
    "first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3,
    "fifth": 4, "5th": 4, "last": -1, "latest": -1, "newest": -1,
}  # fmt: skip
ORDINAL = _words_re(r"\b(" + "|".join(ORDINALS) + r")\s+(?:video|clip|one|file|upload|movie|recording)s?\b")
NUMBERED = _words_re(r"\b(?:video|clip|file)\s*(?:#|no\.?\s*|number\s*)?(\d{1,2})\b")
FILE_NAME = _words_re(r"[\w\-]+\.(?:mp4|m4v|mov|webm|mkv|avi|ts|mpg|mpeg|3gp|wmv|flv)\b")
QUOTED = re.compile(r"[\"“]([^\"“”]{2,60})[\"”]")
WORD = re.compile(r"[^\W_]+")

# Words that name no video even when they are part of a file name ("final_video.mp4").
GENERIC_NAME_WORDS = _word_set(
    "video videos clip clips movie film file recording record final copy untitled export edit new img vid mov"
    " screen the and"
)
# Words that are never what a transcript search is looking for.
STOP_WORDS = _word_set(
    """a about above after again all also am an and any anybody anyone anything are as at be been before being
    between both bring brought but by came can come comes could did do does doing done during each else ever
    every find for from get gets got had has have having he her here him his how i if in into is it its just
    let look me mention mentioned mentioning mentions more most much my no not now of off on once one only or
    other our out over part parts people person please quote quotes said same say saying says search she
    should show so some somebody someone something speak speaking speaks speech spoke spoken talk talked
    talking talks tell than that the their them then there these they thing things this those through time
    times to too transcript under until up us very video videos clip was we were what whats when where which
    while who whom why will with word words would you your yours discuss discussed discussing line lines
    moment moments"""
)


@dataclass
class Question:
    """What a message asks, as far as keywords tell."""

    topics: list[Topic]
    videos: list[VideoFacts]
    """The videos it names or points to; empty when it names none."""
    unknown_names: list[str] = field(default_factory=list)
    """File names it mentions that are not in the conversation."""
    greeting: bool = False
    thanks: bool = False
    help: bool = False
    inventory: bool = False
    follow_up: bool = False
    """It can only be understood with the question before ("and the second one?")."""
    search_terms: list[str] = field(default_factory=list)
    """Words or quoted phrases to look for in transcripts."""
    music: bool = False


def parse_question(message: str, videos: Sequence[VideoFacts]) -> Question:
    """Understand ``message`` (a user's chat message) about ``videos``."""
    text = " ".join(message[:MAX_QUESTION].replace("\N{RIGHT SINGLE QUOTATION MARK}", "'").lower().split())
    named, text_without_names = _named_videos(text, videos)
    # Topics in the order the question raises them.
    raised = {
        topic: match.start()
        for topic, pattern in TOPIC_PATTERNS.items()
        if (match := pattern.search(text_without_names))
    }
    topics = sorted(raised, key=lambda topic: (raised[topic], list(Topic).index(topic)))
    known = [video.name.lower() for video in videos]
    unknown = [
        name
        for name in dict.fromkeys(FILE_NAME.findall(text))
        if not any(name in video_name or video_name in name for video_name in known)
    ]
    return Question(
        topics=topics,
        videos=named,
        unknown_names=unknown,
        greeting=bool(GREETING.search(text)),
        thanks=bool(THANKS.search(text)),
        help=bool(HELP.search(text)),
        inventory=bool(INVENTORY.search(text)),
        follow_up=bool(named) or bool(FOLLOW_UP.search(text)),
        search_terms=_search_terms(text_without_names),
        music=bool(re.search(r"\bmusic", text_without_names)),
    )


def _named_videos(text: str, videos: Sequence[VideoFacts]) -> tuple[list[VideoFacts], str]:
    """The videos ``text`` names or points to, and ``text`` without any video's name.

    A full file name beats the name without its extension, which beats one
    distinctive word of it; ordinals ("the second video") add to the match.
    """
    levels: dict[int, list[VideoFacts]] = {}
    words = f" {' '.join(WORD.findall(text))} "
    for video in videos:
        full = video.name.lower().strip()
        stem_words = WORD.findall(full.rsplit(".", 1)[0] if "." in full else full)
        stem = " ".join(stem_words)
        level = 0
        whole_name = re.compile(r"(?<![\w.-])" + re.escape(full) + r"(?![\w-])") if full else None
        if whole_name and whole_name.search(text):
            level = 3
            text = whole_name.sub(" ", text)
        if _distinctive(stem) and f" {stem} " in words:
            level = max(level, 2)
            text = re.sub(r"\b" + r"[\W_]+".join(map(re.escape, stem_words)) + r"\b", " ", text)
        if not level and any(_distinctive(w) and len(w) >= 4 and f" {w} " in words for w in stem_words):
            level = 1
        if level:
            levels.setdefault(level, []).append(video)
    named = levels[max(levels)] if levels else []

    pointed: list[int] = [ORDINALS[m.group(1)] for m in ORDINAL.finditer(text)]
    pointed += [int(m.group(1)) - 1 for m in NUMBERED.finditer(text)]
    for index in pointed:
        if -len(videos) <= index < len(videos) and videos[index] not in named:
            named.append(videos[index])
    # Keep the conversation's order, so "the first and the last" reads naturally.
    return [video for video in videos if video in named], text


def _distinctive(word: str) -> bool:
    """Whether ``word`` (from a file name) could only mean that file."""
    return (
        len(word) >= 3
        and not word.isdigit()
        and word not in GENERIC_NAME_WORDS
        and word not in STOP_WORDS
        and not _names_a_topic(word)
    )


def _search_terms(text: str) -> list[str]:
    """What to look for in a transcript: quoted phrases, else the question's uncommon words."""
    phrases = [" ".join(WORD.findall(phrase)) for phrase in QUOTED.findall(text)]
    if phrases := [phrase for phrase in phrases if phrase]:
        return list(dict.fromkeys(phrases))
    words = [word for word in WORD.findall(text) if len(word) >= 3 and word not in STOP_WORDS]
    # Words that name a topic ("loudest", "scene") are questions about the analysis, not the speech.
    words = [word for word in words if not _names_a_topic(word)]
    return list(dict.fromkeys(words))


def _names_a_topic(word: str) -> bool:
    return any(pattern.search(word) for pattern in TOPIC_PATTERNS.values())


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
        missing = _join([_code(name) for name in ask.unknown_names])
        yield f"I don't see {missing} in this conversation. The videos here are {_names(videos)}."
        return
    conversational = ask.help or ask.inventory or ask.greeting or ask.thanks
    if not ask.topics and not conversational:
        if ask.videos:
            ask.topics = [Topic.SUMMARY]
        elif any(_transcript_hits(video, ask.search_terms) for video in videos):
            # Not a question about the analysis, but its words are in what is said.
            ask.topics = [Topic.SPEECH]
    if not ask.topics:
        if ask.help:
            yield from _help(videos)
        elif ask.inventory:
            yield from _inventory(videos)
        elif ask.greeting:
            yield (
                f"Hi! I'm the offline assistant for your videos. I can tell you about {_names(videos)}: "
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
        yield _state(video, _code(video.name))
        return
    yield _paragraph(f"{_code(video.name)} is ready. Here's what the analysis found:", _overview(video))
    yield (
        "Ask me about any of it, such as when it's loudest or when the scenes change. "
        "I'm the offline assistant, so my answers come from this analysis."
    )


def _help(videos: Sequence[VideoFacts]) -> Iterator[Block]:
    yield _paragraph(
        "I'm the offline assistant: I answer questions about the videos in this conversation from their "
        "analysis, without an AI model (no API key is set up). You can ask me about:",
        CAPABILITIES,
    )
    if len(videos) > 1:
        yield "Name a video (or say “the second video”) to ask about just that one; otherwise I answer for each."
    elif not videos:
        yield NO_VIDEOS


def _cannot_answer() -> Iterator[Block]:
    yield _paragraph(
        f"Sorry, I can't answer that from the analysis. {OFFLINE}, and I can't see what the pictures show. "
        "I can tell you about:",
        CAPABILITIES,
    )
    yield EXAMPLES


def _inventory(videos: Sequence[VideoFacts]) -> Iterator[Block]:
    lines = []
    for video in videos:
        if video.status == DONE:
            duration = _duration(video)
            length = f"{format_time(duration)} long" if duration is not None else "length unknown"
            lines.append(f"{_code(video.name)}: analysed, {length}")
        else:
            lines.append(f"{_code(video.name)}: {_state(video, None)}")
    yield _paragraph(f"There {_count(len(videos), 'video', verb=True)} in this conversation:", lines)


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
        yield _state(video, _code(video.name))
        return
    if labelled:
        yield f"About {_code(video.name)}:"
    elif ask.greeting:
        yield "Hi!"
    for topic in ask.topics:
        answer = ANSWERS[topic](video, ask)
        details = answer.details if answer.complete else _cut(list(answer.details), MAX_LISTED)
        yield _paragraph(answer.text, details)
        if answer.note:
            yield answer.note


def _answer_brief(video: VideoFacts, ask: Question) -> str:
    lines = [f"**{_code(video.name)}**"]
    if video.status != DONE:
        return "\n".join([*lines, f"- {_state(video, None)}"])
    for topic in ask.topics:
        answer = ANSWERS[topic](video, ask)
        details = answer.details if answer.complete else _cut(list(answer.details), MAX_LISTED_BRIEF)
        lines.append(f"- {answer.text}")
        lines += [f"  - {detail}" for detail in details]
    return "\n".join(lines)


def _state(video: VideoFacts, name: str | None) -> str:
    """Where an unfinished video is, named by ``name`` (or "it")."""
    if video.status == FAILED:
        reason = _sentence(_plain(video.failure_reason) or "the analysis stopped without saying why")
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
    where = f"{stage}, {progress}" if (stage := _plain(video.stage)) else progress
    return f"{subject} is still being analysed ({where}). I'll post what I find as soon as it's done."


def _answer_status(video: VideoFacts, ask: Question) -> Answer:
    facts = []
    if (duration := _duration(video)) is not None:
        facts.append(f"{format_time(duration)} long")
    if scenes := _scenes(video):
        facts.append(_count(len(scenes), "scene"))
    return Answer(f"It's analysed and ready ({', '.join(facts)})." if facts else "It's analysed and ready.")


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
    if (duration := _duration(video)) is not None:
        basics.append(format_time(duration))
    if size := _resolution(video):
        basics.append(f"{size[0]}{TIMES}{size[1]}")
    if (fps := _number(meta.get("frame_rate"))) is not None:
        basics.append(_fps(fps))
    codec = _codec(meta.get("video_codec"))
    container = _container(meta.get("container"))
    if codec or container:
        basics.append(" in ".join(part for part in (codec, container) if part))
    if (file_size := _number(meta.get("file_size"))) is not None:
        basics.append(_bytes(file_size))
    if basics:
        yield f"**Basics:** {' · '.join(basics)}"

    if not _has_audio(video):
        yield "**Sound:** none (no sound track)"
    else:
        sound = [_audio_description(meta) or "a sound track"]
        if loudest := _extremes(_series(video, "loudness"), 1, highest=True):
            sound.append(f"loudest at {format_time(loudest[0][0])}")
        silences = _silences(video)
        if silences:
            listed = _join(_cut([format_range(*s) for s in silences], 3))
            sound.append(f"{_count(len(silences), 'silent stretch', 'silent stretches')} ({listed})")
        else:
            sound.append("no silent stretches")
        yield f"**Sound:** {'; '.join(sound)}"

    if scenes := _scenes(video):
        cuts = [format_time(start) for start, _ in scenes[1:]]
        if cuts:
            yield f"**Scenes:** {len(scenes)}, with cuts at {_join(_cut(cuts, 5))}"
        else:
            yield "**Scenes:** one continuous shot"

    picture = []
    brightness = _series(video, "brightness")
    if darkest := _extremes(brightness, 1, highest=False):
        picture.append(f"darkest at {format_time(darkest[0][0])}")
    if brightest := _extremes(brightness, 1, highest=True):
        picture.append(f"brightest at {format_time(brightest[0][0])}")
    if (busiest := _extremes(_series(video, "motion"), 1, highest=True)) and busiest[0][1] >= 1:
        picture.append(f"most movement around {format_time(busiest[0][0])}")
    if picture:
        yield f"**Picture:** {', '.join(picture)}"

    if segments := _segments(video):
        first = segments[0]
        yield (
            f"**Speech:** {_count(len(segments), 'transcript segment')}, "
            f"starting at {format_time(first.start)} with “{_quote(first.text, 80)}”"
        )


def _answer_length(video: VideoFacts, ask: Question) -> Answer:
    duration = _duration(video)
    if duration is None:
        return Answer("I don't know how long it is: the analysis has no duration.")
    exact = format_seconds(duration) if duration < 600 else f"about {round(duration / 60)} minutes"
    return Answer(f"It is **{format_time(duration)}** long ({exact}).")


def _answer_resolution(video: VideoFacts, ask: Question) -> Answer:
    size = _resolution(video)
    if size is None:
        return Answer("I don't know its resolution: the analysis has no picture size.")
    width, height = size
    shorter = min(width, height)
    label = next((name for least, name in RESOLUTION_NAMES if shorter >= least), "low resolution")
    shape = "landscape" if width > height else "portrait" if width < height else "square"
    text = f"The picture is **{width}{TIMES}{height}** ({label}, {shape})."
    rotation = _number(video.metadata.get("rotation")) or 0
    if int(rotation) % 180 == 90:
        text += (
            f" The file stores it as {height}{TIMES}{width} and turns it {abs(int(rotation))}° when it plays."
        )
    return Answer(text)


RESOLUTION_NAMES = [
    (2160, "4K"), (1440, "1440p"), (1080, "1080p Full HD"), (720, "720p HD"), (480, "480p SD"), (360, "360p"),
]  # fmt: skip


def _answer_frame_rate(video: VideoFacts, ask: Question) -> Answer:
    fps = _number(video.metadata.get("frame_rate"))
    if fps is None or fps <= 0:
        return Answer("I don't know its frame rate: the analysis doesn't have it.")
    text = f"It plays at **{_fps(fps)}**."
    if (duration := _duration(video)) is not None:
        text += f" That's about {round(fps * duration):,} frames in all."
    return Answer(text)


def _answer_format(video: VideoFacts, ask: Question) -> Answer:
    meta = video.metadata
    sizes = [
        text
        for value, show in ((meta.get("file_size"), _bytes), (meta.get("bit_rate"), _bit_rate))
        if (number := _number(value)) is not None and number > 0 and (text := show(number))
    ]
    if len(sizes) == 2:
        sizes[1] += " overall"
    container = _container(meta.get("container"))
    sentences = []
    if container and sizes:
        sentences.append(f"The file is **{container}**: {', '.join(sizes)}.")
    elif container or sizes:
        sentences.append(f"The file is **{container}**." if container else f"The file is {', '.join(sizes)}.")
    if codec := _codec(meta.get("video_codec")):
        sentences.append(f"The video is **{codec}**.")
    if not _has_audio(video):
        sentences.append("There is no sound track.")
    elif sound := _audio_description(meta):
        sentences.append(f"The sound is **{sound}**.")
    if not container and not codec:
        sentences.insert(0, "I don't know its format: the analysis doesn't have it.")
    return Answer(" ".join(sentences))


def _answer_sound(video: VideoFacts, ask: Question) -> Answer:
    if not _has_audio(video):
        return Answer("It has **no sound track**" + (", so no music either." if ask.music else "."))
    sentences = [f"It has sound: **{_audio_description(video.metadata) or 'a sound track'}**."]
    loudness = _series(video, "loudness")
    if loudness:
        typical = statistics.median(value for _, value in loudness)
        second, level = _extremes(loudness, 1, highest=True)[0]
        sentences.append(
            f"The typical level is about {typical:.0f} dBFS; the loudest moment is at "
            f"{format_time(second)} ({level:.1f} dBFS)."
        )
    silences = _silences(video)
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
    if not _has_audio(video):
        return Answer("It has no sound track, so there are no loud moments.")
    peaks = _extremes(_series(video, "loudness"), 3, highest=True)
    if not peaks:
        return Answer("I have no loudness measurements for it.")
    (second, level), others = peaks[0], peaks[1:]
    text = f"The loudest moment is at **{format_time(second)}** ({level:.1f} dBFS)."
    text += _others("loud", [f"{format_time(s)} ({v:.1f} dBFS)" for s, v in others])
    return Answer(text)


def _answer_quiet(video: VideoFacts, ask: Question) -> Answer:
    if not _has_audio(video):
        return Answer("It has no sound track, so it is silent throughout.")
    lows = _extremes(_series(video, "loudness"), 3, highest=False)
    if not lows:
        return Answer("I have no loudness measurements for it.")
    (second, level), others = lows[0], lows[1:]
    text = f"The quietest moment is at **{format_time(second)}** ({_level(level)})."
    text += _others("quiet", [f"{format_time(s)} ({_level(v)})" for s, v in others])
    if Topic.SILENCE not in ask.topics and (silences := _silences(video)):
        listed = _join(_cut([format_range(*s) for s in silences], 3))
        text += f" It has {_count(len(silences), 'silent stretch', 'silent stretches')}: {listed}."
    return Answer(text)


def _answer_silence(video: VideoFacts, ask: Question) -> Answer:
    if not _has_audio(video):
        return Answer("It has no sound track, so it is silent throughout.")
    silences = _silences(video)
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
    scenes = _scenes(video)
    if not scenes:
        return Answer("I have no scene information for it.")
    if len(scenes) == 1:
        return Answer("It is **one continuous shot**: I found no cuts.")
    cuts = [format_time(start) for start, _ in scenes[1:]]
    if len(cuts) == 1:
        text = f"I found **2 scenes**. The cut is at {cuts[0]}."
    else:
        listed = _cut(cuts, MAX_LISTED)
        text = f"I found **{len(scenes)} scenes**. The first cut is at {listed[0]}, then {_join(listed[1:])}."
    start, end = max(scenes, key=lambda scene: scene[1] - scene[0])
    text += f" The longest scene runs {format_range(start, end)} ({format_seconds(end - start)})."
    return Answer(text)


def _answer_dark(video: VideoFacts, ask: Question) -> Answer:
    return _brightness(video, highest=False, average=True)


def _answer_bright(video: VideoFacts, ask: Question) -> Answer:
    return _brightness(video, highest=True, average=Topic.DARK not in ask.topics)


def _brightness(video: VideoFacts, *, highest: bool, average: bool) -> Answer:
    series = _series(video, "brightness")
    moments = _extremes(series, 3, highest=highest)
    if not moments:
        return Answer("I have no brightness measurements for it.")
    word = "brightest" if highest else "darkest"
    (second, level), others = moments[0], moments[1:]
    text = f"The {word} moment is at **{format_time(second)}** ({_shade(level)}, {level:.0f} of 255)."
    text += _others("bright" if highest else "dark", [format_time(s) for s, _ in others])
    if average:
        mean = statistics.fmean(value for _, value in series)
        text += f" On average the picture is {_shade(mean)}."
    return Answer(text)


def _answer_motion(video: VideoFacts, ask: Question) -> Answer:
    series = _series(video, "motion")
    busiest = _extremes(series, 3, highest=True)
    if not busiest:
        return Answer("I have no movement measurements for it.")
    (second, level), others = busiest[0], busiest[1:]
    if level < 1:
        return Answer("There is almost no movement: the picture is practically still throughout.")
    text = f"The most movement is around **{format_time(second)}**."
    typical = statistics.median(value for _, value in series)
    if typical > 0 and level / typical >= 1.5:
        text += f" That's about {level / typical:.0f}{TIMES} the typical amount."
    text += _others("busy", [format_time(s) for s, _ in others])
    calmest = _extremes(series, 1, highest=False)[0][0]
    text += f" The calmest moment is around {format_time(calmest)}."
    return Answer(text)


def _answer_speech(video: VideoFacts, ask: Question) -> Answer:
    segments = _segments(video)
    if not segments:
        if not _has_audio(video):
            return Answer("It has no sound track, so nothing is said.")
        return Answer(
            "There's no transcript for it (no speech was found, or it wasn't transcribed), "
            "so I can't tell what is said."
        )
    if ask.search_terms:
        return _transcript_search(segments, ask.search_terms)
    words = sum(len(WORD.findall(segment.text)) for segment in segments)
    text = (
        f"The transcript has {_count(len(segments), 'segment')} "
        f"from {format_time(segments[0].start)} to {format_time(segments[-1].end)}, about {words:,} words."
    )
    counts = Counter(
        word
        for segment in segments
        for word in WORD.findall(segment.text.lower())
        if len(word) >= 4 and word not in STOP_WORDS
    )
    if frequent := [f"“{word}” ({n})" for word, n in counts.most_common(5) if n >= 2]:
        text += f" Words that come up most: {_join(frequent)}."
    quotes = [f"{format_time(segment.start)} “{_quote(segment.text)}”" for segment in segments]
    return Answer(text + " It starts:", quotes)


def _transcript_search(segments: list[Segment], terms: list[str]) -> Answer:
    wanted = _join([f"“{term}”" for term in terms], "or")
    hits = _matching(segments, terms)
    if not hits:
        return Answer(f"I couldn't find {wanted} in the transcript.")
    if len(hits) == 1:
        hit = hits[0]
        return Answer(f"{wanted} comes up once, at **{format_time(hit.start)}**: “{_quote(hit.text)}”")
    quotes = [f"{format_time(segment.start)} “{_quote(segment.text)}”" for segment in hits]
    return Answer(f"{wanted} comes up in {len(hits)} places:", quotes)


def _transcript_hits(video: VideoFacts, terms: list[str]) -> bool:
    return video.status == DONE and bool(terms) and bool(_matching(_segments(video), terms))


def _matching(segments: list[Segment], terms: list[str]) -> list[Segment]:
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
}


# --- reading the analysis defensively (it is JSON from storage) ------------


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str


def _number(value: object) -> float | None:
    if type(value) is float:  # the common case, kept quick for long timelines
        return value if math.isfinite(value) else None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _series(video: VideoFacts, name: str) -> list[tuple[int, float]]:
    """A per-second timeline as (second, value) pairs, without the missing and infinite values."""
    values = video.timelines.get(name) if isinstance(video.timelines, dict) else None
    if not isinstance(values, list | tuple):
        return []
    return [(second, number) for second, value in enumerate(values) if (number := _number(value)) is not None]


def _spans(items: object) -> list[tuple[float, float]]:
    if not isinstance(items, list | tuple):
        return []
    spans = []
    for item in items:
        if isinstance(item, dict):
            start, end = _number(item.get("start")), _number(item.get("end"))
            if start is not None and end is not None and end >= start:
                spans.append((start, end))
    return sorted(spans)


def _scenes(video: VideoFacts) -> list[tuple[float, float]]:
    return _spans(video.scenes)


def _silences(video: VideoFacts) -> list[tuple[float, float]]:
    return _spans(video.silences)


def _segments(video: VideoFacts) -> list[Segment]:
    segments = []
    for item in video.transcript if isinstance(video.transcript, list | tuple) else ():
        if not isinstance(item, dict):
            continue
        start, end, text = _number(item.get("start")), _number(item.get("end")), item.get("text")
        if start is not None and isinstance(text, str) and text.strip():
            segments.append(Segment(start, end if end is not None else start, " ".join(text.split())))
    return sorted(segments, key=lambda segment: segment.start)


def _duration(video: VideoFacts) -> float | None:
    duration = _number(video.metadata.get("duration"))
    if duration is not None and duration > 0:
        return duration
    if scenes := _scenes(video):
        return scenes[-1][1]
    return None


def _resolution(video: VideoFacts) -> tuple[int, int] | None:
    """Width and height of the picture as it plays (after any rotation)."""
    width, height = _number(video.metadata.get("width")), _number(video.metadata.get("height"))
    if not width or not height:
        return None
    rotation = int(_number(video.metadata.get("rotation")) or 0)
    return (int(height), int(width)) if rotation % 180 == 90 else (int(width), int(height))


def _has_audio(video: VideoFacts) -> bool:
    has_audio = video.metadata.get("has_audio")
    if isinstance(has_audio, bool):
        return has_audio
    return bool(video.metadata.get("audio_codec")) or bool(_series(video, "loudness"))


def _extremes(series: list[tuple[int, float]], count: int, *, highest: bool) -> list[tuple[int, float]]:
    """Up to ``count`` of the highest (or lowest) seconds, each a distinct moment.

    Moments are a few seconds apart, and after the first only those that stand
    out at least half as far from the typical value are kept (in a flat
    timeline, the runners-up are not "moments" at all).
    """
    if not series:
        return []
    spacing = max(2, min(10, len(series) // 15))
    # A stable sort, so of equal values the earliest second comes first.
    ranked = sorted(series, key=itemgetter(1), reverse=highest)
    typical = statistics.median(value for _, value in series)
    standout = abs(ranked[0][1] - typical) / 2
    chosen = [ranked[0]]
    for second, value in ranked[1:]:
        if len(chosen) == count or not standout or abs(value - typical) < standout:
            break
        if all(abs(second - other) > spacing for other, _ in chosen):
            chosen.append((second, value))
    return chosen


# --- words for people ---------------------------------------------------------

CONTAINERS = {
    "mp4": "MP4", "mov": "QuickTime MOV", "webm": "WebM", "matroska": "Matroska (MKV)", "avi": "AVI",
    "mpegts": "MPEG-TS", "mpeg": "MPEG-PS", "mpegps": "MPEG-PS", "flv": "FLV", "3gp": "3GP",
}  # fmt: skip
CODECS = {
    "h264": "H.264", "hevc": "H.265 (HEVC)", "vp8": "VP8", "vp9": "VP9", "av1": "AV1", "mpeg4": "MPEG-4",
    "mpeg2video": "MPEG-2", "mpeg1video": "MPEG-1", "prores": "ProRes", "mjpeg": "Motion JPEG",
    "aac": "AAC", "mp3": "MP3", "opus": "Opus", "vorbis": "Vorbis", "ac3": "AC-3", "eac3": "E-AC-3",
    "flac": "FLAC", "alac": "ALAC", "mp2": "MP2",
}  # fmt: skip
CHANNELS = {1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"}


def _container(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        return ""
    # ffmpeg may report a family ("mov,mp4,m4a,3gp,3g2,mj2"): MP4 is what people call it.
    names = [part.strip().lower() for part in name.split(",")]
    for known in ("mp4", *CONTAINERS):
        if known in names:
            return CONTAINERS[known]
    return _plain(names[0].upper())


def _codec(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        return ""
    name = name.strip().lower()
    if name.startswith("pcm_"):
        return "uncompressed PCM"
    return CODECS.get(name) or _plain(name)


def _audio_description(meta: dict) -> str:
    """E.g. "AAC stereo, 48 kHz"; empty when nothing is known."""
    channels = _number(meta.get("audio_channels"))
    rate = _number(meta.get("audio_sample_rate"))
    kind = " ".join(
        part
        for part in (
            _codec(meta.get("audio_codec")),
            CHANNELS.get(int(channels), f"{int(channels)}-channel") if channels else "",
        )
        if part
    )
    hertz = f"{rate / 1000:.1f}".removesuffix(".0") + " kHz" if rate else ""
    return ", ".join(part for part in (kind, hertz) if part)


def _fps(fps: float) -> str:
    """30.0 → "30 fps", 29.97002997 → "29.97 fps", 23.976 → "23.976 fps"."""
    return f"{fps:.3f}".rstrip("0").rstrip(".") + " fps"


def _bytes(size: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size:.0f} bytes"


def _bit_rate(bits_per_second: float) -> str:
    for unit, scale in (("Mb/s", 1e6), ("kb/s", 1e3)):
        if bits_per_second >= scale:
            return f"{bits_per_second / scale:.1f} {unit}"
    return f"{bits_per_second:.0f} b/s"


def _level(dbfs: float) -> str:
    if dbfs <= SILENT_DBFS:
        return "silent"
    if dbfs < NEAR_SILENT_DBFS:
        return f"near silent, {dbfs:.1f} dBFS"
    return f"{dbfs:.1f} dBFS"


def _shade(luma: float) -> str:
    for upper, word in ((40, "very dark"), (85, "dark"), (170, "of medium brightness"), (215, "bright")):
        if luma < upper:
            return word
    return "very bright"


def _count(n: int, singular: str, plural: str = "", *, verb: bool = False) -> str:
    """(1, "scene") → "1 scene", (4, "scene") → "4 scenes"; with ``verb``, "is 1 video"."""
    noun = singular if n == 1 else plural or f"{singular}s"
    text = f"{n} {noun}"
    return (f"is {text}" if n == 1 else f"are {text}") if verb else text


def _others(kind: str, moments: list[str]) -> str:
    """ " Another loud moment: 00:10." or " Other loud moments: 00:10 and 00:20." (empty for none)."""
    if not moments:
        return ""
    if len(moments) == 1:
        return f" Another {kind} moment: {moments[0]}."
    return f" Other {kind} moments: {_join(moments)}."


def _join(items: Sequence[str], last: str = "and") -> str:
    """["a", "b", "c"] → "a, b and c"."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def _cut(items: list[str], keep: int) -> list[str]:
    """The first ``keep`` items, and "N more" for the rest."""
    return items if len(items) <= keep else [*items[:keep], f"{len(items) - keep} more"]


def _paragraph(text: str, items: Iterable[str]) -> Iterator[str]:
    """The lines of a paragraph and the list under it (made as they are read)."""
    return chain([text], (f"- {item}" for item in items))


def _names(videos: Sequence[VideoFacts]) -> str:
    return _join(_cut([_code(video.name) for video in videos], 5))


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


# --- keeping outside text inert ------------------------------------------------

_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]<>#|~!])")


def _code(name: str) -> str:
    """A file name as a code span: Markdown inside it is not interpreted, and it is never a link."""
    name = " ".join(name.replace("`", "'").split())
    return f"`{name}`" if name else "this video"


def _plain(text: str) -> str:
    """Outside text on one line, with Markdown's punctuation escaped (so it cannot make a link or a list)."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", " ".join(str(text).split()))


def _quote(text: str, limit: int = MAX_QUOTE) -> str:
    text = text.strip().strip('"“”')
    if len(text) > limit:
        text = text[: limit - 1].rsplit(" ", 1)[0] + "…"
    return _plain(text)


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
