"""Speech in the pipeline: the transcript stage, the page, search, and the assistant's answers."""

from __future__ import annotations

import os

import pytest
from django.urls import reverse

from analysis import jobs
from analysis.models import TranscriptSegment, Video
from analysis.tests.clips import make_clip
from analysis.tests.speech import espeak_exe, make_silent_clip, make_speech_clip
from testkit.waiting import until

pytestmark = pytest.mark.django_db

needs_espeak = pytest.mark.skipif(
    espeak_exe() is None and not os.environ.get("CI"),
    reason="espeak-ng is not installed (apt-get install espeak-ng); under CI these tests must run",
)


@pytest.fixture(scope="module")
def speech_clip(tmp_path_factory):
    if espeak_exe() is None and not os.environ.get("CI"):
        pytest.skip("espeak-ng is not installed")
    return make_speech_clip(
        tmp_path_factory.mktemp("speech") / "meeting.mp4",
        [(1.0, "Welcome to the quarterly budget review."), (6.0, "Our next meeting is in Berlin.")],
        duration=10.0,
    )


@pytest.fixture
def analysed_speech(owner, make_video, speech_clip):
    video = make_video(owner, speech_clip.path)
    assert jobs.analyze_video(video.pk) == "done"
    video.refresh_from_db()
    return video


@needs_espeak
def test_the_analysis_stores_a_transcript_with_times(analysed_speech):
    analysis = analysed_speech.latest_analysis
    segments = list(analysis.segments.all())
    text = " ".join(s.text.lower() for s in segments)
    assert "budget" in text
    assert "berlin" in text
    budget = next(s for s in segments if "budget" in s.text.lower())
    berlin = next(s for s in segments if "berlin" in s.text.lower())
    assert budget.start == pytest.approx(1.0, abs=1.5)
    assert berlin.start == pytest.approx(6.0, abs=1.5)
    assert analysis.extra["speech"]["model"] == "whisper-tiny.en"
    assert analysis.extra["speech"]["has_speech"] is True


@needs_espeak
def test_the_page_shows_the_transcript_with_seek_links(owner_client, analysed_speech):
    html = owner_client.get(analysed_speech.get_absolute_url()).content.decode()
    assert 'id="transcript"' in html
    assert 'class="transcript-segment"' in html
    assert "Berlin" in html
    segment = analysed_speech.latest_analysis.segments.get(text__icontains="berlin")
    assert f'data-seek="{segment.start:g}"' in html or f'data-seek="{segment.start}"' in html
    assert "English-only" in html


def test_a_silent_clip_and_a_clip_without_sound_say_so(owner, owner_client, make_video, tmp_path):
    silent = make_video(owner, make_silent_clip(tmp_path / "silent.mp4").path)
    mute = make_video(owner, make_clip(tmp_path / "mute.mp4", duration=3.0, cuts=(1.5,), audio=False).path)
    for video, note in ((silent, "no speech was heard"), (mute, "this video has no sound")):
        assert jobs.analyze_video(video.pk) == "done"
        video.refresh_from_db()
        analysis = video.latest_analysis
        assert analysis.extra["speech"]["note"] == note
        assert not analysis.segments.exists()
        assert note.capitalize() in owner_client.get(video.get_absolute_url()).content.decode()


def test_transcription_can_be_switched_off(owner, make_video, clips, settings):
    settings.TRANSCRIBE_SPEECH = False
    video = make_video(owner, clips["short"].path)
    jobs.analyze_video(video.pk)
    video.refresh_from_db()
    assert video.status == Video.Status.DONE
    assert video.latest_analysis.extra["speech"] == {}
    assert not TranscriptSegment.objects.exists()


@needs_espeak
def test_search_finds_spoken_words_with_their_moment(owner_client, analysed_speech):
    response = owner_client.get(reverse("analysis:video-list"), {"q": "Berlin"})
    html = response.content.decode()
    segment = analysed_speech.latest_analysis.segments.get(text__icontains="berlin")
    assert f"{analysed_speech.get_absolute_url()}?t=" in html
    assert "<mark>Berlin</mark>" in html
    assert f"?t={segment.start:g}#player" in html or f"?t={segment.start}#player" in html


@needs_espeak
def test_search_misses_and_strangers(owner_client, outsider_client, analysed_speech):
    miss = owner_client.get(reverse("analysis:video-list"), {"q": "helicopter"}).content.decode()
    assert "Nothing in your videos matches" in miss
    theirs = outsider_client.get(reverse("analysis:video-list"), {"q": "Berlin"}).content.decode()
    assert "meeting.mp4" not in theirs
    assert "Nothing in your videos matches" in theirs


def test_search_is_rate_limited_per_user(owner_client, settings):
    settings.RATELIMIT_SEARCH_USER = "2/d"
    for _ in range(2):
        assert owner_client.get(reverse("analysis:video-list"), {"q": "holiday"}).status_code == 200
    response = owner_client.get(reverse("analysis:video-list"), {"q": "holiday"})
    assert response.status_code == 429
    assert "Too many searches" in response.content.decode()
    # The list itself is not a search and stays open.
    assert owner_client.get(reverse("analysis:video-list")).status_code == 200


def test_search_reads_a_nul_character_as_a_space(owner, owner_client, make_video, clips):
    video = make_video(owner, clips["short"].path, name="summer holiday.mp4")
    analysis = video.analyses.create(analyzer="local", analyzer_version="1.0", wall_time=1.0)
    TranscriptSegment.objects.create(analysis=analysis, start=2.0, end=3.0, text="a sunny beach")
    response = owner_client.get(reverse("analysis:video-list"), {"q": "beach\x00holiday"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "summer <mark>holiday</mark>.mp4" in html
    assert "sunny <mark>beach</mark>" in html


def test_search_finds_file_names_and_escapes_them(owner, owner_client, make_video, clips):
    make_video(owner, clips["short"].path, name="<script>alert(1)</script> holiday.mp4")
    html = owner_client.get(reverse("analysis:video-list"), {"q": "holiday"}).content.decode()
    assert "<mark>holiday</mark>" in html
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;" in html


@needs_espeak
def test_the_assistant_cites_the_moment_a_word_is_said(owner, analysed_speech):
    from chat import jobs as chat_jobs
    from chat import services
    from chat.models import Conversation

    conversation = Conversation.objects.create(owner=owner)
    _, reply = services.message_send(
        conversation=conversation, text="When is the budget mentioned?", videos=[analysed_speech]
    )
    assert chat_jobs.write_reply(reply.pk) == "complete"
    reply.refresh_from_db()
    segment = analysed_speech.latest_analysis.segments.get(text__icontains="budget")
    minutes, seconds = divmod(int(segment.start), 60)
    assert f"{minutes:02d}:{seconds:02d}" in reply.text
    assert "budget" in reply.text.lower()


@needs_espeak
@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_person_reads_the_transcript_in_sync_with_the_player(
    live_server_url, browser_page, owner, make_video, speech_clip
):
    from conftest import PASSWORD

    video = make_video(owner, speech_clip.path)
    jobs.analyze_video(video.pk)
    page = browser_page
    page.goto(f"{live_server_url}/accounts/login/?next={video.get_absolute_url()}")
    page.fill("#id_username", owner.email)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    segment = page.locator(".transcript-segment", has_text="Berlin")
    segment.wait_for()
    start = float(segment.get_attribute("data-seek"))
    segment.click()
    until(
        lambda: (
            abs(page.evaluate("document.getElementById('player').currentTime") - start) < 0.5
            and "current" in (segment.get_attribute("class") or "")
        ),
        timeout=15,
        what="the player at the segment and the segment marked current",
        interval=0.1,
    )
    assert abs(page.evaluate("document.getElementById('player').currentTime") - start) < 0.5
    assert "current" in segment.get_attribute("class")
    assert [m for m in page.console_messages if "Content Security Policy" in m] == []
