"""The chat pages and posts: state, limits, escaping, strangers."""

from __future__ import annotations

import django_rq
import pytest
from django.urls import reverse

from chat import cache, jobs, selectors
from chat.models import Conversation, Message
from chat.views import thread_cache_name

pytestmark = pytest.mark.django_db


def _send(client, conversation, text="How long is it?", videos=(), **extra):
    data = {"text": text}
    if videos:
        data["videos"] = [str(v.uuid) for v in videos]
    return client.post(reverse("chat:send", args=[conversation.uuid]), data, **extra)


def test_the_list_shows_own_conversations_newest_first(owner_client, owner, outsider):
    Conversation.objects.create(owner=owner, title="older one")
    Conversation.objects.create(owner=owner, title="newer one")
    Conversation.objects.create(owner=outsider, title="not yours")
    html = owner_client.get(reverse("chat:list")).content.decode()
    assert html.index("newer one") < html.index("older one")
    assert "not yours" not in html


def test_the_list_comes_in_pages(owner_client, owner, monkeypatch):
    monkeypatch.setattr(selectors, "CONVERSATIONS_PER_PAGE", 2)
    for n in range(3):
        Conversation.objects.create(owner=owner, title=f"talk {n}")
    first = owner_client.get(reverse("chat:list")).content.decode()
    assert "talk 2" in first
    assert "talk 1" in first
    assert "talk 0" not in first
    assert "Page 1 of 2" in first
    assert 'rel="next" href="?page=2"' in first
    second = owner_client.get(reverse("chat:list"), {"page": 2}).content.decode()
    assert "talk 0" in second
    assert "talk 1" not in second
    assert 'rel="prev" href="?page=1"' in second
    assert 'rel="next"' not in second


def test_new_starts_a_conversation(owner_client, owner):
    response = owner_client.post(reverse("chat:new"))
    conversation = Conversation.objects.get(owner=owner)
    assert response["Location"] == conversation.get_absolute_url()


def test_new_conversations_are_rate_limited_per_user(owner_client, owner, settings):
    settings.RATELIMIT_CONVERSATION_USER = "2/d"
    for _ in range(2):
        assert owner_client.post(reverse("chat:new")).status_code == 302
    response = owner_client.post(reverse("chat:new"))
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many new conversations" in response.content.decode()
    assert 'href="/chat/"' in response.content.decode()
    assert Conversation.objects.filter(owner=owner).count() == 2


def test_ask_about_a_video_starts_a_conversation_with_it_ticked(owner_client, owner, analysed_video):
    page = owner_client.get(analysed_video.get_absolute_url()).content.decode()
    assert f'name="video" value="{analysed_video.uuid}"' in page
    assert "Ask about this video" in page

    response = owner_client.post(reverse("chat:new"), {"video": str(analysed_video.uuid)})

    conversation = Conversation.objects.get(owner=owner)
    assert response["Location"] == f"{conversation.get_absolute_url()}?attach={analysed_video.uuid}"
    html = owner_client.get(response["Location"]).content.decode()
    assert '<details class="attach-picker" open>' in html
    assert f'value="{analysed_video.uuid}" checked>' in html


def test_ask_about_someone_else_s_video_ticks_nothing(owner_client, outsider_client, owner, analysed_video):
    response = outsider_client.post(reverse("chat:new"), {"video": str(analysed_video.uuid)})
    assert "attach" not in response["Location"]
    html = outsider_client.get(f"{response['Location']}?attach={analysed_video.uuid}").content.decode()
    assert str(analysed_video.uuid) not in html
    assert "holiday.mp4" not in html
    # A malformed id is just ignored.
    assert owner_client.post(reverse("chat:new"), {"video": "not-a-uuid"}).status_code == 302
    theirs = Conversation.objects.filter(owner=owner).get()
    assert owner_client.get(theirs.get_absolute_url(), {"attach": "not-a-uuid"}).status_code == 200


def test_send_saves_the_message_and_queues_the_reply(
    owner_client, conversation, analysed_video, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _send(owner_client, conversation, videos=[analysed_video], HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    question, reply = conversation.messages.order_by("created_at", "id")
    assert (question.role, question.text, question.status) == ("user", "How long is it?", "complete")
    assert list(question.videos.all()) == [analysed_video]
    assert (reply.role, reply.status, reply.reply_to_id) == ("assistant", "pending", question.pk)
    assert django_rq.get_queue("high").job_ids == [jobs.job_id(reply)]
    assert f'id="message-{reply.uuid}-stream"' in response.content.decode()


def test_send_without_videos_works_too(owner_client, conversation):
    _send(owner_client, conversation, text="hello")
    assert conversation.messages.count() == 2


def test_the_first_message_titles_an_untitled_conversation(owner_client, owner):
    conversation = Conversation.objects.create(owner=owner)
    _send(owner_client, conversation, text="What is the loudest moment in my clip?")
    conversation.refresh_from_db()
    assert conversation.title == "What is the loudest moment in my clip?"


def test_send_refuses_an_empty_message(owner_client, conversation):
    response = _send(owner_client, conversation, text="   ", HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert b"Write a message or attach a video." in response.content
    assert not conversation.messages.exists()


def test_send_caps_the_length(owner_client, conversation, settings):
    settings.CHAT_MAX_MESSAGE_CHARS = 50
    response = _send(owner_client, conversation, text="x" * 51, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert b"the limit is 50" in response.content
    assert not conversation.messages.exists()


def test_send_caps_the_attachments(owner_client, owner, conversation, settings, analysed_video):
    from analysis.models import Video

    settings.CHAT_MAX_ATTACHMENTS = 1
    second = Video.objects.create(
        owner=owner, original_name="b.mp4", file="videos/b.mp4", size=1, sha256="b" * 64, container="mp4"
    )
    response = _send(owner_client, conversation, videos=[analysed_video, second], HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert b"at most 1 videos" in response.content
    assert not conversation.messages.exists()


def test_send_refuses_a_strangers_video(outsider_client, outsider, analysed_video):
    theirs = Conversation.objects.create(owner=outsider)
    response = _send(outsider_client, theirs, videos=[analysed_video], HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert b"not one of yours" in response.content
    assert not theirs.messages.exists()


def test_send_is_rate_limited_per_user(owner_client, conversation, settings):
    settings.RATELIMIT_CHAT_USER = "2/d"
    assert _send(owner_client, conversation).status_code == 302
    assert _send(owner_client, conversation).status_code == 302
    response = _send(owner_client, conversation, HTTP_HX_REQUEST="true")
    assert response.status_code == 429
    assert b"Too many messages in a short time" in response.content
    assert conversation.messages.filter(role="user").count() == 2


def test_a_retry_asks_for_a_reply_so_it_counts_against_the_same_limit(owner_client, conversation, settings):
    settings.RATELIMIT_CHAT_USER = "1/d"
    question = Message.objects.create(conversation=conversation, role="user", text="How long is it?")
    reply = Message.objects.create(
        conversation=conversation, role="assistant", status="failed", reply_to=question, failure_reason="boom"
    )
    assert _send(owner_client, conversation).status_code == 302

    response = owner_client.post(
        reverse("chat:retry", args=[conversation.uuid, reply.uuid]), HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    html = response.content.decode()
    assert "Too many messages in a short time" in html
    # The way back is the thread (the retry URL itself only takes posts).
    assert f'href="{conversation.get_absolute_url()}"' in html
    reply.refresh_from_db()
    assert reply.status == "failed"  # still there, still retryable later


@pytest.mark.parametrize("name", ["chat:thread", "chat:older"])
def test_a_stranger_gets_404_for_pages(outsider_client, conversation, name):
    assert outsider_client.get(reverse(name, args=[conversation.uuid])).status_code == 404


def test_a_stranger_gets_404_for_every_post(outsider_client, conversation, analysed_video):
    reply = Message.objects.create(conversation=conversation, role="assistant", status="failed")
    for url in (
        reverse("chat:send", args=[conversation.uuid]),
        reverse("chat:rename", args=[conversation.uuid]),
        reverse("chat:delete", args=[conversation.uuid]),
        reverse("chat:retry", args=[conversation.uuid, reply.uuid]),
    ):
        assert outsider_client.post(url, {"text": "hi", "title": "mine now"}).status_code == 404, url
    conversation.refresh_from_db()
    assert conversation.title == "About my clip"
    assert conversation.messages.count() == 1


def test_anonymous_is_sent_to_log_in(client, conversation):
    response = client.get(reverse("chat:thread", args=[conversation.uuid]))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_text_titles_and_file_names_are_escaped(owner_client, owner, conversation, analysed_video):
    analysed_video.original_name = "<script>alert('name')</script>.mp4"
    analysed_video.save()
    conversation.title = "<script>alert('title')</script>"
    conversation.save()
    _send(owner_client, conversation, text="<script>alert('text')</script>", videos=[analysed_video])
    html = owner_client.get(reverse("chat:thread", args=[conversation.uuid])).content.decode()
    assert "<script>alert(" not in html
    assert "&lt;script&gt;alert(&#x27;text&#x27;)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(&#x27;name&#x27;)" in html


def test_the_thread_is_read_from_the_cache_and_invalidated_on_write(
    owner_client, owner, conversation, redis_client
):
    url = reverse("chat:thread", args=[conversation.uuid])
    owner_client.get(url)
    key = cache.raw_key(owner.pk, thread_cache_name(conversation.uuid, owner.pk))
    assert redis_client.exists(key)
    # A row changed behind the cache's back is not seen: the page comes from Redis.
    Message.objects.create(conversation=conversation, role="user", text="sneaked in")
    assert "sneaked in" not in owner_client.get(url).content.decode()
    # A write through the app bumps the version: the next read rebuilds.
    _send(owner_client, conversation, text="hello again")
    assert cache.raw_key(owner.pk, thread_cache_name(conversation.uuid, owner.pk)) != key
    html = owner_client.get(url).content.decode()
    assert "sneaked in" in html
    assert "hello again" in html


def test_a_long_thread_loads_older_messages(owner_client, conversation, settings):
    settings.CHAT_PAGE_SIZE = 5
    for n in range(12):
        Message.objects.create(conversation=conversation, role="user", text=f"message number {n:02d}")
    html = owner_client.get(reverse("chat:thread", args=[conversation.uuid])).content.decode()
    assert "message number 11" in html
    assert "message number 06" not in html
    first_shown = conversation.messages.get(text="message number 07")
    older = owner_client.get(reverse("chat:older", args=[conversation.uuid]), {"before": first_shown.uuid})
    body = older.content.decode()
    assert "message number 02" in body
    assert "message number 06" in body
    assert "message number 07" not in body
    assert "message number 01" not in body
    assert 'hx-trigger="intersect once"' in body  # there is more above


@pytest.mark.parametrize("before", ["zzz", "ab\x00cd", "-1", ""])
def test_older_messages_before_a_malformed_id_are_a_404(owner_client, conversation, redis_client, before):
    """Not a 500: the id is parsed before it is looked up (it was a ValidationError)."""
    Message.objects.create(conversation=conversation, role="user", text="the only one")
    response = owner_client.get(reverse("chat:older", args=[conversation.uuid]), {"before": before})
    assert response.status_code == 404
    assert not redis_client.keys("*:before:*")  # no page was built for it


def test_a_malformed_video_to_attach_is_ignored(owner_client, conversation):
    response = owner_client.get(reverse("chat:thread", args=[conversation.uuid]), {"attach": "ab\x00cd"})
    assert response.status_code == 200
    assert "preselected" not in response.context


def test_rename_and_delete(owner_client, conversation):
    owner_client.post(reverse("chat:rename", args=[conversation.uuid]), {"title": "Renamed"})
    conversation.refresh_from_db()
    assert conversation.title == "Renamed"
    owner_client.post(reverse("chat:delete", args=[conversation.uuid]))
    assert not Conversation.objects.filter(pk=conversation.pk).exists()


def test_a_change_to_a_video_refreshes_the_cached_thread(owner_client, owner, conversation, analysed_video):
    from analysis import cache as video_cache

    _send(owner_client, conversation, videos=[analysed_video])
    url = reverse("chat:thread", args=[conversation.uuid])
    assert 'data-status="done"' in owner_client.get(url).content.decode()
    analysed_video.mark_failed("the file stops before the video ends")
    video_cache.bump(owner.pk)  # what every change to a video does
    html = owner_client.get(url).content.decode()
    assert "the file stops before the video ends" in html
