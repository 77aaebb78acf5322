"""A script holding an API token opens /ws/events/ with it and hears only its own user's pushes."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.tokens import token_create, token_revoke
from core.consumers import CLOSE_UNAUTHENTICATED, apush_html

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def _socket(authorization: bytes | None) -> WebsocketCommunicator:
    from videochat.asgi import application

    headers = [(b"host", b"testserver"), (b"origin", b"http://testserver")]
    if authorization is not None:
        headers.append((b"authorization", authorization))
    return WebsocketCommunicator(application, "/ws/events/", headers=headers)


async def test_it_streams_a_tokens_own_users_pushes(owner, outsider):
    _, token = await sync_to_async(token_create)(user=owner, name="script")
    communicator = _socket(b"Bearer " + token.encode())
    try:
        connected, _ = await communicator.connect()
        assert connected
        await apush_html(outsider.pk, '<div id="theirs">no</div>')
        await apush_html(owner.pk, '<div id="mine">yes</div>')
        assert "mine" in await communicator.receive_from(timeout=5)
    finally:
        await communicator.disconnect()


@pytest.mark.parametrize("authorization", [b"Bearer vc_wrong", b"Basic abc", b"Bearer "])
async def test_it_refuses_a_wrong_token(authorization):
    communicator = _socket(authorization)
    try:
        await communicator.connect()
        assert (await communicator.receive_output(timeout=5))["code"] == CLOSE_UNAUTHENTICATED
    finally:
        await communicator.disconnect()


async def test_it_refuses_a_revoked_token(owner):
    row, token = await sync_to_async(token_create)(user=owner, name="script")
    await sync_to_async(token_revoke)(token=row)
    communicator = _socket(b"Bearer " + token.encode())
    try:
        await communicator.connect()
        assert (await communicator.receive_output(timeout=5))["code"] == CLOSE_UNAUTHENTICATED
    finally:
        await communicator.disconnect()
