"""Search over transcripts and names, on the database's own index (SQLite FTS5, PostgreSQL tsvector)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from analysis.models import Analysis, TranscriptSegment
from analysis.search import search_videos


@pytest.fixture
def spoken(owner, make_video, clips):
    """A video of the owner's whose newest local analysis says the given lines at 10 s, 20 s, ..."""
    made = 0

    def make(*lines: str, name: str | None = None, user=None):
        nonlocal made
        made += 1
        video = make_video(
            user or owner, clips["short"].path, name=name or f"clip {made}.mp4", sha256=f"{made:064x}"
        )
        analysis = video.analyses.create(analyzer=Analysis.LOCAL, analyzer_version="1.0", wall_time=1.0)
        for number, line in enumerate(lines, start=1):
            TranscriptSegment.objects.create(
                analysis=analysis, start=10.0 * number, end=10.0 * number + 5, text=line
            )
        return video

    return make


def _names(hits) -> list[str]:
    return [hit.video.original_name for hit in hits]


def test_it_finds_a_spoken_word_at_its_moment(owner, spoken):
    spoken("nothing to see here", "the budgets were cut in March", name="meeting.mp4")
    [hit] = search_videos(owner, "budget")
    assert hit.video.original_name == "meeting.mp4"
    [moment] = hit.moments
    assert moment.start == 20.0
    assert "<mark>budget" in moment.snippet.lower()


def test_a_moment_with_more_of_the_words_ranks_first_and_one_with_none_is_not_found(owner, spoken):
    spoken("the budget only", name="some.mp4")
    spoken("the budget review went well", name="both.mp4")
    spoken("hello world", name="neither.mp4")
    hits = search_videos(owner, "budget review")
    assert _names(hits) == ["both.mp4", "some.mp4"]


def test_it_reads_only_the_newest_local_analysis(owner, spoken):
    video = spoken("a zebra crossed the road", name="zoo.mp4")
    newer = video.analyses.create(
        analyzer=Analysis.LOCAL,
        analyzer_version="1.1",
        wall_time=1.0,
        created_at=timezone.now() + timedelta(seconds=1),
    )
    TranscriptSegment.objects.create(analysis=newer, start=1.0, end=2.0, text="a giraffe ate leaves")
    video.analyses.create(
        analyzer="gemini",
        analyzer_version="x",
        wall_time=1.0,
        created_at=timezone.now() + timedelta(seconds=2),
    )
    assert search_videos(owner, "zebra") == []
    assert _names(search_videos(owner, "giraffe")) == ["zoo.mp4"]


def test_it_never_finds_a_strangers_words(owner, outsider, spoken):
    spoken("a secret plan", name="theirs.mp4", user=outsider)
    assert search_videos(owner, "secret") == []
    assert _names(search_videos(outsider, "secret")) == ["theirs.mp4"]


def test_a_two_letter_word_is_found_too(owner, spoken):
    spoken("new ai tools", name="talk.mp4")
    assert _names(search_videos(owner, "ai")) == ["talk.mp4"]


def test_the_index_follows_changed_and_deleted_text(owner, spoken):
    video = spoken("the old words", name="edited.mp4")
    TranscriptSegment.objects.filter(analysis__video=video).update(text="the new phrasing")
    assert search_videos(owner, "old") == []
    assert _names(search_videos(owner, "phrasing")) == ["edited.mp4"]
    TranscriptSegment.objects.filter(analysis__video=video).delete()
    assert search_videos(owner, "phrasing") == []


def test_a_file_name_match_comes_first_and_is_highlighted(owner, owner_client, spoken):
    spoken("we talked about the garden", name="notes.mp4")
    spoken("nothing here", name="Garden tour.mp4")
    hits = search_videos(owner, "garden")
    assert _names(hits) == ["Garden tour.mp4", "notes.mp4"]
    html = owner_client.get(reverse("analysis:video-list"), {"q": "garden"}).content.decode()
    assert "<mark>Garden</mark> tour.mp4" in html
    assert "the <mark>garden</mark>" in html
