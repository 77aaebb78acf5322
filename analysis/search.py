"""Search a user's videos by file name, by the words spoken in them and by the words shown on screen.

A moment matches when it holds any of the words asked for; moments holding
more of them rank first. Only the user's own videos are searched, and only
the newest local analysis of each (re-analysis replaces the transcript and
the on-screen text). Spoken lines and on-screen spans are ranked together, each
moment marked with its kind.

Each match is found through an index, so a search costs what its matches
cost, not what the user's whole library does (migrations 0004 and 0006, one
pair of indexes per table):
- PostgreSQL: full-text search (English stemming) on each table's stored
  `search_vector` column and its GIN index; ranked and highlighted by the database, the
  snippets only for the moments shown. File names: a trigram index serves the
  case-insensitive substring match.
- SQLite: the FTS5 tables `transcript_segments_fts` and `onscreen_text_spans_fts`
  (trigram tokenizer: the same
  substring matches LIKE would find) gives the matching rows; words shorter than
  three letters, which no trigram holds, are matched with LIKE. Ranked by the
  share of the words a moment holds, highlighted here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import escape

from django.db import connection
from django.db.models import F, Q
from django.db.models.expressions import RawSQL
from django.utils.safestring import SafeString, mark_safe

from analysis.models import OnscreenTextSpan, TranscriptSegment, Video

MAX_QUERY = 200
MOMENTS_PER_VIDEO = 5
MAX_VIDEOS = 50
MAX_MOMENTS = 200  # the best-ranked moments read; their videos make the hits
SPOKEN, ON_SCREEN = "spoken", "on_screen"


@dataclass(frozen=True)
class Source:
    """Moments of one kind: their model, and the indexes its migration made."""

    kind: str
    model: type[TranscriptSegment] | type[OnscreenTextSpan]
    search_vector: str
    """The stored tsvector column (PostgreSQL)."""
    fts_matches: str
    """The rows its FTS5 table matches (SQLite)."""


SOURCES = [
    Source(
        SPOKEN,
        TranscriptSegment,
        '"transcript_segments"."search_vector"',  # migration 0004
        "SELECT rowid FROM transcript_segments_fts WHERE transcript_segments_fts MATCH %s",
    ),
    Source(
        ON_SCREEN,
        OnscreenTextSpan,
        '"onscreen_text_spans"."search_vector"',  # migration 0006
        "SELECT rowid FROM onscreen_text_spans_fts WHERE onscreen_text_spans_fts MATCH %s",
    ),
]
# Markers the database puts around matches; escaped text never contains them.
_OPEN, _CLOSE = "\x02", "\x03"


@dataclass
class Moment:
    start: float
    end: float
    snippet: SafeString
    kind: str = SPOKEN
    """`"spoken"` (a transcript line) or `"on_screen"` (text shown in the picture)."""

    @property
    def kind_label(self) -> str:
        return "on screen" if self.kind == ON_SCREEN else "spoken"


@dataclass
class Hit:
    video: Video
    name: SafeString
    rank: float = 0.0
    moments: list[Moment] = field(default_factory=list)


def search_terms(query: str) -> list[str]:
    return [word for word in re.findall(r"\w+", query.lower()[:MAX_QUERY]) if len(word) > 1][:10]


def search_videos(user, query: str) -> list[Hit]:
    # PostgreSQL refuses a NUL in any text it is sent (a DataError); between two
    # words it separates them, as it already does for search_terms.
    query = query.replace("\x00", " ")
    terms = search_terms(query)
    if not terms:
        return []
    hits: dict[int, Hit] = {}
    name_filter = Q()
    for term in terms:
        name_filter |= Q(original_name__icontains=term)
    for video in Video.objects.owned_by(user).filter(name_filter)[:MAX_VIDEOS]:
        hits[video.pk] = Hit(video=video, name=_highlight(video.original_name, terms), rank=1.0)

    found = []
    for source in SOURCES:
        rows = source.model.objects.current_for(user)
        matched = (
            _postgres_segments(source, rows, terms)
            if connection.vendor == "postgresql"
            else _sqlite_segments(source, rows, terms)
        )
        found += [(rank, source.kind, row, snippet) for row, rank, snippet in matched]
    # Spoken and shown moments ranked together, best first (the earlier moment of a tie first).
    found.sort(key=lambda item: (-item[0], item[2].start))
    for rank, kind, row, snippet in found[:MAX_MOMENTS]:
        video = row.analysis.video
        hit = hits.setdefault(video.pk, Hit(video=video, name=_highlight(video.original_name, [])))
        hit.rank += rank
        if len(hit.moments) < MOMENTS_PER_VIDEO:
            hit.moments.append(Moment(start=row.start, end=row.end, snippet=snippet, kind=kind))
    for hit in hits.values():
        hit.moments.sort(key=lambda moment: moment.start)
    return sorted(hits.values(), key=lambda hit: (-hit.rank, -hit.video.created_at.timestamp()))[:MAX_VIDEOS]


def _postgres_segments(source: Source, segments, terms: list[str]):
    from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank, SearchVectorField

    # The terms are \w+ words: nothing in them is to_tsquery syntax.
    search = SearchQuery(" | ".join(terms), config="english", search_type="raw")
    document = RawSQL(source.search_vector, [], output_field=SearchVectorField())  # noqa: S611 (constant SQL)
    ranked = list(
        segments.alias(document=document)
        .filter(document=search)
        .annotate(rank=SearchRank(F("document"), search))
        .order_by("-rank", "start")
        .values_list("pk", "rank")[:MAX_MOMENTS]
    )
    # Headlines re-read the text, so only for the moments that will be shown.
    rows = (
        source.model.objects.filter(pk__in=[pk for pk, _ in ranked])
        .annotate(
            headline=SearchHeadline(
                "text", search, config="english", start_sel=_OPEN, stop_sel=_CLOSE, max_words=20, min_words=8
            )
        )
        .select_related("analysis__video")
        .in_bulk()
    )
    return [(rows[pk], float(rank), _marked(rows[pk].headline)) for pk, rank in ranked]


def _sqlite_segments(source: Source, segments, terms: list[str]):
    rows = (
        segments.filter(_text_matches(source, terms))
        .select_related("analysis__video")
        .order_by("start")[:MAX_MOMENTS]
    )
    result = []
    for row in rows:
        matched = sum(1 for term in terms if term in row.text.lower())
        result.append((row, matched / len(terms), _highlight(row.text, terms)))
    return result


def _text_matches(source: Source, terms: list[str]) -> Q:
    """Rows whose text holds any of the terms, found through the source's FTS5 table where a trigram can."""
    indexed = [term for term in terms if len(term) >= 3]
    matches = Q()
    if indexed:
        phrase = " OR ".join('"{}"'.format(term.replace('"', '""')) for term in indexed)
        matches |= Q(pk__in=RawSQL(source.fts_matches, [phrase]))  # noqa: S611 (constant SQL, bound words)
    for term in terms:
        if len(term) < 3:
            matches |= Q(text__icontains=term)
    return matches


def _marked(text: str) -> SafeString:
    """Escape the database's snippet, then turn its markers into <mark>."""
    return mark_safe(escape(text).replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>"))  # noqa: S308


def _highlight(text: str, terms: list[str]) -> SafeString:
    if not terms:
        return mark_safe(escape(text))  # noqa: S308
    pattern = re.compile(
        "|".join(re.escape(term) for term in sorted(terms, key=len, reverse=True)), re.IGNORECASE
    )
    return _marked(pattern.sub(lambda m: f"{_OPEN}{m.group(0)}{_CLOSE}", text))
