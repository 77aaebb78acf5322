import pytest

from chat.models import Conversation, Message

pytestmark = pytest.mark.django_db


def test_it_searches_messages_by_text_and_owner(staff_client, owner, outsider):
    mine = Conversation.objects.create(owner=owner, title="mine")
    theirs = Conversation.objects.create(owner=outsider, title="theirs")
    Message.objects.create(conversation=mine, role="user", text="where is the zebra")
    Message.objects.create(conversation=theirs, role="user", text="where is the lion")
    body = staff_client.get("/admin/chat/message/", {"q": "zebra"}).content.decode()
    assert "where is the zebra" in body
    assert "lion" not in body
    body = staff_client.get("/admin/chat/message/", {"q": "outsider@"}).content.decode()
    assert "lion" in body
    assert "zebra" not in body


def test_it_filters_by_status_and_provider(staff_client, owner):
    conversation = Conversation.objects.create(owner=owner)
    Message.objects.create(conversation=conversation, role="assistant", text="ok reply", provider="local")
    Message.objects.create(conversation=conversation, role="assistant", text="broken reply", status="failed")
    body = staff_client.get("/admin/chat/message/", {"status__exact": "failed"}).content.decode()
    assert "broken reply" in body
    assert "ok reply" not in body
    body = staff_client.get("/admin/chat/message/", {"provider": "local"}).content.decode()
    assert "ok reply" in body


def test_the_conversation_page_shows_its_messages(staff_client, owner):
    conversation = Conversation.objects.create(owner=owner, title="a chat")
    Message.objects.create(conversation=conversation, role="user", text="first question")
    body = staff_client.get(f"/admin/chat/conversation/{conversation.pk}/change/").content.decode()
    assert "first question" in body
