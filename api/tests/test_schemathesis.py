"""Schemathesis against a live server: every operation of our own schema, with generated requests.

Each operation gets requests that fit the schema and requests that do not,
sent with the owner's token. Every answer must be below 500 and conform to
the schema (status, content type, headers, body). A request whose path
names objects is sent three ways: as generated (unknown ids: a 404), with
the owner's own ids (so the generated query and body reach the view), and
with a stranger's ids, which must be a 404 that changes nothing.
"""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.tokens import token_create
from analysis.models import Analysis, TranscriptSegment, Video
from chat.models import Conversation, Message
from testkit.live import daphne_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Examples per operation and generation mode: enough to find what breaks, few enough for a few minutes.
MAX_EXAMPLES = 40
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# The server counts nothing against the pages' rate limits here: the examples would soon all be 429s.
UNLIMITED = {
    name: "1000000/m"
    for name in (
        "RATELIMIT_UPLOAD_USER",
        "RATELIMIT_REANALYSE_USER",
        "RATELIMIT_SEARCH_USER",
        "RATELIMIT_CHAT_USER",
        "RATELIMIT_CONVERSATION_USER",
    )
}
KINDS = {"video_id": "video", "conversation_id": "conversation", "message_id": "message"}


class Objects:
    """One user's token and objects; those a DELETE may take are made afresh for each request."""

    def __init__(self, user) -> None:
        self.user = user
        self.token = token_create(user=user, name="schemathesis")[1]
        self.video = self.new_video()
        analysis = Analysis.objects.create(
            video=self.video,
            analyzer="local",
            analyzer_version="1.0",
            metadata={"duration": 4.0, "width": 320, "height": 180},
            scenes=[{"index": 1, "start": 0.0, "end": 4.0, "thumbnail": ""}],
            wall_time=0.5,
        )
        TranscriptSegment.objects.create(analysis=analysis, start=0.0, end=2.0, text="hello holiday words")
        self.conversation = Conversation.objects.create(owner=user, title="About my clip")
        question = Message.objects.create(conversation=self.conversation, role="user", text="How long?")
        self.reply = Message.objects.create(
            conversation=self.conversation, role="assistant", reply_to=question, status="failed"
        )

    def new_video(self) -> Video:
        video = Video.objects.create(
            owner=self.user,
            original_name="holiday.mp4",
            file=f"videos/{uuid.uuid4().hex}/source.mp4",
            size=1000,
            sha256=uuid.uuid4().hex * 2,
            container="mp4",
            status=Video.Status.DONE,
        )
        return video

    def ids(self, method: str, names) -> dict[str, str]:
        if method == "DELETE":
            objects = {
                "video": self.new_video(),
                "conversation": Conversation.objects.create(owner=self.user),
            }
        else:
            objects = {"video": self.video, "conversation": self.conversation}
        objects["message"] = self.reply
        return {name: str(objects[KINDS[name]].uuid) for name in names}


def _counts() -> tuple[int, ...]:
    return Video.objects.count(), Conversation.objects.count(), Message.objects.count()


def test_every_operation_keeps_to_the_schema(make_user):
    owner = Objects(make_user("owner@example.com"))
    stranger = Objects(make_user("stranger@example.com"))
    examples: Counter[str] = Counter()
    with daphne_server(**UNLIMITED) as base_url:
        schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) == 16
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                explore(operation, mode, base_url, owner, stranger, examples)
    total = sum(examples.values())
    print(f"\nschemathesis: {len(operations)} operations, {total} examples generated, 0 failures")
    assert set(examples) == {operation.label for operation in operations}


def explore(operation, mode, base_url: str, owner: Objects, stranger: Objects, examples: Counter) -> None:
    """Send MAX_EXAMPLES generated requests of one operation (as the owner) and check each answer."""
    headers = {"Authorization": f"Bearer {owner.token}"}
    names = [p.name for p in operation.path_parameters]
    checks = [*CHECKS, negative_data_rejection] if mode.is_negative else [*CHECKS, ignored_auth]

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:
        examples[operation.label] += 1
        case.call_and_validate(base_url=base_url, headers=headers, checks=checks)
        if not names or mode.is_negative:
            return
        method = case.method.upper()
        case.path_parameters.update(owner.ids(method, names))
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)
        # The stranger's ids, asked for by the owner: a 404 that changes nothing.
        case.path_parameters.update(stranger.ids(method, names))
        before = _counts()
        response = case.call(base_url=base_url, headers=headers)
        assert response.status_code == 404, (method, case.formatted_path, response.text)
        assert response.json()["code"] == "not_found"
        assert _counts() == before

    run()
