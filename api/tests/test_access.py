"""Who may call each endpoint: the owner (by token or session), a stranger, nobody, a revoked token.

Every operation of the schema is in ENDPOINTS (a test fails for one that is
not), and each is called as each persona; a stranger's ids are a 404 exactly
as ids that do not exist.
"""

from __future__ import annotations

import json
import uuid

import pytest

from accounts.models import ApiToken
from analysis.models import Video
from api.main import api as ninja_api
from chat.models import Conversation, Message

pytestmark = pytest.mark.django_db

# (method, path with {video}, {conversation}, {message}, {reply} ids, JSON body or "upload", the owner's status)
ENDPOINTS = [
    ("GET", "/api/v1/videos", None, 200),
    ("POST", "/api/v1/videos", "upload", 201),
    ("GET", "/api/v1/videos/{video}", None, 200),
    ("DELETE", "/api/v1/videos/{video}", None, 204),
    ("GET", "/api/v1/videos/{video}/transcript", None, 200),
    ("POST", "/api/v1/videos/{video}/reanalyse", None, 202),
    ("GET", "/api/v1/search?q=holiday", None, 200),
    ("GET", "/api/v1/conversations", None, 200),
    ("POST", "/api/v1/conversations", {"title": "Scripted"}, 201),
    ("GET", "/api/v1/conversations/{conversation}", None, 200),
    ("PATCH", "/api/v1/conversations/{conversation}", {"title": "Renamed"}, 200),
    ("DELETE", "/api/v1/conversations/{conversation}", None, 204),
    ("GET", "/api/v1/conversations/{conversation}/messages", None, 200),
    ("POST", "/api/v1/conversations/{conversation}/messages", {"text": "How long is it?"}, 201),
    ("GET", "/api/v1/conversations/{conversation}/messages/{message}", None, 200),
    ("POST", "/api/v1/conversations/{conversation}/messages/{reply}/retry", None, 202),
]
OBJECT_ENDPOINTS = [e for e in ENDPOINTS if "{" in e[1]]
IDS = ["{} {}".format(*e[:2]) for e in ENDPOINTS]


def call(client, method, path, body, world, *, clip=None, **extra):
    url = path.format(
        video=world["video"].uuid,
        conversation=world["conversation"].uuid,
        message=world["question"].uuid,
        reply=world["reply"].uuid,
    )
    if body == "upload":
        from django.core.files.uploadedfile import SimpleUploadedFile

        return client.post(url, {"files": [SimpleUploadedFile("new.mp4", clip or b"x")]}, **extra)
    if body is not None:
        return client.generic(method, url, json.dumps(body), content_type="application/json", **extra)
    return client.generic(method, url, **extra)


@pytest.fixture
def other_clip(clips):
    return clips["other"].path.read_bytes()


def test_every_operation_of_the_schema_is_checked():
    schema = ninja_api.get_openapi_schema()
    operations = {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method != "parameters"
    }
    checked = {
        (
            method,
            path.split("?")[0]
            .replace("{video}", "{video_id}")
            .replace("{conversation}", "{conversation_id}"),
        )
        for method, path, _body, _status in ENDPOINTS
    }
    checked = {
        (m, p.replace("{message}", "{message_id}").replace("{reply}", "{message_id}")) for m, p in checked
    }
    assert operations == checked


@pytest.mark.parametrize(("method", "path", "body", "status"), ENDPOINTS, ids=IDS)
def test_it_serves_the_owner_by_token(api, world, other_clip, method, path, body, status):
    response = call(api, method, path, body, world, clip=other_clip)
    assert response.status_code == status, response.content


@pytest.mark.parametrize(("method", "path", "body", "status"), ENDPOINTS, ids=IDS)
def test_it_serves_the_owner_by_session_with_csrf(session_api, world, other_clip, method, path, body, status):
    csrf = session_api.cookies["csrftoken"].value
    response = call(session_api, method, path, body, world, clip=other_clip, headers={"X-CSRFToken": csrf})
    assert response.status_code == status, response.content


@pytest.mark.parametrize(("method", "path", "body", "status"), [e for e in ENDPOINTS if e[0] != "GET"])
def test_it_refuses_a_session_without_csrf_on_writes(
    session_api, world, other_clip, method, path, body, status
):
    counts = (Video.objects.count(), Conversation.objects.count(), Message.objects.count())
    response = call(session_api, method, path, body, world, clip=other_clip)
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert (Video.objects.count(), Conversation.objects.count(), Message.objects.count()) == counts


@pytest.mark.parametrize(("method", "path", "body", "status"), ENDPOINTS, ids=IDS)
def test_it_refuses_anonymous(anonymous_api, world, method, path, body, status):
    response = call(anonymous_api, method, path, body, world)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert "Authorization: Bearer" in response.json()["error"]


@pytest.mark.parametrize(("method", "path", "body", "status"), ENDPOINTS, ids=IDS)
def test_it_refuses_a_revoked_token_even_beside_a_session(
    revoked_api, owner, world, method, path, body, status
):
    revoked_api.force_login(owner)
    response = call(revoked_api, method, path, body, world)
    assert response.status_code == 401
    assert response.json()["code"] == "bad_token"


@pytest.mark.parametrize(
    ("method", "path", "body", "status"), OBJECT_ENDPOINTS, ids=[" ".join(e[:2]) for e in OBJECT_ENDPOINTS]
)
def test_a_strangers_objects_are_404_like_none_at_all(stranger_api, api, world, method, path, body, status):
    before = (
        Video.objects.count(),
        Conversation.objects.count(),
        Message.objects.count(),
        world["video"].version,
    )
    stranger = call(stranger_api, method, path, body, world)
    assert stranger.status_code == 404
    assert stranger.json()["code"] == "not_found"
    nobody = {
        k: type(v).objects.model(uuid=uuid.uuid4()) if hasattr(v, "uuid") else v for k, v in world.items()
    }
    unknown = call(api, method, path, body, nobody)
    assert unknown.status_code == 404
    assert unknown.json()["code"] == stranger.json()["code"]
    world["video"].refresh_from_db()
    after = (
        Video.objects.count(),
        Conversation.objects.count(),
        Message.objects.count(),
        world["video"].version,
    )
    assert after == before


def test_a_token_records_when_it_was_last_used(api, owner):
    token = ApiToken.objects.get(user=owner)
    assert token.last_used_at is None
    assert api.get("/api/v1/videos").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_wrong_authorization_scheme_is_refused(world):
    from django.test import Client

    response = Client(headers={"Authorization": "Basic b3duZXI6cHc="}).get("/api/v1/videos")
    assert response.status_code == 401
    assert response.json()["code"] == "bad_token"


def test_a_deactivated_users_token_stops_working(api, owner):
    owner.is_active = False
    owner.save()
    assert api.get("/api/v1/videos").status_code == 401
