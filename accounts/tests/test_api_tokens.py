"""API tokens on the profile page: made and shown once, stored hashed, listed, revoked; and in admin."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
import redis
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts import tokens
from accounts.models import ApiToken
from accounts.tokens import token_create, token_revoke, user_for_token
from core.tests.test_outages import redis_down

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
    assert user_for_token(token) == owner  # cached from here on
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
    assert user_for_token(token) is None


# Tokens are cached in Redis (accounts/tokens.py): what changes them must still count at once.


def cached_entry(token: str):
    return cache.get(tokens._cache_key(tokens._digest(token)))


def test_a_used_token_is_read_from_the_cache_without_its_password_hash(owner, django_assert_num_queries):
    _, token = token_create(user=owner, name="script")
    assert user_for_token(token) == owner
    assert "password" not in cached_entry(token).__dict__
    with django_assert_num_queries(0):
        assert user_for_token(token) == owner


def test_a_revoked_token_is_refused_at_once_though_tokens_are_cached(owner_client, owner):
    token = TOKEN.search(make(owner_client).content).group(1).decode()
    api = Client(headers={"Authorization": f"Bearer {token}"})
    assert api.get("/api/v1/videos").status_code == 200
    assert cached_entry(token) == owner
    owner_client.post(reverse("accounts:token-revoke", args=[ApiToken.objects.get().pk]))
    assert api.get("/api/v1/videos").status_code == 401
    assert api.get("/api/v1/videos").status_code == 401


def test_a_request_that_read_the_token_just_before_its_revoke_cannot_cache_it(owner, monkeypatch):
    row, token = token_create(user=owner, name="script")
    remember = tokens._remember

    def revoked_meanwhile(digest, read_row):
        token_revoke(token=ApiToken.objects.get(pk=row.pk))
        remember(digest, read_row)

    monkeypatch.setattr(tokens, "_remember", revoked_meanwhile)
    assert user_for_token(token) == owner  # it read the row while the token was active
    monkeypatch.setattr(tokens, "_remember", remember)
    assert user_for_token(token) is None


def test_a_deleted_token_or_user_is_refused_at_once(owner, outsider):
    row, token = token_create(user=owner, name="script")
    _, theirs = token_create(user=outsider, name="theirs")
    assert (user_for_token(token), user_for_token(theirs)) == (owner, outsider)
    row.delete()
    outsider.delete()
    assert (user_for_token(token), user_for_token(theirs)) == (None, None)


def test_a_change_to_the_user_is_seen_at_once(owner):
    _, token = token_create(user=owner, name="script")
    assert user_for_token(token).is_staff is False
    owner.is_staff = True
    owner.save()
    assert user_for_token(token).is_staff is True
    owner.is_active = False
    owner.save()
    assert user_for_token(token) is None


def test_its_use_is_still_written_once_a_minute(owner, redis_client):
    row, token = token_create(user=owner, name="script")
    user_for_token(token)
    row.refresh_from_db()
    first = row.last_used_at
    # The entry lasts until the next write is due, so a hit never has to check.
    assert 0 < redis_client.ttl(cache.make_key(tokens._cache_key(row.digest))) <= 60
    user_for_token(token)
    row.refresh_from_db()
    assert row.last_used_at == first
    # A minute on, the entry is gone and the next use is written again.
    ApiToken.objects.filter(pk=row.pk).update(last_used_at=first - timedelta(minutes=2))
    cache.delete(tokens._cache_key(row.digest))
    user_for_token(token)
    row.refresh_from_db()
    assert row.last_used_at > first


def test_a_check_that_does_not_note_the_use_caches_only_a_recent_one(owner):
    _, token = token_create(user=owner, name="script")
    assert user_for_token(token, touch=False) == owner
    assert cached_entry(token) is None
    assert ApiToken.objects.get().last_used_at is None


def test_while_redis_is_away_the_database_answers_and_a_revoke_fails(owner):
    row, token = token_create(user=owner, name="script")
    with redis_down():
        assert user_for_token(token) == owner
        with pytest.raises(redis.exceptions.ConnectionError):
            token_revoke(token=row)
    row.refresh_from_db()
    assert row.revoked_at is None  # undone, rather than left working from the cache
