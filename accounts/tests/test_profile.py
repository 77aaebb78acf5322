import pytest
from django.urls import reverse

from accounts.models import User
from conftest import PASSWORD

pytestmark = pytest.mark.django_db
NEW = "a whole new passphrase 77"


def test_it_needs_login(client):
    response = client.get(reverse("accounts:profile"))
    assert response.status_code == 302


def test_it_shows_both_forms(owner_client, owner):
    response = owner_client.get(reverse("accounts:profile"))
    assert response.status_code == 200
    assert b'id="password-form"' in response.content
    assert b'id="delete-form"' in response.content
    assert owner.email.encode() in response.content


def test_it_changes_the_password_and_keeps_the_session(owner_client, owner):
    response = owner_client.post(
        reverse("accounts:password-change"),
        {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW},
    )
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password(NEW)
    assert owner_client.get(reverse("accounts:profile")).status_code == 200


def test_it_refuses_a_wrong_old_password(owner_client, owner):
    response = owner_client.post(
        reverse("accounts:password-change"),
        {"old_password": "nope", "new_password1": NEW, "new_password2": NEW},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    assert b'id="password-form"' in response.content
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)


def test_it_deletes_the_account_with_the_password(owner_client, owner):
    response = owner_client.post(reverse("accounts:delete"), {"password": PASSWORD})
    assert response.status_code == 302
    assert not User.objects.filter(pk=owner.pk).exists()
    assert owner_client.get(reverse("accounts:profile")).status_code == 302


def test_it_keeps_the_account_with_a_wrong_password(owner_client, owner):
    response = owner_client.post(reverse("accounts:delete"), {"password": "wrong"})
    assert response.status_code == 400
    assert b"not your password" in response.content
    assert User.objects.filter(pk=owner.pk).exists()


def test_delete_refuses_get(owner_client):
    assert owner_client.get(reverse("accounts:delete")).status_code == 405
