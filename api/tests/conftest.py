"""Fixtures for the API: tokens, clients that send them, and the owner's and a stranger's objects."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.tokens import token_create, token_revoke
from analysis.models import OnscreenTextSpan, TranscriptSegment
from analysis.tests.conftest import make_video  # noqa: F401 (a fixture)
from analysis.tests.test_pages import make_analysis
from chat.models import Conversation, Message


def token_client(token: str | None) -> Client:
    """A client that sends this token (or none) and no session."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return Client(headers=headers)


@pytest.fixture(autouse=True)
def storage(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "uploads")
    (tmp_path / "uploads").mkdir()
    yield tmp_path / "media"
    assert list((tmp_path / "uploads").iterdir()) == [], "a temporary upload file was left behind"


@pytest.fixture
def owner_token(owner) -> str:
    return token_create(user=owner, name="script")[1]


@pytest.fixture
def api(owner_token) -> Client:
    """The owner, by token."""
    return token_client(owner_token)


@pytest.fixture
def stranger_api(outsider) -> Client:
    return token_client(token_create(user=outsider, name="theirs")[1])


@pytest.fixture
def anonymous_api() -> Client:
    return token_client(None)


@pytest.fixture
def revoked_api(owner) -> Client:
    row, token = token_create(user=owner, name="old")
    token_revoke(token=row)
    return token_client(token)


@pytest.fixture
def session_api(owner) -> Client:
    """The owner's browser session, with the CSRF checks a browser gets."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    client.get("/accounts/profile/")  # the page sets the CSRF cookie
    return client


@pytest.fixture
def world(owner, clips, make_video):  # noqa: F811 (the fixture imported above)
    """The owner's analysed video with a transcript and on-screen text, and a conversation with a failed reply."""
    video = make_video(owner, clips["short"].path, name="holiday.mp4")
    analysis = make_analysis(video)
    TranscriptSegment.objects.create(analysis=analysis, start=0.0, end=2.0, text="hello holiday words")
    OnscreenTextSpan.objects.create(analysis=analysis, start=1.0, end=3.5, text="Welcome slide", height=0.1)
    video.mark_done()
    conversation = Conversation.objects.create(owner=owner, title="About my clip")
    question = Message.objects.create(conversation=conversation, role=Message.Role.USER, text="How long?")
    question.videos.add(video)
    reply = Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        reply_to=question,
        status=Message.Status.FAILED,
        failure_reason="the assistant was away",
    )
    return {
        "video": video,
        "analysis": analysis,
        "conversation": conversation,
        "question": question,
        "reply": reply,
    }
