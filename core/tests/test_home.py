"""The home page: a welcome for visitors, the latest videos and conversations for a user."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from analysis.models import Video
from chat.models import Conversation

pytestmark = pytest.mark.django_db


def _video(owner, name: str, *, minutes_ago: int = 0, **fields) -> Video:
    return Video.objects.create(
        owner=owner,
        original_name=name,
        file=f"videos/{name}/source.mp4",
        size=1000,
        sha256=name.encode().hex().ljust(64, "0")[:64],
        container="mp4",
        created_at=timezone.now() - timedelta(minutes=minutes_ago),
        **fields,
    )


def test_a_visitor_is_invited_to_sign_up(client):
    html = client.get("/").content.decode()
    assert "Create an account" in html
    assert "Your latest videos" not in html


def test_a_user_sees_their_latest_videos_and_conversations(owner_client, owner, outsider):
    for n in range(5):
        _video(owner, f"clip-{n}.mp4", minutes_ago=10 - n)
    _video(owner, "old.mp4", minutes_ago=20, status=Video.Status.FAILED, failure_reason="It broke.")
    _video(outsider, "not-mine.mp4")
    Conversation.objects.create(owner=owner, title="About the beach")
    Conversation.objects.create(owner=outsider, title="Their talk")

    html = owner_client.get("/").content.decode()

    assert "Welcome back" in html
    # The four newest, newest first, each with its live status badge; a link to all six.
    shown = [f"clip-{n}.mp4" for n in (4, 3, 2, 1)]
    assert all(name in html for name in shown)
    assert [html.index(name) for name in shown] == sorted(html.index(name) for name in shown)
    assert "clip-0.mp4" not in html
    assert "All 6 videos" in html
    assert html.count('class="video-status') == 4
    assert "About the beach" in html
    assert "All 1 conversations" not in html  # every one is shown already
    assert "not-mine.mp4" not in html
    assert "Their talk" not in html
    assert 'action="/chat/new/"' in html


def test_a_new_user_gets_the_ways_to_start(owner_client):
    html = owner_client.get("/").content.decode()
    assert "No videos yet." in html
    assert "No conversations yet." in html
    assert "Upload videos" in html


def test_names_are_escaped(owner_client, owner):
    _video(owner, "<script>alert(1)</script>.mp4")
    Conversation.objects.create(owner=owner, title="<img src=x onerror=alert(1)>")
    html = owner_client.get("/").content.decode()
    assert "<script>alert(1)" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;" in html
