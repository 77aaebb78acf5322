"""Scale: what a user's pages, search, chat and the admin cost at 1x, 10x and 100x the data.

Run from the project folder:  .venv/bin/python -m bench.bench_scale [--rounds 11] [--explain]

Issue 17. A user with a year of recorded meetings has a hundred times the rows
of one who just started; each page should cost about the same for both. This
builds users at 1x (24 videos of 50 transcript segments each = 1.2k segments,
30 conversations, 100 messages in the largest), 10x and 100x (2,400 videos,
120k segments, 3,000 conversations, 10k messages in one), with realistic text:
sentences drawn from a word list with a Zipf-like frequency, so the two
"common words" searched for are in many segments and the "rare word" is in
exactly PLANTED of them at every size. 1x is the issue's smallest user (20
videos, 10 conversations) grown to fill the first page of the video list (24)
and of the conversations list (30): a ratio then compares the same page with a
hundred times the rows under it, not a part-filled page with a full one.

It times, in-process through django.test.Client logged in as each user, with
the user's Redis read cache bumped before every request (so every answer is
built from the database): the video list, a video page, search for the rare
word and for the two common words, the conversations list, the thread page of
the largest conversation, loading older messages from its middle, and the
offline assistant's reply to a question over it (chat.jobs.write_reply, what
the worker runs, called directly). The three users share one database.

Staff-wide figures (`manage.py queue status` and the admin changelists of
videos, analyses and messages, as a superuser) read whole tables, not one
user's rows, so each size is a site of its own, in a database of its own: the
site at 1x holds the 1x user, at 10x the 1x and 10x users, at 100x all three
(the database the user pages are timed on), each topped up with other users'
videos (and their analyses, no transcript) to SITE_VIDEOS x the size: 100,
1,000 and 10,000 videos and analyses (a full admin page at 1x), 216, 2.4k and
24k messages. For each admin changelist the SQL `COUNT(*)`s over a whole big
table are counted as well.

Every figure is timed at the three sizes in turn, round after round (the order
rotating), and is the median of its rounds, so a slower minute of a shared
machine falls on all three sizes alike.

The databases are on the server DATABASE_URL names: on PostgreSQL scratch
databases created beside it (and dropped afterwards, whatever happens),
migrated, and ANALYZEd after the build as autovacuum would; otherwise (the
default) scratch SQLite files. Redis: REDIS_URL, else an embedded Valkey.

Prints a table (ms at each size, the ratio 100x / 1x, the target), then
`name: value` lines: `scale_<figure>_100x` (the ratio; target <= 2, search for
common words <= 10), `scale_worst_ratio_100x` (over all but common-word search)
and `scale_search_rare_100x_ms`. For every ratio over its target it prints the
slowest SQL of that request at 100x (with --explain, its plan). Missing a
target does not fail the run; an error does.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import itertools
import os
import random
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from bench.bench_upload import redis_url

BASE_DIR = Path(__file__).resolve().parent.parent
LEVELS = (1, 10, 100)
# The 1x user; the others have LEVEL times each. A full first page of each list.
VIDEOS = 24  # analysis.selectors.VIDEOS_PER_PAGE
SEGMENTS_PER_VIDEO = 50
CONVERSATIONS = 30  # chat.selectors.CONVERSATIONS_PER_PAGE
LARGEST_CONVERSATION = 100  # messages
MESSAGES_PER_CONVERSATION = 4  # in each of the others
ATTACHED = 3  # videos attached to the largest conversation (the assistant reads each one)
SITE_VIDEOS = 100  # videos (and analyses) of all users at 1x: one page of the admin's changelist
BATCH = 2000

RATIO_TARGET = 2.0
COMMON_TARGET = 10.0
RARE_WORD = "zeppelin"
PLANTED = 3  # segments with the rare word, per user
COMMON_WORDS = "project team"
QUESTION = "When is the budget mentioned, and when is it loudest?"
STAFF = "staff@example.com"
PASSWORD = "bench password " + secrets.token_hex(8)

# Spoken English, most frequent first (the two common search words placed high);
# a long tail of made-up words follows. No word here contains RARE_WORD.
SPOKEN = """
the and to project we team of a that it is you in this so for on have be with they just not but
what think know can like all do about are going if at one there right need time people now get
some more our want see work go make new good how next week then look other way really data release
plan customer budget meeting design review user feature issue test build number first last point
question idea part thing problem change update call sales report month year quarter goal market
product version demo launch price cost share server page search video chat support email list
board slide note task fix bug code deploy start end today tomorrow morning afternoon early late
quick simple clear big small high low
"""
TOPICS = (
    "weekly sync",
    "design review",
    "project kickoff",
    "team standup",
    "customer call",
    "budget review",
    "release planning",
    "sales demo",
)


# --- text ---------------------------------------------------------------------


class Speech:
    """Sentences of words drawn with a Zipf-like frequency (rank r has weight 1/r)."""

    def __init__(self, rng: random.Random) -> None:
        syllables = [c + v for c in "bdfgklmnprstv" for v in "aeiou"]
        tail = ["".join(pair) for pair in itertools.product(syllables, repeat=2)]
        rng.shuffle(tail)
        self.vocabulary = [*SPOKEN.split(), *tail[:3000]]
        self.cum_weights = list(itertools.accumulate(1 / rank for rank in range(1, len(self.vocabulary) + 1)))
        self.rng = rng

    def sentence(self, shortest: int = 5, longest: int = 14, end: str = ".") -> str:
        words = self.rng.choices(
            self.vocabulary, cum_weights=self.cum_weights, k=self.rng.randint(shortest, longest)
        )
        text = " ".join(words)
        return text[0].upper() + text[1:] + end

    def segment(self) -> str:
        return " ".join(self.sentence() for _ in range(self.rng.randint(1, 2)))

    def reply(self) -> str:
        """An assistant's answer: a paragraph and a short list with times, in Markdown."""
        lines = [" ".join(self.sentence() for _ in range(self.rng.randint(2, 3))), ""]
        for _ in range(self.rng.randint(1, 3)):
            minute, second = self.rng.randint(0, 3), self.rng.randint(0, 59)
            lines.append(f"- {minute:02d}:{second:02d} {self.sentence(4, 8)}")
        return "\n".join(lines)


# --- the databases and the environment -------------------------------------------------


def alias(level: int) -> str:
    """The database alias of the site at `level`; the largest is the default."""
    return "default" if level == LEVELS[-1] else f"site_{level}x"


@contextlib.contextmanager
def scratch_databases(workdir: Path) -> Iterator[dict[int, str]]:
    """A fresh database per site: SQLite files in workdir, or scratch ones beside DATABASE_URL's."""
    given = os.environ.get("DATABASE_URL", "").strip()
    if not given or given.startswith("sqlite"):
        yield {level: f"sqlite:///{workdir / f'scale-{level}x.sqlite3'}" for level in LEVELS}
        return
    import psycopg

    server = urlunsplit(urlsplit(given)._replace(scheme="postgresql"))
    names = {level: f"videochat_bench_scale_{os.getpid()}_{level}x" for level in LEVELS}

    def drop_all(admin) -> None:
        for name in names.values():
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    with psycopg.connect(server, autocommit=True) as admin:
        drop_all(admin)
    try:
        with psycopg.connect(server, autocommit=True) as admin:
            for name in names.values():
                admin.execute(f'CREATE DATABASE "{name}"')
        print(f"scratch databases {', '.join(names.values())} on the DATABASE_URL server", flush=True)
        yield {level: urlunsplit(urlsplit(given)._replace(path=f"/{name}")) for level, name in names.items()}
    finally:
        from django.apps import apps

        if apps.ready:
            from django.db import connections

            connections.close_all()
        with psycopg.connect(server, autocommit=True) as admin:
            drop_all(admin)
        print("dropped them", flush=True)


class SiteRouter:
    """Sends every query to the database of the site being built or measured."""

    alias = "default"

    def db_for_read(self, model, **hints) -> str:
        return self.alias

    db_for_write = db_for_read


SITE = SiteRouter()


@contextlib.contextmanager
def on_site(level: int, *, atomic: bool = False) -> Iterator[None]:
    """Queries go to the site at `level` (in one transaction, if `atomic`) until the block ends."""
    from django.db import transaction

    SITE.alias = alias(level)
    try:
        with transaction.atomic(using=SITE.alias) if atomic else contextlib.nullcontext():
            yield
    finally:
        SITE.alias = "default"


def set_up_django(workdir: Path, databases: dict[int, str], redis: str) -> None:
    """Settings for an in-process run (DEBUG off, the offline assistant), then migrate every site."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "videochat.settings",
            "DEBUG": "false",
            "SECURE_SSL_REDIRECT": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "testserver",
            "DATABASE_URL": databases[LEVELS[-1]],
            "REDIS_URL": redis,
            "VAR_DIR": str(workdir / "var"),
            "MEDIA_ROOT": str(workdir / "media"),
            "GEMINI_API_KEY": "",  # set and empty: a key in .env does not apply either
            "ASSISTANT_PROVIDER": "local",
            "RATELIMIT_SEARCH_USER": "1000000/m",
            "LOG_LEVEL": "WARNING",
        }
    )
    (workdir / "var" / "static").mkdir(parents=True)  # STATIC_ROOT: WhiteNoise warns without it
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test.utils import override_settings

    # The smaller sites: the default's settings, another database.
    default = settings.DATABASES["default"]
    for level, url in databases.items():
        if alias(level) != "default":
            path = urlsplit(url).path
            name = path.lstrip("/") if default["ENGINE"].endswith("postgresql") else path
            settings.DATABASES[alias(level)] = {**default, "NAME": name}
    # Static files from the source tree, as the tests do: no collectstatic manifest needed.
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    override_settings(STORAGES=storages, DATABASE_ROUTERS=[SITE]).enable()
    for level in LEVELS:
        with on_site(level):  # a data migration may query without naming the database
            call_command("migrate", database=alias(level), interactive=False, verbosity=0)


def database_name() -> str:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0]}"
    import sqlite3

    return f"SQLite {sqlite3.sqlite_version}"


def analyze_tables(level: int) -> None:
    """On PostgreSQL, fresh statistics for the planner, as autovacuum would have after the inserts."""
    from django.db import connections

    connection = connections[alias(level)]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def app_version() -> str:
    """The commit measured, and the app's files (not tests or benches) that differ from it."""

    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=BASE_DIR, capture_output=True, text=True, check=False)
        return result.stdout

    commit = git("log", "-1", "--format=%h").strip() or "unknown"
    changed = [line[3:] for line in git("status", "--porcelain").splitlines()]
    app = [path for path in changed if not path.startswith(("bench/", "testkit/")) and "/tests/" not in path]
    return commit + (f" + uncommitted changes to {', '.join(app)}" if app else "")


# --- building the sites ---------------------------------------------------------------------


@dataclass
class Library:
    """One user's data, and what the figures need to find in it."""

    level: int
    user: Any
    rows: dict[str, int]
    video_uuid: str = ""
    video_line: str = ""  # a transcript line of that video, which its page shows
    conversation_uuid: str = ""  # the largest conversation
    middle_uuid: str = ""  # a message from its middle (the older-messages cursor)
    before_middle_uuid: str = ""  # the message just before it, which that page shows
    question: str = ""  # the last question there
    reply_pk: int = 0  # the reply to it, which the assistant figure writes again
    client: Any = None
    site: int = LEVELS[-1]  # every user is timed on the largest site


@dataclass
class Site:
    """The whole site at one size, as its staff sees it."""

    site: int
    client: Any = None
    tables: dict[str, int] = field(default_factory=dict)  # rows in each big table


def build_site(site: int, now: datetime) -> tuple[Site, dict[int, Library]]:
    """The site at `site`: a superuser, the user of each level up to it, and other users' videos.

    Other users' videos (with their analyses, no transcript) bring it up to
    SITE_VIDEOS x site. Each level's user has the same rows on every site (its
    text comes from a seed of its own).
    """
    from accounts.models import User
    from analysis.models import Analysis, TranscriptSegment, Video
    from chat.models import Message

    libraries = {}
    with on_site(site, atomic=True):
        User.objects.create_superuser(STAFF, PASSWORD)
        for level in LEVELS:
            if level <= site:
                libraries[level] = build_library(level, Speech(random.Random(level)), now)
        others = User.objects.create_user("others@example.com", PASSWORD)
        missing = SITE_VIDEOS * site - Video.objects.count()
        _analyses(_videos(others, missing, Speech(random.Random(-site)), now))
        models = {"videos": Video, "analyses": Analysis, "segments": TranscriptSegment, "messages": Message}
        tables = {name: model.objects.count() for name, model in models.items()}
    analyze_tables(site)
    return Site(site, tables=tables), libraries


def build_library(level: int, speech: Speech, now: datetime) -> Library:
    from accounts.models import User

    started = time.monotonic()
    user = User.objects.create_user(f"scale-{level}x@example.com", PASSWORD)
    library = Library(level=level, user=user, rows={})
    videos = _videos(user, VIDEOS * level, speech, now)
    analyses = _analyses(videos)
    _segments(library, videos, analyses, speech)
    _conversations(library, videos, speech, now)
    library.rows["seconds"] = round(time.monotonic() - started, 1)
    return library


def _videos(user, count: int, speech: Speech, now: datetime) -> list:
    from analysis.models import Video

    rows = []
    for index in range(count):
        created = now - timedelta(minutes=37 * index + 5)
        key = uuid.uuid4()
        topic = speech.rng.choice(TOPICS).replace(" ", "-")
        rows.append(
            Video(
                uuid=key,
                owner=user,
                original_name=f"{topic}-{created:%Y-%m-%d}-{index:05d}.mp4",
                file=f"videos/{key.hex}/source-{uuid.uuid4().hex}.mp4",
                size=speech.rng.randint(5, 400) * 1024 * 1024,
                sha256=secrets.token_hex(32),
                container="mp4",
                status=Video.Status.DONE,
                progress=100,
                stage="Done",
                attempts=1,
                created_at=created,
                started_at=created + timedelta(seconds=2),
                finished_at=created + timedelta(minutes=3),
                version=12,
            )
        )
    return Video.objects.bulk_create(rows, batch_size=BATCH)


def _analysis_fields(duration: float) -> dict:
    """What a finished local analysis holds (cf. analysis/jobs.py): metadata, scenes, timelines, speech."""
    seconds = int(duration)
    cuts = [0.0, 41.5, 97.0, 160.2, 211.8, duration]
    return {
        "analyzer": "local",
        "analyzer_version": "1.0",
        "metadata": {
            "container": "mp4",
            "duration": duration,
            "video_codec": "h264",
            "width": 1280,
            "height": 720,
            "frame_rate": 30.0,
            "bit_rate": 2_400_000,
            "rotation": 0,
            "audio_codec": "aac",
            "audio_channels": 2,
            "audio_sample_rate": 48000,
            "has_audio": True,
        },
        "scenes": [
            {"index": n, "start": start, "end": end, "thumbnail": ""}
            for n, (start, end) in enumerate(itertools.pairwise(cuts), start=1)
        ],
        "timelines": {
            "brightness": [100.0 + 10 * (i % 7) for i in range(seconds)],
            "motion": [2.5 * (i % 4) for i in range(seconds)],
            "loudness": [-21.0 - (i % 9) if i % 40 else -91.0 for i in range(seconds)],
        },
        "silences": [{"start": 40.0, "end": 41.0}, {"start": 160.0, "end": 161.0}],
        "storyboard": {"columns": 10, "rows": 5, "tile_width": 160, "tile_height": 90, "interval": 5.0},
        "extra": {"cuts": cuts[1:-1], "speech": {"model": "tiny.en", "language": "en"}},
        "wall_time": 21.7,
    }


def _analyses(videos: list) -> list:
    from analysis.models import Analysis

    fields = _analysis_fields(duration=SEGMENTS_PER_VIDEO * 5.0 + 2)
    rows = []
    for video in videos:
        folder = f"{video.media_prefix}/analysis-{video.created_at:%Y%m%d%H%M%S%f}"
        rows.append(
            Analysis(
                video=video,
                poster=f"{folder}/poster.jpg",
                storyboard_image=f"{folder}/storyboard.jpg",
                created_at=video.finished_at,
                **fields,
            )
        )
    return Analysis.objects.bulk_create(rows, batch_size=BATCH)


def _segments(library: Library, videos: list, analyses: list, speech: Speech) -> None:
    """SEGMENTS_PER_VIDEO lines per analysis, PLANTED of the user's with the rare word."""
    from analysis.models import TranscriptSegment

    planted = set(speech.rng.sample(range(len(analyses) * SEGMENTS_PER_VIDEO), PLANTED))
    rows = []
    for analysis in analyses:
        for line in range(SEGMENTS_PER_VIDEO):
            text = speech.segment()
            if len(rows) in planted:
                text += f" Then someone brought up the {RARE_WORD} again."
            rows.append(
                TranscriptSegment(analysis=analysis, start=line * 5.0, end=line * 5.0 + 4.6, text=text)
            )
    TranscriptSegment.objects.bulk_create(rows, batch_size=BATCH)
    middle = len(videos) // 2
    library.video_uuid = str(videos[middle].uuid)
    library.video_line = rows[middle * SEGMENTS_PER_VIDEO].text[:40]
    library.rows.update(videos=len(videos), segments=len(rows))


def _conversations(library: Library, videos: list, speech: Speech, now: datetime) -> None:
    """The largest conversation (the newest activity) and many small ones, one attachment each."""
    from chat.models import Conversation, Message

    count = CONVERSATIONS * library.level
    conversations = Conversation.objects.bulk_create(
        [
            Conversation(
                owner=library.user,
                title=speech.sentence(2, 5, end=""),
                created_at=now - timedelta(hours=index + 2),
                updated_at=now - timedelta(hours=index),
            )
            for index in range(count)
        ],
        batch_size=BATCH,
    )
    largest, others = conversations[0], conversations[1:]
    threads = [_thread(largest, LARGEST_CONVERSATION * library.level, speech, last_question=QUESTION)]
    threads += [_thread(conversation, MESSAGES_PER_CONVERSATION, speech) for conversation in others]
    Message.objects.bulk_create([m for thread in threads for m in thread], batch_size=BATCH)
    # The first question of each conversation comes with videos: ATTACHED in the largest, one elsewhere.
    attach = Message.videos.through
    links = [attach(message=threads[0][0], video=video) for video in videos[:ATTACHED]]
    links += [attach(message=thread[0], video=speech.rng.choice(videos)) for thread in threads[1:]]
    attach.objects.bulk_create(links, batch_size=BATCH)

    longest = threads[0]
    middle = len(longest) // 2
    library.conversation_uuid = str(largest.uuid)
    library.middle_uuid, library.before_middle_uuid = str(longest[middle].uuid), str(longest[middle - 1].uuid)
    library.question, library.reply_pk = longest[-2].text, longest[-1].pk
    messages = sum(len(thread) for thread in threads)
    library.rows.update(conversations=count, messages=messages, largest=len(longest))


def _thread(conversation, count: int, speech: Speech, last_question: str = "") -> list:
    """`count` messages, question and answer in turn (the last question `last_question`, if given)."""
    from chat.models import Message

    rows = []
    for index in range(count):
        at = conversation.updated_at - timedelta(seconds=45 * (count - index))
        asking = index % 2 == 0
        if index == 0:
            text = "Look at these. " + speech.sentence(end="?")
        elif asking:
            text = last_question if last_question and index == count - 2 else speech.sentence(end="?")
        else:
            text = speech.reply()
        rows.append(
            Message(
                uuid=uuid.uuid4(),
                conversation=conversation,
                role=Message.Role.USER if asking else Message.Role.ASSISTANT,
                text=text,
                status=Message.Status.COMPLETE,
                provider="" if asking else "local",
                model="" if asking else "videochat-offline-1",
                attempts=0 if asking else 1,
                created_at=at,
                updated_at=at,
            )
        )
    return rows


# --- the figures ----------------------------------------------------------------------


class BenchError(RuntimeError):
    """A request answered something else than the page it should have: the figure would be wrong."""


@dataclass(frozen=True)
class Figure:
    key: str  # scale_<key>_100x
    label: str
    run: Callable[[Any], None]  # one request (with its checks), given a Library or a Site
    target: float = RATIO_TARGET
    prepare: Callable[[Any], None] = lambda _: None  # before each run, untimed


def _get(client, url: str) -> str:
    response = client.get(url)
    if response.status_code != 200:
        raise BenchError(f"GET {url}: HTTP {response.status_code}")
    return response.content.decode()


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise BenchError(what)


def _uncached(library: Library) -> None:
    """Bump the user's read-cache versions: the next request builds its page from the database."""
    from analysis import cache as video_cache
    from chat import cache as chat_cache

    video_cache.bump(library.user.pk)
    chat_cache.bump(library.user.pk)


def _moments(page: str) -> int:
    return page.count('#player">')


def open_video_list(lib: Library) -> None:
    page = _get(lib.client, "/videos/")
    _expect('id="video-list"' in page and page.count("/videos/") > 20, "the video list shows no videos")


def open_video_page(lib: Library) -> None:
    page = _get(lib.client, f"/videos/{lib.video_uuid}/")
    _expect(lib.video_line in page, "the video page lacks its transcript")


def search_rare(lib: Library) -> None:
    page = _get(lib.client, "/videos/?" + urlencode({"q": RARE_WORD}))
    _expect(_moments(page) == PLANTED, f"search for {RARE_WORD!r}: {_moments(page)} moments, not {PLANTED}")


def search_common(lib: Library) -> None:
    page = _get(lib.client, "/videos/?" + urlencode({"q": COMMON_WORDS}))
    _expect(_moments(page) > 0, f"search for {COMMON_WORDS!r} found nothing")


def open_conversations(lib: Library) -> None:
    page = _get(lib.client, "/chat/")
    _expect(lib.conversation_uuid in page, "the conversations list lacks the newest one")


def open_thread(lib: Library) -> None:
    page = _get(lib.client, f"/chat/{lib.conversation_uuid}/")
    _expect(lib.question.split(",")[0] in page, "the thread page lacks its last question")


def load_older(lib: Library) -> None:
    page = _get(lib.client, f"/chat/{lib.conversation_uuid}/older/?before={lib.middle_uuid}")
    _expect(lib.before_middle_uuid in page, "older messages lack the one before the cursor")


def reply_pending(lib: Library) -> None:
    from chat.models import Message

    _uncached(lib)
    Message.objects.filter(pk=lib.reply_pk).update(status=Message.Status.PENDING, text="", attempts=0)


def assistant_reply(lib: Library) -> None:
    from chat.jobs import write_reply
    from chat.models import Message

    outcome = write_reply(lib.reply_pk)
    text = Message.objects.values_list("text", flat=True).get(pk=lib.reply_pk)
    _expect(outcome == "complete" and bool(text), f"the assistant's reply: {outcome}")


def queue_status(_site: Site) -> None:
    from django.core.management import call_command

    out = io.StringIO()
    call_command("queue", "status", stdout=out)
    _expect("live workers" in out.getvalue(), "queue status printed no status")


def changelist(path: str) -> Callable[[Any], None]:
    def run(site: Site) -> None:
        page = _get(site.client, path)
        _expect('id="result_list"' in page, f"{path} lists no rows")

    return run


PAGE_FIGURES = (
    Figure("videos", "video list", open_video_list, prepare=_uncached),
    Figure("video_page", "a video page", open_video_page, prepare=_uncached),
    Figure("search_rare", f"search, a rare word ({RARE_WORD})", search_rare, prepare=_uncached),
    Figure(
        "search_common",
        f"search, common words ({COMMON_WORDS})",
        search_common,
        target=COMMON_TARGET,
        prepare=_uncached,
    ),
    Figure("conversations", "conversations list", open_conversations, prepare=_uncached),
    Figure("thread", "thread page (largest)", open_thread, prepare=_uncached),
    Figure("older", "older messages (from the middle)", load_older, prepare=_uncached),
    Figure("assistant", "offline assistant's reply", assistant_reply, prepare=reply_pending),
)
STAFF_FIGURES = (
    Figure("queue_status", "manage.py queue status", queue_status),
    Figure("admin_videos", "admin: videos", changelist("/admin/analysis/video/")),
    Figure("admin_analyses", "admin: analyses", changelist("/admin/analysis/analysis/")),
    Figure("admin_messages", "admin: messages", changelist("/admin/chat/message/")),
)


# --- measuring ------------------------------------------------------------------------


@dataclass
class Results:
    samples: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    queries: dict[tuple[str, int], list[dict]] = field(default_factory=dict)  # of the first (untimed) run

    def median(self, key: str, level: int) -> float:
        return statistics.median(self.samples[key, level])


def timed_ms(figure: Figure, subject: Library | Site) -> float:
    SITE.alias = alias(subject.site)
    figure.prepare(subject)
    gc.collect()  # not in the middle of a timed request
    started = time.perf_counter()
    figure.run(subject)
    return (time.perf_counter() - started) * 1000


def captured(figure: Figure, subject: Library | Site) -> list[dict]:
    """One run of the figure with its SQL recorded (not timed)."""
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    SITE.alias = alias(subject.site)
    figure.prepare(subject)
    with CaptureQueriesContext(connections[SITE.alias]) as context:
        figure.run(subject)
    return list(context.captured_queries)


def measure(figures, subjects: dict[int, Library | Site], rounds: int, results: Results) -> None:
    """A warm-up run of each figure at each size (its SQL kept), then `rounds` rounds, sizes interleaved."""
    for figure in figures:
        for level, subject in subjects.items():
            results.queries[figure.key, level] = captured(figure, subject)
    for round_number in range(rounds):
        turn = round_number % len(LEVELS)
        for figure in figures:
            for level in LEVELS[turn:] + LEVELS[:turn]:
                ms = timed_ms(figure, subjects[level])
                results.samples.setdefault((figure.key, level), []).append(ms)


def big_tables() -> set[str]:
    from analysis.models import Analysis, TranscriptSegment, Video
    from chat.models import Conversation, Message

    return {model._meta.db_table for model in (Video, Analysis, TranscriptSegment, Conversation, Message)}


def full_counts(queries: list[dict], tables: set[str]) -> list[str]:
    """The queries that count every row of a big table (a COUNT with no WHERE)."""
    found = []
    for query in queries:
        sql = query["sql"]
        named = set(re.findall(r'FROM "?(\w+)"?', sql))
        if re.search(r"COUNT\(", sql, re.IGNORECASE) and " WHERE " not in sql.upper() and named & tables:
            found.append(sql)
    return found


# --- the report -------------------------------------------------------------------------


def ratio(results: Results, key: str) -> float:
    return results.median(key, LEVELS[-1]) / results.median(key, LEVELS[0])


def print_table(results: Results, figures) -> None:
    heads = [f"{level}x ms" for level in LEVELS]
    print(f"\n{'figure':36}" + "".join(f"{h:>10}" for h in heads) + f"{'100x/1x':>9}{'target':>8}  queries")
    for figure in figures:
        times = "".join(f"{results.median(figure.key, level):>10.1f}" for level in LEVELS)
        value = ratio(results, figure.key)
        mark = " " if value <= figure.target else "!"
        counts = "/".join(str(len(results.queries[figure.key, level])) for level in LEVELS)
        print(f"{figure.label:36}{times}{value:>8.2f}{mark}{'≤ ' + f'{figure.target:g}':>8}  {counts}")


def print_full_counts(results: Results) -> None:
    tables = big_tables()
    print("\nadmin changelists: SQL COUNT(*) over a whole big table (target: none)")
    for figure in STAFF_FIGURES:
        if not figure.key.startswith("admin_"):
            continue
        per_level = {level: full_counts(results.queries[figure.key, level], tables) for level in LEVELS}
        print(f"  {figure.label:18}" + "   ".join(f"{level}x: {len(per_level[level])}" for level in LEVELS))
        for sql in dict.fromkeys(per_level[LEVELS[-1]]):
            print(f"      {sql[:160]}")


def explain(sql: str) -> list[str]:
    """The plan of a query on the largest site (PostgreSQL runs it: EXPLAIN ANALYZE)."""
    from django.db import connection

    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN "
    with connection.cursor() as cursor:
        cursor.execute(prefix + sql)
        return [" ".join(str(part) for part in row) for row in cursor.fetchall()]


def print_causes(results: Results, figures, subjects: dict[str, Library | Site], show_plans: bool) -> None:
    """For each ratio over its target: the slowest SQL of one more run at 100x."""
    missed = [f for f in figures if ratio(results, f.key) > f.target]
    if not missed:
        return
    print(f"\nslowest SQL at {LEVELS[-1]}x of each figure over its target:")
    for figure in missed:
        queries = captured(figure, subjects[figure.key])
        total = sum(float(q["time"]) for q in queries) * 1000
        print(f"  {figure.label}: {len(queries)} queries, {total:.1f} ms in the database")
        for query in sorted(queries, key=lambda q: -float(q["time"]))[:3]:
            print(f"    {float(query['time']) * 1000:8.1f} ms  {query['sql'][:400]}")
        # EXPLAIN ANALYZE runs the statement: only a read is explained.
        reads = [q for q in queries if q["sql"].lstrip().upper().startswith("SELECT")]
        if show_plans and reads:
            slowest = max(reads, key=lambda q: float(q["time"]))["sql"]
            for line in explain(slowest)[:30]:
                print(f"        {line}")


def print_figures(results: Results, figures) -> None:
    print()
    for figure in figures:
        print(f"scale_{figure.key}_100x: {ratio(results, figure.key):.2f}")
    worst = max(ratio(results, f.key) for f in figures if f.key != "search_common")
    print(f"scale_search_rare_100x_ms: {results.median('search_rare', LEVELS[-1]):.1f}")
    # The database's share of it, from the SQL of the untimed first run (its caches still cold).
    database_ms = sum(float(query["time"]) for query in results.queries["search_rare", LEVELS[-1]]) * 1000
    print(f"scale_search_rare_100x_db_ms: {database_ms:.1f}")
    print(f"scale_worst_ratio_100x: {worst:.2f}")


# --- the run ----------------------------------------------------------------------------


def build(now: datetime) -> tuple[dict[int, Site], dict[int, Library]]:
    """Every site, smallest first; the users (logged in) are those of the largest."""
    from django.test import Client

    from accounts.models import User

    sites: dict[int, Site] = {}
    for level in LEVELS:
        started = time.monotonic()
        sites[level], libraries = build_site(level, now)
        sites[level].client = Client()
        with on_site(level):
            sites[level].client.force_login(User.objects.get(email=STAFF))
        tables = ", ".join(f"{n} {name}" for name, n in sites[level].tables.items())
        print(f"the site at {level}x: {tables} (built in {time.monotonic() - started:.1f} s)", flush=True)
    for library in libraries.values():
        rows = library.rows
        print(
            f"  user {library.level}x: {rows['videos']} videos, {rows['segments']} segments, "
            f"{rows['conversations']} conversations, {rows['messages']} messages "
            f"({rows['largest']} in the largest)",
            flush=True,
        )
        library.client = Client()
        library.client.force_login(library.user)
    return sites, libraries


def run(rounds: int, show_plans: bool) -> None:
    from django.utils import timezone

    print(f"{database_name()}; app at {app_version()}; {time.strftime('%Y-%m-%d %H:%M:%S %Z')}", flush=True)
    sites, libraries = build(timezone.now())
    figures = PAGE_FIGURES + STAFF_FIGURES
    print(f"timing {len(figures)} figures x {len(LEVELS)} sizes x {rounds} rounds", flush=True)
    results = Results()
    measure(PAGE_FIGURES, libraries, rounds, results)
    measure(STAFF_FIGURES, sites, rounds, results)

    print(f"\nmedian of {rounds} rounds, uncached ('queries': how many each request made)")
    print_table(results, figures)
    print_full_counts(results)
    largest = {f.key: libraries[LEVELS[-1]] for f in PAGE_FIGURES}
    largest |= {f.key: sites[LEVELS[-1]] for f in STAFF_FIGURES}
    print_causes(results, figures, largest, show_plans)
    print_figures(results, figures)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rounds", type=int, default=11, help="timed rounds per figure and size (default 11)"
    )
    parser.add_argument(
        "--explain", action="store_true", help="print the plan of each missed figure's slowest query"
    )
    args = parser.parse_args()
    # A SIGTERM unwinds like an error, so the scratch databases are dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        with redis_url(workdir) as redis, scratch_databases(workdir) as databases:
            set_up_django(workdir, databases, redis)
            run(args.rounds, args.explain)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"(whole run {time.monotonic() - started:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
