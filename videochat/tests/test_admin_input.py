"""The admin refuses malformed ids, filters and choices its own way (core/admin_input.py)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from chat.models import Conversation, Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(owner):
    return Conversation.objects.create(owner=owner, title="About my clip")


def test_an_empty_to_field_means_the_primary_key(staff_client, conversation):
    # Django asked the model for a field named "" (FieldDoesNotExist, a 500).
    url = f"/admin/chat/conversation/{conversation.pk}/change/"
    response = staff_client.get(url, {"_to_field": ""})
    assert response.status_code == 200
    assert response.context["original"] == conversation
    response = staff_client.post(
        f"/admin/chat/conversation/{conversation.pk}/delete/?_to_field=", {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Conversation.objects.filter(pk=conversation.pk).exists()


def test_the_groups_admin_takes_an_empty_to_field_too(staff_client):
    group = Group.objects.create(name="editors")
    response = staff_client.get(f"/admin/auth/group/{group.pk}/change/", {"_to_field": ""})
    assert response.status_code == 200
    assert response.context["original"] == group


@pytest.mark.parametrize(
    ("url", "params"),
    [
        # PostgreSQL refuses a NUL in the text it is sent (a DataError when the list is read).
        ("/admin/chat/message/", {"status__exact": "ab\x00cd"}),
        ("/admin/chat/message/", {"provider": "\x00"}),
        # A year past datetime's: Django turned a ValueError into "?e=1", not this OverflowError.
        ("/admin/analysis/video/", {"created_at__year": "99999999999999999999"}),
    ],
)
def test_a_malformed_filter_is_the_admins_bad_lookup_page(staff_client, url, params):
    response = staff_client.get(url, params)
    assert response.status_code == 302
    assert response["Location"] == f"{url}?e=1"


def test_a_many_to_many_choice_past_the_database_integers_is_a_form_error(staff_client, conversation):
    # SQLite's driver cannot send such an integer at all (OverflowError); PostgreSQL finds no row.
    response = staff_client.post(
        "/admin/chat/message/add/",
        {
            "conversation": conversation.pk,
            "role": "user",
            "kind": "reply",
            "status": "complete",
            "version": 1,
            "attempts": 0,
            "videos": "99999999999999999999",
        },
    )
    assert response.status_code == 200
    assert "videos" in response.context["adminform"].form.errors
    assert not Message.objects.exists()
