"""Understanding a question to the offline assistant, by keyword matching.

Each :class:`Topic` (length, scenes, loudness, ...) has patterns with their
synonyms, and a question raises every topic it touches. The videos asked about
are picked by name ("beach.mov", "the beach one") or by position ("the second
video"). A question that names videos, or starts like "and ...", is a follow-up.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from chat.assistant.base import VideoFacts

MAX_QUESTION = 2000
"""Characters of a question that are read; the rest cannot change the answer."""


def _words_re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


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
    ONSCREEN = "on-screen text"
    TITLE = "title"


# What each topic sounds like in a question (matched case-insensitively).
TOPIC_WORDS: dict[Topic, str] = {
    Topic.STATUS: r"\b(?:status|progress|ready|finished|done|processing|how far along)\b"
    r"|\banaly[sz]ed yet\b|\bstill (?:working|running|analy[sz]ing)\b",
    Topic.SUMMARY: r"\bsumm\w*|\bdescri\w*|\boverview\b|\bdetails\b|\bstats\b|\bstatistics\b"
    r"|\bwhat(?:'s| is| was) (?:in|on)\b(?!\W+(?:the\W+)?screen)|\btell me (?:about|more)\b|\bwhat happens\b"
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
    Topic.ONSCREEN: r"\bon[- ]?(?:the )?screens?\b|\bscreens?\b|\bslides?\b|\bappear\w*|\bshown\b"
    r"|\bdisplay\w*|\bwritten\b|\btext\b|\bheadings?\b|\bsigns?\b|\bcredits\b|\bbanners?\b",
    Topic.TITLE: r"\btitled?\b|\bwhat(?:'s| is) (?:it|this|the video|this video) called\b",
}
# Once a question is about what is on screen, "what does the slide say" is not about speech:
# only these words still ask about what is spoken.
SPOKEN_WORDS = _words_re(
    r"\btranscri\w*|\bspeak\w*|\bspoke\w*|\bspeech\b|\btalk\w*|\bvoices?\b|\bnarrat\w*"
    r"|\bdialog\w*|\bhear\w*|\bheard\b|\baloud\b|\bsaid\b"
)
# A moment asked about: "at 2:10", "around 1:05:30", "at 65 seconds", "at 65s".
AT_TIME = _words_re(
    r"\b(?:at|around|about|near|by)\s+(?:(\d{1,2}):)?(\d{1,2}):(\d{2})\b"
    r"|\b(?:at|around|about|near|by)\s+(\d{1,5}(?:\.\d+)?)\s*(?:s|secs?|seconds?)\b"
)
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
    """Words or quoted phrases to look for in transcripts (and on screen)."""
    music: bool = False
    at: float | None = None
    """The moment it asks about ("at 2:10"), in seconds."""


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
    shown = Topic.ONSCREEN in topics or Topic.TITLE in topics
    if shown and Topic.SPEECH in topics and not SPOKEN_WORDS.search(text_without_names):
        topics.remove(Topic.SPEECH)
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
        at=_moment(text_without_names),
    )


def _moment(text: str) -> float | None:
    """The time a question points at, in seconds, if it names one."""
    if not (match := AT_TIME.search(text)):
        return None
    hours, minutes, seconds, plain = match.groups()
    if plain is not None:
        return float(plain)
    if int(seconds) >= 60:
        return None
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)


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
