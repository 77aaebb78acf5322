"""Gemini's part of the analysis, through the real google-genai client against the local fake API.

The fake (testkit/fake_gemini.py) speaks the resumable upload, file
status, generateContent and streamGenerateContent; `gemini_settings` points
the app at it with a test key and waits of a hundredth of a second.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analysis import gemini, jobs
from analysis.analyzers.gemini import seconds
from analysis.models import Analysis, Video
from testkit.fake_gemini import DEFAULT_UNDERSTANDING, Reply, field

pytestmark = pytest.mark.django_db

DURATION = 4.0  # the "short" clip


@pytest.fixture(autouse=True)
def _no_transcription(settings):
    settings.TRANSCRIBE_SPEECH = False  # Whisper is not what these tests are about


@pytest.fixture
def video(owner, clips, make_video):
    return make_video(owner, clips["short"].path)


def _ask(video: Video, **kwargs) -> gemini.GeminiOutcome:
    return gemini.ask_gemini(video, video.file.path, duration=kwargs.pop("duration", DURATION), **kwargs)


def _keyed(fake) -> list:
    """Every request but the upload of the bytes, whose URL is its own credential."""
    return [r for r in fake.requests if r.query.get("upload_id") is None]


# --- the whole job ---------------------------------------------------------------------


def test_the_job_adds_a_gemini_analysis_after_the_local_one(gemini_settings, fake_gemini, video, caplog):
    caplog.set_level(logging.DEBUG)
    assert jobs.analyze_video(video.pk) == "done"

    video.refresh_from_db()
    assert video.status == Video.Status.DONE
    assert video.progress == 100
    local, answer = video.analyses.order_by("created_at", "id")
    assert (local.analyzer, answer.analyzer) == ("local", "gemini")
    assert video.latest_analysis == local  # the page and the chat keep reading the local facts
    assert answer.analyzer_version == gemini_settings.GEMINI_MODEL
    assert answer.extra["summary"] == DEFAULT_UNDERSTANDING["summary"]
    assert answer.extra["topics"] == ["beach", "tides", "sunset"]
    assert [m["time"] for m in answer.extra["key_moments"]] == [0.0, 1.0, 3.0]
    assert answer.extra["transcript"] == [{"start": 1.0, "end": 3.0, "text": "The tide turns twice a day."}]
    assert answer.extra["on_screen_text"] == [{"time": 2.0, "text": "LOW TIDE 14:05"}]
    assert answer.extra["file"]["name"].startswith("files/")
    assert answer.extra["file"]["mime_type"] == "video/mp4"
    expires = datetime.fromisoformat(answer.extra["file"]["expires_at"])
    assert timedelta(hours=47) < expires - datetime.now(UTC) <= timedelta(hours=48)

    # What went to Google: the bytes once, then a question with a response schema about that file.
    assert len(fake_gemini.uploads) == 1
    assert fake_gemini.uploads[0].body == Path(video.file.path).read_bytes()
    start = fake_gemini.calls("upload")[0]
    assert start.headers["x-goog-upload-header-content-type"] == "video/mp4"
    assert field(start.json["file"], "displayName") == f"videochat-{video.uuid.hex}"
    (ask,) = fake_gemini.calls("generate")
    assert ask.path.endswith(f"/models/{gemini_settings.GEMINI_MODEL}:generateContent")
    config = ask.json["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert set(config["responseSchema"]["properties"]) == {
        "summary", "topics", "key_moments", "transcript", "on_screen_text"
    }  # fmt: skip
    (video_part, prompt) = ask.json["contents"][0]["parts"]
    assert field(field(video_part, "fileData"), "fileUri") == answer.extra["file"]["uri"]
    assert "MM:SS" in prompt["text"]
    assert all(r.headers["x-goog-api-key"] == fake_gemini.api_key for r in _keyed(fake_gemini))
    assert fake_gemini.api_key not in caplog.text


def test_without_a_key_nothing_changes(settings, fake_gemini, video):
    settings.GEMINI_API_KEY = None
    settings.GEMINI_BASE_URL = fake_gemini.url
    assert jobs.analyze_video(video.pk) == "done"
    assert [a.analyzer for a in video.analyses.all()] == ["local"]
    assert fake_gemini.requests == []


def test_a_gemini_failure_leaves_the_video_done_with_its_local_analysis(gemini_settings, fake_gemini, video):
    fake_gemini.script("generate", *[Reply.error(503)] * 3)
    assert jobs.analyze_video(video.pk) == "done"
    video.refresh_from_db()
    assert video.status == Video.Status.DONE
    assert video.latest_analysis.scenes
    failed = video.analyses.get(analyzer="gemini")
    assert "server error (503)" in failed.extra["error"]


# --- upload and processing -----------------------------------------------------------


def test_it_polls_a_processing_file_until_it_is_active(gemini_settings, fake_gemini, video):
    fake_gemini.processing_polls = 3
    outcome = _ask(video)
    assert outcome.error == ""
    assert outcome.result["summary"]
    assert len(fake_gemini.calls("get_file")) == 4  # three PROCESSING, then ACTIVE
    assert len(fake_gemini.calls("generate")) == 1


def test_a_failed_file_gives_a_clear_reason(gemini_settings, fake_gemini, video):
    fake_gemini.file_failure = "The video codec is not supported."
    outcome = _ask(video)
    assert outcome.result is None
    assert outcome.error == "Gemini could not process the video file (The video codec is not supported.)."
    assert fake_gemini.calls("generate") == []

    row = outcome.save(video=video)
    assert row.analyzer == "gemini"
    assert row.extra == {"error": outcome.error}


def test_it_gives_up_on_a_file_that_stays_processing(gemini_settings, fake_gemini, video):
    gemini_settings.GEMINI_PROCESSING_TIMEOUT_SECONDS = 1
    gemini_settings.GEMINI_POLL_SECONDS = 0.2
    fake_gemini.processing_polls = 1000
    outcome = _ask(video)
    assert outcome.error == "Gemini was still processing the video after 1 second."
    assert 3 <= len(fake_gemini.calls("get_file")) <= 7


def test_it_uses_the_stored_file_again_until_it_expires(gemini_settings, fake_gemini, video):
    first = _ask(video)
    first.save(video=video)
    assert len(fake_gemini.uploads) == 1

    # A re-analysis within the 48 hours asks about the same file: no second upload.
    second = _ask(video)
    second.save(video=video)
    assert len(fake_gemini.uploads) == 1
    assert second.result["file"] == first.result["file"]
    assert second.result["uploaded"] is False

    # Google deleted it (its expiry passed, or early): asked for, it is gone, so it goes up again.
    fake_gemini.forget(first.result["file"]["name"])
    third = _ask(video)
    third.save(video=video)
    assert len(fake_gemini.uploads) == 2
    assert third.result["file"]["name"] != first.result["file"]["name"]
    assert third.result["uploaded"] is True

    # A reference whose expiry has passed is not even asked about.
    row = video.analyses.filter(analyzer="gemini").latest("created_at")
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    row.extra = {**row.extra, "file": {**row.extra["file"], "expires_at": past}}
    row.save(update_fields=["extra"])
    gets = len(fake_gemini.calls("get_file"))
    fourth = _ask(video)
    assert len(fake_gemini.uploads) == 3
    assert len(fake_gemini.calls("get_file")) == gets + 1  # only the new file's status
    assert fourth.result["file"]["name"] != third.result["file"]["name"]


# --- retries and failures ------------------------------------------------------------


def test_it_retries_a_429_then_succeeds(gemini_settings, fake_gemini, video):
    fake_gemini.script("generate", Reply.error(429, "Resource has been exhausted (e.g. check quota)."))
    outcome = _ask(video)
    assert outcome.error == ""
    assert len(fake_gemini.calls("generate")) == 2


def test_it_gives_up_after_the_retries_on_500s(gemini_settings, fake_gemini, video):
    fake_gemini.script("generate", *[Reply.error(500)] * 5)
    outcome = _ask(video)
    assert outcome.result is None
    assert outcome.error == "Gemini had a server error (500) and still had it after trying 3 times."
    assert len(fake_gemini.calls("generate")) == 3  # GEMINI_MAX_RETRIES = 2


def test_it_retries_a_timeout(gemini_settings, fake_gemini, video):
    gemini_settings.GEMINI_TIMEOUT_SECONDS = 1
    fake_gemini.script("generate", Reply(delay=1.5))
    outcome = _ask(video)
    assert outcome.error == ""
    assert len(fake_gemini.calls("generate")) == 2


def test_an_answer_that_is_not_json_is_a_clear_failure(gemini_settings, fake_gemini, video):
    fake_gemini.script("generate", Reply(text='{"summary": "A beach", "topics": ['))
    outcome = _ask(video)
    assert outcome.result is None
    assert outcome.error == "Gemini's answer was not the JSON we asked for, so it could not be read."


def test_a_refused_key_never_shows_the_key(gemini_settings, fake_gemini, video, caplog):
    caplog.set_level(logging.DEBUG)
    key = fake_gemini.api_key
    # An endpoint that echoes what it was sent: the reason must still not carry the key.
    fake_gemini.script("upload", Reply.error(400, f"API key not valid: {key}"))
    outcome = _ask(video)
    assert outcome.error == "Gemini refused the API key (400). Check GEMINI_API_KEY."
    assert key not in caplog.text
    assert "Gemini analysis of video" in caplog.text


# --- long videos -----------------------------------------------------------------------


def test_a_long_video_is_sampled_at_fewer_frames_and_a_lower_resolution(gemini_settings, fake_gemini, video):
    gemini_settings.GEMINI_LONG_VIDEO_SECONDS = 3
    gemini_settings.GEMINI_LONG_VIDEO_FPS = 0.25
    gemini_settings.GEMINI_MEDIA_RESOLUTION = "low"
    outcome = _ask(video)
    (ask,) = fake_gemini.calls("generate")
    assert field(ask.json["contents"][0]["parts"][0], "videoMetadata") == {"fps": 0.25}
    assert ask.json["generationConfig"]["mediaResolution"] == "MEDIA_RESOLUTION_LOW"
    assert outcome.result["sampling"] == {"fps": 0.25, "media_resolution": "low"}

    gemini_settings.GEMINI_LONG_VIDEO_SECONDS = 60
    _ask(video)
    short = fake_gemini.calls("generate")[-1].json
    assert field(short["contents"][0]["parts"][0], "videoMetadata") is None
    assert "mediaResolution" not in short["generationConfig"]


def test_times_past_the_end_or_unreadable_are_dropped(gemini_settings, fake_gemini, video):
    answer = {
        **DEFAULT_UNDERSTANDING,
        "key_moments": [
            {"time": "00:03", "label": "Late"},
            {"time": "0:01.5", "label": "Early"},
            {"time": "09:00", "label": "Past the end"},
            {"time": "soon", "label": "No time"},
        ],
    }
    fake_gemini.script("generate", Reply.json(answer))
    outcome = _ask(video)
    assert outcome.result["key_moments"] == [{"time": 1.5, "label": "Early"}, {"time": 3.0, "label": "Late"}]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("01:15", 75.0), ("1:02:03", 3723.0), ("0:07.25", 7.25), ("75", 75.0), ("", None), ("-3", None)],
)
def test_it_reads_the_times_the_model_writes(text, expected):
    assert seconds(text) == expected


# --- the video page --------------------------------------------------------------------


def _page(client, video) -> str:
    return client.get(video.get_absolute_url()).content.decode()


def test_the_page_shows_geminis_summary_and_clickable_times(
    gemini_settings, fake_gemini, owner_client, video
):
    assert jobs.analyze_video(video.pk) == "done"
    html = _page(owner_client, video)
    assert DEFAULT_UNDERSTANDING["summary"] in html
    assert 'data-seek="3.0"' in html  # "A wave reaches the walker's feet."
    assert "A wave reaches the walker" in html
    assert 'data-seek="1.0" data-end="3.0"' in html  # the transcript line
    assert "LOW TIDE 14:05" in html
    assert 'href="?t=2.0#player"' in html  # the on-screen text, clickable without script too
    assert fake_gemini.api_key not in html


def test_the_page_says_why_the_gemini_part_is_missing(gemini_settings, fake_gemini, owner_client, video):
    fake_gemini.script("generate", Reply(text="not json"))
    assert jobs.analyze_video(video.pk) == "done"
    html = _page(owner_client, video)
    assert "Gemini analysis unavailable: Gemini&#x27;s answer was not the JSON we asked for" in html
    assert 'id="scenes-title"' in html  # the local analysis is all there
    assert fake_gemini.api_key not in html


def test_the_page_shows_no_gemini_part_for_a_local_only_analysis(owner_client, video, settings):
    settings.GEMINI_API_KEY = None
    Analysis.objects.create(
        video=video, analyzer="gemini", analyzer_version="m", extra={"summary": "Old summary"}, wall_time=1
    )
    jobs.analyze_video(video.pk)
    html = _page(owner_client, video)
    assert "Old summary" not in html  # it belongs to an earlier run, not to the analysis shown
    assert 'id="gemini-title"' not in html
