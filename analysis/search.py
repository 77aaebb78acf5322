"""Search a user's videos by file name and by the words spoken in them.

On PostgreSQL: full-text search (English stemming) with ranking and
highlighted snippets from the database. On SQLite: a case-insensitive match
of every word, highlighted here. Only the user's own videos are searched, and
only the newest local analysis of each (re-analysis replaces the transcript).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import escape

from django.db import connection
from django.db.models import OuterRef, Q, Subquery
from django.utils.safestring import SafeString, mark_safe

from analysis.models import Analysis, TranscriptSegment, Video

MAX_QUERY = 200
MOMENTS_PER_VIDEO = 5
MAX_VIDEOS = 50
# Markers the database puts around matches; escaped text never contains them.
_OPEN, _CLOSE = "\x02", "\x03"


@dataclass
class Moment:
    start: float
    snippet: SafeString


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

    latest = Analysis.objects.filter(video=OuterRef("analysis__video"), analyzer=Analysis.LOCAL).order_by(
        "-created_at", "-id"
    )
    segments = TranscriptSegment.objects.filter(
        analysis__video__owner=user, analysis=Subquery(latest.values("pk")[:1])
    )
    found = (
        _postgres_segments(segments, query)
        if connection.vendor == "postgresql"
        else _plain_segments(segments, terms)
    )
    for segment, rank, snippet in found:
        video = segment.analysis.video
        hit = hits.setdefault(video.pk, Hit(video=video, name=_highlight(video.original_name, [])))
        hit.rank += rank
        if len(hit.moments) < MOMENTS_PER_VIDEO:
            hit.moments.append(Moment(start=segment.start, snippet=snippet))
    for hit in hits.values():
        hit.moments.sort(key=lambda moment: moment.start)
    return sorted(hits.values(), key=lambda hit: (-hit.rank, -hit.video.created_at.timestamp()))[:MAX_VIDEOS]


def _postgres_segments(segments, query: str):
    from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank, SearchVector

    search = SearchQuery(query[:MAX_QUERY], config="english", search_type="websearch")
    vector = SearchVector("text", config="english")
    rows = (
        segments.annotate(rank=SearchRank(vector, search))
        .filter(rank__gt=0)
        .annotate(
            headline=SearchHeadline(
                "text", search, config="english", start_sel=_OPEN, stop_sel=_CLOSE, max_words=20, min_words=8
            )
        )
        .select_related("analysis__video")
        .order_by("-rank", "start")[:200]
    )
    return [(row, float(row.rank), _marked(row.headline)) for row in rows]


def _plain_segments(segments, terms: list[str]):
    text_filter = Q()
    for term in terms:
        text_filter |= Q(text__icontains=term)
    rows = segments.filter(text_filter).select_related("analysis__video").order_by("start")[:200]
    result = []
    for row in rows:
        matched = sum(1 for term in terms if term in row.text.lower())
        result.append((row, matched / len(terms), _highlight(row.text, terms)))
    return result


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
