"""The Gemini assistant, through the real google-genai client against the local fake API.

Replies run in this process with chat.jobs.write_reply, as the worker runs them,
so these tests see the pushes, the saved message and what was sent to Google.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta

import pytest
from channels.db import database_sync_to_async

from analysis.models import Analysis
from chat import jobs, services
from chat.assistant import get_provider
from chat.assistant.base import ProviderError, Turn
from chat.assistant.gemini import CUT_OFF, SUMMARY_REQUEST, GeminiProvider
from chat.assistant.gemini import conversation as to_contents
from chat.models import Message
from chat.tests.test_replies import _drain, _socket
from testkit.fake_gemini import DEFAULT_STREAM, Reply, field

pytestmark = pytest.mark.django_db

SUMMARY = "A walk on a beach at sunset; a wave arrives at 00:03."


@pytest.fixture
def gemini_video(analysed_video, fake_gemini):
    """The chat's analysed video, with a Gemini analysis whose uploaded file the fake still has."""
    Analysis.objects.create(
        video=analysed_video,
        analyzer="gemini",
        analyzer_version="gemini-3.8-flash",
        extra={
            "summary": SUMMARY,
            "topics": ["beach"],
            "key_moments": [{"time": 3.0, "label": "A wave arrives."}],
            "transcript": [],
            "on_screen_text": [],
            "file": fake_gemini.add_file(),
        },
        wall_time=2.0,
    )
    return analysed_video


def _ask(conversation_, video, text="What happens at the end?") -> Message:
    _, reply = services.message_send(conversation=conversation_, text=text, videos=[video])
    return reply


def _sent(fake) -> dict:
    (request,) = fake.calls("stream")
    return request.json


def _file_uris(request: dict) -> list[str]:
    return [
        field(field(part, "fileData"), "fileUri")
        for content in request["contents"]
        for part in content["parts"]
        if field(part, "fileData")
    ]


def _system(request: dict) -> str:
    return " ".join(part["text"] for part in field(request, "systemInstruction")["parts"])


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_reply_streams_gemini_s_chunks_over_the_websocket(
    gemini_settings, fake_gemini, owner_client, conversation, gemini_video
):
    reply = await database_sync_to_async(_ask)(conversation, gemini_video)
    socket = _socket(owner_client)
    try:
        assert (await socket.connect())[0]
        assert await database_sync_to_async(jobs.write_reply)(reply.pk) == "complete"
        received = await _drain(socket)
    finally:
        await socket.disconnect()

    chunks = [html for html in received if f'id="message-{reply.uuid}-stream" data-swap="chunk"' in html]
    assert len(chunks) == len(DEFAULT_STREAM)
    await database_sync_to_async(reply.refresh_from_db)()
    assert reply.status == Message.Status.COMPLETE
    assert (reply.provider, reply.model) == ("gemini", gemini_settings.GEMINI_MODEL)
    assert reply.text == "".join(DEFAULT_STREAM)
    assert 'data-status="complete"' in received[-1]
    assert 'class="seek"' in received[-1]  # "00:03" links to the player

    request = _sent(fake_gemini)
    file = (await database_sync_to_async(gemini_video.analyses.get)(analyzer="gemini")).extra["file"]
    assert _file_uris(request) == [file["uri"]]
    question = request["contents"][-1]
    assert question["role"] == "user"
    assert [part.get("text") for part in question["parts"]][::2] == [
        "Video 1: holiday.mp4",
        "What happens at the end?",
    ]
    system = _system(request)
    assert "Duration: 01:15" in system
    assert "Scenes start at: 00:00, 00:12, 00:30" in system
    assert "Silent stretches: 00:40-00:44" in system
    assert SUMMARY in system
    assert "The video itself is attached" in system


def test_a_stream_cut_off_halfway_fails_the_reply_with_a_retry_button(
    gemini_settings, fake_gemini, owner_client, conversation, gemini_video
):
    fake_gemini.script("stream", Reply.stream(["One, ", "two, ", "three, ", "four."], cut_after=2))
    reply = _ask(conversation, gemini_video)
    assert jobs.write_reply(reply.pk) == "failed"
    reply.refresh_from_db()
    assert reply.status == Message.Status.FAILED
    assert reply.failure_reason == CUT_OFF
    assert len(fake_gemini.calls("stream")) == 1  # a broken answer is not silently asked again
    html = owner_client.get(conversation.get_absolute_url()).content.decode()
    assert CUT_OFF.replace("'", "&#x27;") in html
    assert 'class="secondary retry"' in html


def test_a_stream_that_ends_without_finishing_is_cut_off_too(gemini_settings, fake_gemini, gemini_video):
    provider = get_provider("gemini")
    # The connection closes cleanly, but the model never said it was done.
    fake_gemini.script("stream", Reply.stream(["Half", " an answer"], finish=False))
    facts = jobs.video_facts(gemini_video)
    stream = provider.stream_reply(history=[Turn("user", "Hi")], videos=[facts])
    assert [next(stream), next(stream)] == ["Half", " an answer"]
    with pytest.raises(ProviderError, match="broke off"):
        next(stream)


def test_it_retries_a_429_then_streams(gemini_settings, fake_gemini, conversation, gemini_video):
    fake_gemini.script("stream", Reply.error(429))
    reply = _ask(conversation, gemini_video)
    assert jobs.write_reply(reply.pk) == "complete"
    reply.refresh_from_db()
    assert reply.text == "".join(DEFAULT_STREAM)
    assert len(fake_gemini.calls("stream")) == 2


def test_500s_until_the_retries_give_up_fail_the_reply(
    gemini_settings, fake_gemini, conversation, gemini_video, caplog
):
    caplog.set_level(logging.DEBUG)
    fake_gemini.script("stream", *[Reply.error(500, f"boom for {fake_gemini.api_key}")] * 3)
    reply = _ask(conversation, gemini_video)
    assert jobs.write_reply(reply.pk) == "failed"
    reply.refresh_from_db()
    assert reply.failure_reason == (
        "Gemini could not answer: Gemini had a server error (500) and still had it after trying 3 times. "
        "Press Retry to ask again."
    )
    assert len(fake_gemini.calls("stream")) == 3
    assert fake_gemini.api_key not in reply.failure_reason
    # The SDK logs each retry with the server's answer, which here quotes the key: redacted.
    assert "Retrying" in caplog.text
    assert fake_gemini.api_key not in caplog.text


def test_an_expired_file_is_answered_from_the_facts(gemini_settings, fake_gemini, conversation, gemini_video):
    row = gemini_video.analyses.get(analyzer="gemini")
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    row.extra = {**row.extra, "file": {**row.extra["file"], "expires_at": past}}
    row.save(update_fields=["extra"])
    reply = _ask(conversation, gemini_video)
    assert jobs.write_reply(reply.pk) == "complete"
    request = _sent(fake_gemini)
    assert _file_uris(request) == []
    system = _system(request)
    assert "You cannot watch this video (its upload to Gemini expired)" in system
    assert SUMMARY in system  # what Gemini saw when it could still watch
    assert "Duration: 01:15" in system


def test_a_file_google_deleted_early_is_answered_from_the_facts(
    gemini_settings, fake_gemini, conversation, gemini_video
):
    fake_gemini.forget(gemini_video.analyses.get(analyzer="gemini").extra["file"]["name"])
    reply = _ask(conversation, gemini_video)
    assert jobs.write_reply(reply.pk) == "complete"
    refused, answered = fake_gemini.calls("stream")
    assert len(_file_uris(refused.json)) == 1
    assert _file_uris(answered.json) == []
    assert "You cannot watch this video" in _system(answered.json)
    reply.refresh_from_db()
    assert reply.text == "".join(DEFAULT_STREAM)


def test_a_video_whose_gemini_part_failed_is_answered_from_the_facts(
    gemini_settings, fake_gemini, conversation, analysed_video
):
    Analysis.objects.create(
        video=analysed_video,
        analyzer="gemini",
        analyzer_version="gemini-3.8-flash",
        extra={"error": "Gemini could not process the video file (bad codec)."},
        wall_time=1.0,
    )
    reply = _ask(conversation, analysed_video)
    assert jobs.write_reply(reply.pk) == "complete"
    request = _sent(fake_gemini)
    assert _file_uris(request) == []
    assert "You cannot watch this video: Gemini could not process the video file (bad codec)." in _system(
        request
    )


def test_the_summary_after_an_analysis_comes_from_the_facts_without_the_video(
    gemini_settings, fake_gemini, gemini_video
):
    provider = get_provider()
    text = "".join(provider.stream_analysis_summary(video=jobs.video_facts(gemini_video)))
    assert text == "".join(DEFAULT_STREAM)
    request = _sent(fake_gemini)
    assert _file_uris(request) == []
    assert request["contents"] == [{"parts": [{"text": SUMMARY_REQUEST}], "role": "user"}]
    assert SUMMARY in _system(request)


def test_each_reply_repeats_the_same_prefix_so_gemini_can_cache_the_videos(
    gemini_settings, fake_gemini, conversation, gemini_video, caplog
):
    caplog.set_level(logging.INFO, logger="chat.assistant.gemini")
    first = _ask(conversation, gemini_video)
    assert jobs.write_reply(first.pk) == "complete"
    second = _ask(conversation, gemini_video, text="And the loudest moment?")
    assert jobs.write_reply(second.pk) == "complete"

    earlier, later = (call.json for call in fake_gemini.calls("stream"))
    # The instruction and the leading videos are the same; the history only grows at the end.
    assert _system(later) == _system(earlier)
    assert later["contents"][0] == earlier["contents"][0]
    assert _file_uris(later) == _file_uris(earlier)
    assert later["contents"][: len(earlier["contents"])] == earlier["contents"]
    assert field(later["contents"][-1]["parts"][-1], "text") == "And the loudest moment?"
    assert "gemini reply: 10 prompt tokens, 0 of them from Gemini's cache, 5 written" in caplog.text


def test_the_history_goes_as_user_and_model_turns():
    history = [
        Turn("assistant", "holiday.mp4 is ready."),
        Turn("user", "Hi"),
        Turn("user", "How long is it?"),
        Turn("assistant", "75 seconds."),
        Turn("user", "And the loudest moment?"),
    ]
    contents = to_contents(history, [])
    assert [(c.role, [p.text for p in c.parts]) for c in contents] == [
        ("user", ["(Earlier:)"]),
        ("model", ["holiday.mp4 is ready."]),
        ("user", ["Hi", "How long is it?"]),
        ("model", ["75 seconds."]),
        ("user", ["And the loudest moment?"]),
    ]


def test_the_provider_follows_the_settings(settings, gemini_settings):
    provider = get_provider()
    assert isinstance(provider, GeminiProvider)
    assert (provider.name, provider.model) == ("gemini", settings.GEMINI_MODEL)
    settings.ASSISTANT_PROVIDER = "local"
    assert get_provider().name == "local"


def test_without_a_file_reference_nothing_is_attached(gemini_settings, fake_gemini, analysed_video):
    facts = dataclasses.replace(jobs.video_facts(analysed_video), extra={})
    provider = get_provider()
    assert "".join(provider.stream_reply(history=[Turn("user", "Hi")], videos=[facts]))
    request = _sent(fake_gemini)
    assert _file_uris(request) == []
    assert "You cannot watch this video (it was analysed without Gemini)" in _system(request)


def test_gemini_is_told_each_videos_clip_id_and_its_clip_offer_becomes_a_link(
    gemini_settings, fake_gemini, conversation, gemini_video
):
    from chat.presenters import message_row

    offer = f"[clip 00:03\N{EN DASH}00:05](clip:{gemini_video.uuid}/3-5)"
    fake_gemini.script("stream", Reply.stream(["The wave is at 00:03 ", f"({offer})."]))
    reply = _ask(conversation, gemini_video)
    assert jobs.write_reply(reply.pk) == "complete"
    system = _system(_sent(fake_gemini))
    assert f"- Its clip id: {gemini_video.uuid}" in system
    assert "(clip:ID/START-END)" in system
    reply.refresh_from_db()
    html = message_row(reply)["html"]
    assert f'href="/videos/clips/?video={gemini_video.uuid}&amp;start=3&amp;end=5" class="clip-offer"' in html
