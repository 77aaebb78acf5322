"""API tokens on the profile page: made and shown once, stored hashed, listed, revoked; and in admin."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken
from accounts.tokens import token_create, user_for_token

pytestmark = pytest.mark.django_db
TOKEN = re.compile(rb'id="new-token-value">(vc_[\w-]+)<')


def make(client, name="backup script", **extra):
    return client.post(reverse("accounts:token-new"), {"name": name}, **extra)


def test_it_makes_a_token_and_shows_it_once(owner_client, owner):
    response = make(owner_client)
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    token = TOKEN.search(response.content).group(1).decode()
    row = ApiToken.objects.get(user=owner)
    assert row.name == "backup script"
    # Only its hash is kept, and the token is not on the page again.
    assert row.digest == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(ApiToken.objects.values_list().get())
    page = owner_client.get(reverse("accounts:profile"))
    assert token.encode() not in page.content
    assert b"backup script" in page.content
    assert row.hint.encode() in page.content
    assert user_for_token(token) == owner


def test_it_answers_htmx_with_the_tokens_section(owner_client):
    response = make(owner_client, headers={"HX-Request": "true"})
    assert response.status_code == 201
    assert response.content.lstrip().startswith(b'<div id="api-tokens-body">')
    assert TOKEN.search(response.content)


@pytest.mark.parametrize("name", ["", "   ", "x" * 81])
def test_it_needs_a_name(owner_client, name):
    response = make(owner_client, name)
    assert response.status_code == 400
    assert not ApiToken.objects.exists()
    assert not TOKEN.search(response.content)


def test_a_token_works_until_it_is_revoked(owner_client, owner):
    token = TOKEN.search(make(owner_client).content).group(1).decode()
    api = Client(headers={"Authorization": f"Bearer {token}"})
    assert api.get("/api/v1/videos").status_code == 200
    row = ApiToken.objects.get()
    assert row.last_used_at is not None
    response = owner_client.post(reverse("accounts:token-revoke", args=[row.pk]))
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.revoked_at is not None
    assert api.get("/api/v1/videos").status_code == 401
    page = owner_client.get(reverse("accounts:profile")).content.decode()
    assert "revoked" in page
    assert f'action="/accounts/profile/tokens/{row.pk}/revoke/"' not in page


def test_nobody_else_can_revoke_it(owner, outsider_client):
    row, _token = token_create(user=owner, name="mine")
    response = outsider_client.post(reverse("accounts:token-revoke", args=[row.pk]))
    assert response.status_code == 404
    row.refresh_from_db()
    assert row.revoked_at is None


def test_it_needs_login(client, owner):
    row, _ = token_create(user=owner, name="mine")
    assert make(client).status_code == 302
    assert client.post(reverse("accounts:token-revoke", args=[row.pk])).status_code == 302
    assert ApiToken.objects.count() == 1
    row.refresh_from_db()
    assert row.revoked_at is None


def test_tokens_are_not_mistaken_for_one_another(owner, outsider):
    _, mine = token_create(user=owner, name="a")
    _, theirs = token_create(user=outsider, name="b")
    assert (user_for_token(mine), user_for_token(theirs)) == (owner, outsider)
    for wrong in ("", "vc_", mine[:-1], mine + "x", theirs.upper(), "x" * 5000, "vc_\x00"):
        assert user_for_token(wrong) is None


def test_admin_lists_and_revokes_tokens(staff_client, owner):
    row, token = token_create(user=owner, name="ci deploy")
    page = staff_client.get(reverse("admin:accounts_apitoken_changelist"))
    assert page.status_code == 200
    assert b"ci deploy" in page.content
    assert owner.email.encode() in page.content
    assert token.encode() not in page.content
    assert staff_client.get(reverse("admin:accounts_apitoken_add")).status_code == 403
    staff_client.post(
        reverse("admin:accounts_apitoken_changelist"), {"action": "revoke", "_selected_action": [row.pk]}
    )
    row.refresh_from_db()
    assert row.revoked_at is not None
