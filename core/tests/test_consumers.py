"""The /ws/events/ socket: logged-in users only, one group per user, same origin."""

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from websockets.protocol import State
from websockets.sync.client import connect

from core.consumers import CLOSE_UNAUTHENTICATED, apush_html, push_html, user_group

pytestmark = pytest.mark.django_db(transaction=True)

# How long the idle tests leave a socket alone: a dozen of the channel layer's 5 s
# blocking reads, and three of Daphne's 20 s pings.
IDLE_SECONDS = 60
IDLE_STEP_SECONDS = 5
LATE_PUSH = '<div id="x" hx-swap-oob="true">after a minute</div>'


def _application():
    # Imported when a test runs, not when tests are collected: importing the ASGI
    # module patches Daphne and the database settings for the whole process.
    from videochat.asgi import application

    return application


def _headers(client=None, origin=b"http://testserver"):
    headers = [(b"origin", origin), (b"host", b"testserver")]
    if client is not None:
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    return headers


@pytest.mark.asyncio
async def test_it_delivers_pushes_to_the_user_only(owner_client, owner, outsider_client, outsider):
    mine = WebsocketCommunicator(_application(), "/ws/events/", headers=_headers(owner_client))
    theirs = WebsocketCommunicator(_application(), "/ws/events/", headers=_headers(outsider_client))
    try:
        assert (await mine.connect())[0]
        assert (await theirs.connect())[0]
        await apush_html(owner.pk, '<div id="x" hx-swap-oob="true">hello</div>')
        assert await mine.receive_from(timeout=5) == '<div id="x" hx-swap-oob="true">hello</div>'
        assert await theirs.receive_nothing(timeout=0.5)
    finally:
        await mine.disconnect()
        await theirs.disconnect()


@pytest.mark.asyncio
async def test_it_closes_an_anonymous_socket_with_a_clear_code():
    communicator = WebsocketCommunicator(_application(), "/ws/events/", headers=_headers())
    try:
        connected, _ = await communicator.connect()
        assert connected
        output = await communicator.receive_output(timeout=5)
        assert output == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}
    finally:
        await communicator.disconnect()


@pytest.mark.asyncio
async def test_it_refuses_a_foreign_origin(owner_client):
    communicator = WebsocketCommunicator(
        _application(), "/ws/events/", headers=_headers(owner_client, origin=b"https://evil.example")
    )
    try:
        connected, _code = await communicator.connect()
        assert not connected
    finally:
        await communicator.disconnect()


@pytest.mark.slow
@pytest.mark.asyncio
async def test_it_keeps_an_idle_socket_open_and_still_delivers(owner_client, owner):
    communicator = WebsocketCommunicator(_application(), "/ws/events/", headers=_headers(owner_client))
    try:
        assert (await communicator.connect())[0]
        for _ in range(IDLE_SECONDS // IDLE_STEP_SECONDS):
            # receive_nothing also re-raises what stopped the consumer, if it stopped.
            assert await communicator.receive_nothing(timeout=IDLE_STEP_SECONDS, interval=0.1)
        assert not communicator.future.done()
        await apush_html(owner.pk, LATE_PUSH)
        assert await communicator.receive_from(timeout=5) == LATE_PUSH
    finally:
        await communicator.disconnect()


@pytest.mark.slow
def test_it_keeps_an_idle_socket_open_through_daphne(live_server_url, owner_client, owner):
    cookie = owner_client.cookies[settings.SESSION_COOKIE_NAME].value
    with connect(
        live_server_url.replace("http://", "ws://", 1) + "/ws/events/",
        origin=live_server_url,
        additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"},
        # No pings of our own: Daphne's are the only frames an idle socket sees.
        ping_interval=None,
    ) as socket:
        for _ in range(IDLE_SECONDS // IDLE_STEP_SECONDS):
            # A closed socket raises ConnectionClosed here instead, with Daphne's close code.
            with pytest.raises(TimeoutError):
                socket.recv(timeout=IDLE_STEP_SECONDS)
        push_html(owner.pk, LATE_PUSH)
        assert socket.recv(timeout=5) == LATE_PUSH
        assert socket.state is State.OPEN


def test_group_names_are_built_from_ids_only():
    assert user_group(42) == "user.42"
