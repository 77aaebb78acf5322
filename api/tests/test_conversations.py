"""Conversations and messages: the pages' forms, services, limits and cache, answered as JSON."""

from __future__ import annotations

import json
from datetime import timedelta

import django_rq
import pytest
from django.conf import settings
from django.utils import timezone
from ninja.responses import NinjaJSONEncoder

from api import schemas
from api.chat import _row_out
from chat import cache as chat_cache
from chat import selectors
from chat.models import Conversation, Message

pytestmark = pytest.mark.django_db


def post_json(client, url, body, method="POST"):
    return client.generic(method, url, json.dumps(body), content_type="application/json")


def test_it_lists_conversations_latest_activity_first(api, owner, world):
    newer = Conversation.objects.create(owner=owner, title="Newer", updated_at=timezone.now() + timedelta(1))
    body = api.get("/api/v1/conversations").json()
    assert [(c["id"], c["title"], c["message_count"]) for c in body["items"]] == [
        (str(newer.uuid), "Newer", 0),
        (str(world["conversation"].uuid), "About my clip", 2),
    ]
    assert (body["page"], body["pages"], body["count"]) == (1, 1, 2)


def test_it_creates_renames_and_deletes_a_conversation(api, owner):
    created = post_json(api, "/api/v1/conversations", {"title": "  Scripted  "})
    assert created.status_code == 201
    conversation = Conversation.objects.get(owner=owner)
    assert created.json()["id"] == str(conversation.uuid)
    assert conversation.title == "Scripted"  # stripped by the page's own form
    url = f"/api/v1/conversations/{conversation.uuid}"
    renamed = post_json(api, url, {"title": "Renamed"}, method="PATCH")
    assert renamed.json()["title"] == "Renamed"
    conversation.refresh_from_db()
    assert conversation.title == "Renamed"
    assert api.delete(url).status_code == 204
    assert not Conversation.objects.exists()


def test_it_starts_an_untitled_conversation(api, owner):
    response = post_json(api, "/api/v1/conversations", {})
    assert response.status_code == 201
    assert response.json()["title"] == "New conversation"


@pytest.mark.parametrize("body", [b"", b"0.25", b"[]", b'"x"', b"null"])
def test_it_wants_a_json_object_to_start_one(api, body):
    response = api.generic("POST", "/api/v1/conversations", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not Conversation.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [({"title": ""}, "title"), ({"title": "x" * 121}, "title"), ({"title": 7}, "title"), ({}, "title")],
)
def test_a_bad_title_names_the_field(api, world, body, field):
    url = f"/api/v1/conversations/{world['conversation'].uuid}"
    response = post_json(api, url, body, method="PATCH")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["fields"]) == [field]
    world["conversation"].refresh_from_db()
    assert world["conversation"].title == "About my clip"


def test_a_body_that_is_not_json_is_invalid(api, world):
    url = f"/api/v1/conversations/{world['conversation'].uuid}"
    response = api.generic("PATCH", url, b"{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_new_conversations_count_against_the_pages_limit(api, settings):
    settings.RATELIMIT_CONVERSATION_USER = "1/h"
    assert post_json(api, "/api/v1/conversations", {}).status_code == 201
    response = post_json(api, "/api/v1/conversations", {})
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert Conversation.objects.count() == 1


def _messages(conversation, n):
    start = timezone.now() - timedelta(hours=1)
    return [
        Message.objects.create(
            conversation=conversation,
            role=Message.Role.USER,
            text=f"m{i}",
            created_at=start + timedelta(seconds=i),
        )
        for i in range(n)
    ]


def test_it_pages_messages_newest_first_with_a_cursor(api, owner, settings):
    settings.CHAT_PAGE_SIZE = 3
    conversation = Conversation.objects.create(owner=owner)
    _messages(conversation, 7)
    url = f"/api/v1/conversations/{conversation.uuid}/messages"
    pages, cursor = [], None
    while True:
        body = api.get(url, {"cursor": cursor} if cursor else {}).json()
        pages.append([m["text"] for m in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == [["m6", "m5", "m4"], ["m3", "m2", "m1"], ["m0"]]


def test_a_page_of_exactly_the_rest_has_no_next_cursor(api, owner, settings):
    settings.CHAT_PAGE_SIZE = 2
    conversation = Conversation.objects.create(owner=owner)
    _messages(conversation, 2)
    assert api.get(f"/api/v1/conversations/{conversation.uuid}/messages").json()["next_cursor"] is None


@pytest.mark.parametrize("cursor", ["zzz", "00000000-0000-0000-0000-000000000000"])
def test_a_cursor_not_of_this_conversation_is_invalid(api, world, cursor):
    response = api.get(f"/api/v1/conversations/{world['conversation'].uuid}/messages", {"cursor": cursor})
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["cursor"]


def test_another_conversations_message_is_no_cursor(api, owner, world):
    other = Conversation.objects.create(owner=owner)
    [elsewhere] = _messages(other, 1)
    url = f"/api/v1/conversations/{world['conversation'].uuid}/messages"
    assert api.get(url, {"cursor": str(elsewhere.uuid)}).status_code == 400


def test_messages_are_read_from_the_cache_until_something_changes(
    api, owner, world, django_assert_num_queries, redis_client
):
    url = f"/api/v1/conversations/{world['conversation'].uuid}/messages"
    first = api.get(url).json()
    with django_assert_num_queries(0):  # the token and the page are both the cache's
        assert api.get(url).json() == first
    version = chat_cache.version(owner.pk)
    response = post_json(api, url, {"text": "And now?"})
    assert response.status_code == 201
    assert chat_cache.version(owner.pk) > version  # the send bumped the pages' version
    assert api.get(url).json()["items"][1]["text"] == "And now?"


def test_with_the_cache_off_it_reads_the_database(api, world, settings, django_assert_max_num_queries):
    settings.CHAT_READ_CACHE = False
    url = f"/api/v1/conversations/{world['conversation'].uuid}/messages"
    first = api.get(url).json()
    Message.objects.filter(pk=world["question"].pk).update(text="Changed behind the cache's back")
    assert api.get(url).json()["items"][1]["text"] == "Changed behind the cache's back"
    assert first["items"][1]["text"] == "How long?"


def test_it_sends_a_message_with_videos_and_queues_the_reply(api, world, django_capture_on_commit_callbacks):
    conversation, video = world["conversation"], world["video"]
    url = f"/api/v1/conversations/{conversation.uuid}/messages"
    with django_capture_on_commit_callbacks(execute=True):
        response = post_json(api, url, {"text": "How long is it?", "videos": [str(video.uuid)]})
    assert response.status_code == 201
    body = response.json()
    assert (body["question"]["role"], body["question"]["text"]) == ("user", "How long is it?")
    assert body["question"]["videos"] == [{"id": str(video.uuid), "name": "holiday.mp4"}]
    assert body["reply"]["status"] == "pending"
    reply = Message.objects.get(uuid=body["reply"]["id"])
    assert reply.reply_to.text == "How long is it?"
    assert django_rq.get_queue("high").count == 1
    polled = api.get(f"{url}/{reply.uuid}").json()
    assert (polled["id"], polled["status"]) == (str(reply.uuid), "pending")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "x" * 4001}, "text"),
        ({"text": "a\x00b"}, "text"),
        ({"videos": ["zzz"]}, "videos"),
        ({"text": 3}, "text"),
        ({"videos": "not a list"}, "videos"),
    ],
)
def test_a_bad_message_names_the_field_and_saves_nothing(api, world, body, field):
    url = f"/api/v1/conversations/{world['conversation'].uuid}/messages"
    response = post_json(api, url, body)
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert Message.objects.count() == 2


def test_an_empty_message_says_what_to_do(api, world):
    response = post_json(api, f"/api/v1/conversations/{world['conversation'].uuid}/messages", {})
    assert response.status_code == 400
    assert response.json()["error"] == "Write a message or attach a video."


def test_a_strangers_video_cannot_be_attached(api, world, outsider, make_video, clips):
    theirs = make_video(outsider, clips["other"].path)
    url = f"/api/v1/conversations/{world['conversation'].uuid}/messages"
    response = post_json(api, url, {"text": "Look", "videos": [str(theirs.uuid)]})
    assert response.status_code == 400
    assert response.json()["fields"] == {"videos": ["That video is not one of yours."]}


def test_messages_count_against_the_pages_limit(api, world, settings):
    settings.RATELIMIT_CHAT_USER = "1/m"
    url = f"/api/v1/conversations/{world['conversation'].uuid}/messages"
    assert post_json(api, url, {"text": "one"}).status_code == 201
    response = post_json(api, url, {"text": "two"})
    assert response.status_code == 429
    assert Message.objects.filter(text="two").count() == 0


def test_it_retries_a_failed_reply_only(api, world, django_capture_on_commit_callbacks):
    conversation, reply, question = world["conversation"], world["reply"], world["question"]
    base = f"/api/v1/conversations/{conversation.uuid}/messages"
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"{base}/{reply.uuid}/retry")
    assert response.status_code == 202
    reply.refresh_from_db()
    assert (reply.status, response.json()["status"]) == ("pending", "pending")
    assert django_rq.get_queue("high").count == 1
    again = api.post(f"{base}/{reply.uuid}/retry")
    assert (again.status_code, again.json()["code"]) == (409, "not_failed")
    assert api.post(f"{base}/{question.uuid}/retry").status_code == 404  # a user's message is no reply


def test_a_streaming_replys_text_is_what_is_written_so_far(api, world):
    reply = world["reply"]
    reply.mark_streaming(provider="local", model="offline")
    reply.text = "So far"
    reply.save(update_fields=["text"])
    url = f"/api/v1/conversations/{world['conversation'].uuid}/messages"
    assert api.get(f"{url}/{reply.uuid}").json()["text"] == "So far"
    assert api.get(url).json()["items"][0]["text"] == "So far"


def test_a_page_is_exactly_what_validating_it_by_its_schema_would_answer(api, owner, world):
    """The page skips ninja's validation (api/chat.py): it must not differ by a byte."""
    conversation = world["conversation"]
    Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        text="**Done**",
        status=Message.Status.COMPLETE,
    )
    Message.objects.create(
        conversation=conversation, role=Message.Role.ASSISTANT, text="So far", status=Message.Status.STREAMING
    )
    response = api.get(f"/api/v1/conversations/{conversation.uuid}/messages")
    assert response["Content-Type"] == "application/json; charset=utf-8"
    rows = selectors.messages_page(owner, conversation.uuid, limit=settings.CHAT_PAGE_SIZE)["rows"]
    page = {"items": [_row_out(row) for row in rows], "next_cursor": None}
    validated = schemas.MessagePage.model_validate(page).model_dump()
    assert response.content.decode() == json.dumps(validated, cls=NinjaJSONEncoder)
    assert {item["status"] for item in validated["items"]} == {"complete", "streaming", "failed"}
