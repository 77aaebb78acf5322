"""What chat pages and pushes carry so a page converges: versions, offsets, re-reads, events."""

from __future__ import annotations

import re

import pytest
from channels.db import database_sync_to_async
from django.urls import reverse

from chat import jobs, live, services, streams
from chat.models import Conversation, Message
from chat.tests.test_replies import _drain, _socket

pytestmark = pytest.mark.django_db


def _version(html: str, message: Message) -> tuple[int, int]:
    found = re.search(
        rf'id="message-{message.uuid}"[^>]*data-version="(\d+)" data-length="(\d+)"', html, re.S
    )
    assert found, html
    return int(found[1]), int(found[2])


def test_every_state_change_of_a_message_raises_its_version(conversation):
    reply = Message.objects.create(conversation=conversation, role="assistant", status="pending")
    seen = [reply.version]
    reply.mark_streaming(provider="local", model="offline")
    seen.append(reply.version)
    reply.mark_failed("no")
    seen.append(reply.version)
    reply.mark_pending()
    seen.append(reply.version)
    reply.mark_complete("Done.")
    seen.append(reply.version)
    reply.refresh_from_db()
    assert seen == sorted(set(seen))
    assert reply.version == seen[-1]


def test_an_open_reply_shows_the_text_streamed_so_far_from_redis(owner_client, conversation):
    reply = Message.objects.create(conversation=conversation, role="assistant", status="pending")
    reply.mark_streaming(provider="local", model="offline")
    live.start_stream(reply)
    reply.text = "The clip"  # what the database held at the last save
    reply.save(update_fields=["text"])
    live.push_chunk(reply, "The clip is ", 0)
    live.push_chunk(reply, "four seconds long 👍", streams.text_length("The clip is "))

    html = owner_client.get(reverse("chat:message", args=[conversation.uuid, reply.uuid])).content.decode()
    assert "The clip is four seconds long 👍" in html
    # The length as the browser counts it: the emoji is two UTF-16 units.
    assert _version(html, reply) == (reply.version, len("The clip is four seconds long ") + 2)
    thread = owner_client.get(conversation.get_absolute_url()).content.decode()
    assert "The clip is four seconds long 👍" in thread


def test_a_stranger_cannot_read_a_message(outsider_client, conversation):
    reply = Message.objects.create(conversation=conversation, role="assistant", status="pending")
    response = outsider_client.get(reverse("chat:message", args=[conversation.uuid, reply.uuid]))
    assert response.status_code == 404


def test_the_newest_messages_come_as_a_merge_fragment(owner_client, conversation, analysed_video):
    question, reply = services.message_send(conversation=conversation, text="How long?", videos=[])
    response = owner_client.get(f"{conversation.get_absolute_url()}?part=latest", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert f'id="conversation-{conversation.uuid}-messages" data-swap="append"' in html
    assert html.index(f'id="message-{question.uuid}"') < html.index(f'id="message-{reply.uuid}"')
    assert _version(html, reply) == (reply.version, 0)


def test_the_send_answer_is_a_merge_fragment_with_both_messages(owner_client, conversation):
    response = owner_client.post(
        reverse("chat:send", args=[conversation.uuid]), {"text": "How long is it?"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-swap="append"' in html
    assert html.count('class="chat-message') == 2


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_sent_message_and_its_placeholder_reach_every_open_page(
    owner_client, outsider_client, conversation
):
    mine, theirs = _socket(owner_client), _socket(outsider_client)
    try:
        assert (await mine.connect())[0]
        assert (await theirs.connect())[0]
        question, reply = await database_sync_to_async(services.message_send)(
            conversation=conversation, text="Is it loud?", videos=[]
        )
        received = await _drain(mine)
        assert await theirs.receive_nothing(timeout=0.3)
    finally:
        await mine.disconnect()
        await theirs.disconnect()
    appended = [html for html in received if 'data-swap="append"' in html]
    assert len(appended) == 1
    assert f'id="message-{question.uuid}"' in appended[0]
    assert f'id="message-{reply.uuid}"' in appended[0]
    assert '<div data-event="conversations-changed"></div>' in received


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_conversation_changes_tell_the_lists(owner_client, owner):
    socket = _socket(owner_client)
    try:
        assert (await socket.connect())[0]
        conversation = await database_sync_to_async(services.conversation_create)(owner=owner)
        await database_sync_to_async(services.conversation_rename)(conversation=conversation, title="Renamed")
        await database_sync_to_async(services.conversation_delete)(conversation=conversation)
        received = await _drain(socket)
    finally:
        await socket.disconnect()
    assert received.count('<div data-event="conversations-changed"></div>') == 3
    assert not await database_sync_to_async(Conversation.objects.exists)()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_retry_is_pushed_at_a_newer_version(owner_client, conversation):
    reply = await database_sync_to_async(Message.objects.create)(
        conversation=conversation, role="assistant", status="failed", failure_reason="down"
    )
    failed_version = reply.version
    socket = _socket(owner_client)
    try:
        assert (await socket.connect())[0]
        await database_sync_to_async(services.message_retry)(message=reply)
        received = await _drain(socket)
    finally:
        await socket.disconnect()
    pushed = [html for html in received if f'id="message-{reply.uuid}"' in html]
    assert len(pushed) == 1
    assert 'data-status="pending"' in pushed[0]
    assert _version(pushed[0], reply)[0] > failed_version


def test_the_stream_is_dropped_once_the_reply_is_complete(conversation, analysed_video):
    _question, reply = services.message_send(
        conversation=conversation, text="How long?", videos=[analysed_video]
    )
    assert jobs.write_reply(reply.pk) == "complete"
    reply.refresh_from_db()
    assert streams.streamed_text(reply) is None
    assert reply.text


def test_the_chat_list_reads_itself_again_on_its_first_page_only(owner_client, owner):
    Conversation.objects.create(owner=owner, title="a talk")
    first = owner_client.get(reverse("chat:list")).content.decode()
    assert 'hx-trigger="conversations-changed from:body, live-open from:body"' in first
    fragment = owner_client.get(reverse("chat:list"), HTTP_HX_REQUEST="true").content.decode()
    assert "a talk" in fragment
    assert "<html" not in fragment
