"""The live socket's keep-alive: the page's ping is answered."""

import pytest

from chat.tests.test_replies import _socket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.asyncio
async def test_it_answers_a_ping_with_a_pong(owner_client):
    socket = _socket(owner_client)
    try:
        assert (await socket.connect())[0]
        await socket.send_to(text_data="ping")
        assert await socket.receive_from(timeout=5) == "pong"
        await socket.send_to(text_data="anything else")
        assert await socket.receive_nothing(timeout=0.3)
    finally:
        await socket.disconnect()
