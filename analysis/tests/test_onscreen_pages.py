"""On-screen text stored, shown and searched: the spans' table, its indexes, the page and the search."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from analysis import search
from analysis.models import Analysis, OnscreenTextSpan, TranscriptSegment
from analysis.search import search_videos

pytestmark = pytest.mark.django_db


@pytest.fixture
def shown(owner, make_video, clips):
    """A video whose newest local analysis shows the given spans, (start, end, text) each,
    and says the given transcript lines."""
    made = 0

    def make(*spans, said=(), name=None, user=None, note=None):
        nonlocal made
        made += 1
        video = make_video(
            user or owner, clips["short"].path, name=name or f"slides {made}.mp4", sha256=f"{made:064x}"
        )
        extra = {"onscreen": {"model": "test", "note": note} if note else {"model": "test"}}
        analysis = video.analyses.create(
            analyzer=Analysis.LOCAL, analyzer_version="1.0", wall_time=1.0, extra=extra
        )
        OnscreenTextSpan.objects.bulk_create(
            OnscreenTextSpan(
                analysis=analysis,
                start=start,
                end=end,
                text=text,
                confidence=0.95,
                box=[0.1, 0.1, 0.9, 0.2],
                height=0.08,
            )
            for start, end, text in spans
        )
        for start, end, text in said:
            TranscriptSegment.objects.create(analysis=analysis, start=start, end=end, text=text)
        return video

    return make


def test_it_stores_a_span_with_its_box_and_height(owner, shown):
    video = shown((2.0, 6.5, "Quarterly budget review"))
    span = OnscreenTextSpan.objects.get()
    assert span.analysis.video == video
    assert (span.start, span.end, span.text) == (2.0, 6.5, "Quarterly budget review")
    assert span.box == [0.1, 0.1, 0.9, 0.2]
    assert span.height == 0.08
    assert list(OnscreenTextSpan.objects.current_for(owner)) == [span]


def test_the_page_lists_the_spans_as_seek_links(owner_client, shown):
    video = shown((2.0, 6.5, "Quarterly budget review"), (12.25, 18.0, "Revenue grew 17% in March"))
    html = owner_client.get(video.get_absolute_url()).content.decode()
    assert 'id="onscreen"' in html
    assert "On screen" in html
    assert 'href="?t=12.25#player"' in html
    assert 'data-seek="12.25" data-end="18"' in html or 'data-seek="12.25" data-end="18.0"' in html
    assert "Revenue grew 17% in March" in html
    assert html.count('class="transcript-segment onscreen-span"') == 2
    # What it can and cannot read.
    assert "Latin script" in html
    assert "handwriting" in html
    assert "Accented letters" in html


def test_the_page_says_when_no_text_was_seen_or_why_none_was_read(owner_client, shown):
    empty = shown()
    assert "No text was seen on screen." in owner_client.get(empty.get_absolute_url()).content.decode()
    unavailable = shown(note="No on-screen text was read: text recognition is not available on this server.")
    html = owner_client.get(unavailable.get_absolute_url()).content.decode()
    assert "No on-screen text was read: text recognition is not available on this server." in html
    assert "No text was seen on screen." not in html
    # An analysis made before reading (or with it off) says so rather than "no text".
    before = shown()
    before.analyses.update(extra={})
    html = owner_client.get(before.get_absolute_url()).content.decode()
    assert "This analysis did not read the text on screen" in html
    assert "No text was seen on screen." not in html


def test_the_regions_partial_carries_the_list(owner_client, shown):
    """The results region (re-read when an analysis finishes and on every reconnect) holds the list."""
    video = shown((1.0, 3.0, "Agenda"))
    response = owner_client.get(video.get_absolute_url(), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert 'id="onscreen"' in html
    assert "Agenda" in html
    assert "<html" not in html


def test_a_stranger_gets_404(outsider_client, shown):
    video = shown((1.0, 3.0, "Confidential roadmap"))
    response = outsider_client.get(video.get_absolute_url())
    assert response.status_code == 404
    assert "Confidential roadmap" not in response.content.decode()


def test_search_finds_words_shown_on_screen_marked_on_screen(owner, owner_client, shown):
    video = shown((30.0, 40.0, "Revenue grew 17% in March"), said=[(5.0, 8.0, "welcome everyone")])
    [hit] = search_videos(owner, "revenue")
    [moment] = hit.moments
    assert (moment.start, moment.end, moment.kind) == (30.0, 40.0, search.ON_SCREEN)
    assert "<mark>revenue" in moment.snippet.lower()
    html = owner_client.get(reverse("analysis:video-list"), {"q": "revenue"}).content.decode()
    assert f"{video.get_absolute_url()}?t=30.0#player" in html
    assert 'class="moment moment-on_screen"' in html
    assert '<span class="moment-kind">on screen</span>' in html


def test_spoken_and_shown_moments_are_ranked_together_and_marked(owner, owner_client, shown):
    shown(
        (30.0, 40.0, "Budget review"),
        said=[(5.0, 8.0, "the budget is late"), (50.0, 52.0, "nothing relevant")],
        name="meeting.mp4",
    )
    shown((10.0, 12.0, "budget"), name="other.mp4")
    hits = search_videos(owner, "budget review")
    # The moment holding both words (on screen) makes its video rank first.
    assert [hit.video.original_name for hit in hits] == ["meeting.mp4", "other.mp4"]
    moments = [(m.start, m.kind) for m in hits[0].moments]
    assert moments == [(5.0, search.SPOKEN), (30.0, search.ON_SCREEN)]
    html = owner_client.get(reverse("analysis:video-list"), {"q": "budget review"}).content.decode()
    assert '<span class="moment-kind">spoken</span>' in html
    assert '<span class="moment-kind">on screen</span>' in html


def test_search_reads_only_the_newest_analysis_and_never_a_strangers(owner, outsider, shown):
    video = shown((1.0, 2.0, "zebra crossing"))
    newer = video.analyses.create(analyzer=Analysis.LOCAL, analyzer_version="1.1", wall_time=1.0)
    OnscreenTextSpan.objects.create(analysis=newer, start=1.0, end=2.0, text="giraffe enclosure")
    shown((1.0, 2.0, "secret slide"), user=outsider)
    assert search_videos(owner, "zebra") == []
    assert [hit.video for hit in search_videos(owner, "giraffe")] == [video]
    assert search_videos(owner, "secret") == []


def test_the_index_follows_changed_and_deleted_text_and_short_words(owner, shown):
    video = shown((1.0, 2.0, "old words"), (3.0, 4.0, "AI tools"))
    assert [hit.video for hit in search_videos(owner, "ai")] == [video]
    OnscreenTextSpan.objects.filter(text="old words").update(text="new phrasing")
    assert search_videos(owner, "old") == []
    assert [hit.video for hit in search_videos(owner, "phrasing")] == [video]
    OnscreenTextSpan.objects.all().delete()
    assert search_videos(owner, "phrasing") == []


ON_SCREEN = next(source for source in search.SOURCES if source.kind == search.ON_SCREEN)


def _plan(sql: str, params) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return "\n".join(" ".join(str(part) for part in row) for row in cursor.fetchall())


def test_on_screen_text_is_found_through_its_index(owner, shown):
    shown((1.0, 2.0, "Revenue grew"))
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchVectorField
        from django.db.models.expressions import RawSQL

        query = SearchQuery("revenue", config="english", search_type="raw")
        document = RawSQL(ON_SCREEN.search_vector, [], output_field=SearchVectorField())  # noqa: S611
        # The text match alone (on a table this small the planner may start from the join).
        matched = OnscreenTextSpan.objects.alias(document=document).filter(document=query)
        sql, params = matched.values("pk").query.sql_with_params()
        assert "onscreen_text_spans_search" in _plan(sql, params)
    else:
        rows = OnscreenTextSpan.objects.current_for(owner).filter(
            search._text_matches(ON_SCREEN, ["revenue"])
        )
        sql, params = rows.query.sql_with_params()
        assert "VIRTUAL TABLE INDEX" in _plan(sql, params)
        assert "onscreen_text_spans_fts" in _plan(sql, params)


def test_admin_shows_the_spans_of_an_analysis(staff_client, shown):
    video = shown((1.0, 2.0, "Quarterly budget review"))
    analysis = video.analyses.get()
    html = staff_client.get(reverse("admin:analysis_analysis_change", args=[analysis.pk])).content.decode()
    assert "On-screen text" in html
    assert "Quarterly budget review" in html
