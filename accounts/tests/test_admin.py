import pytest

pytestmark = pytest.mark.django_db


def test_it_lists_and_searches_users(staff_client, owner, outsider):
    response = staff_client.get("/admin/accounts/user/", {"q": "owner@"})
    assert response.status_code == 200
    assert b"owner@example.com" in response.content
    assert b"outsider@example.com" not in response.content


def test_it_filters_by_staff(staff_client, owner):
    response = staff_client.get("/admin/accounts/user/", {"is_staff__exact": "1"})
    assert b"staff@example.com" in response.content
    assert b"owner@example.com" not in response.content


def test_it_adds_a_user(staff_client):
    from accounts.models import User

    pw = "admin made password 99"
    response = staff_client.post(
        "/admin/accounts/user/add/",
        {"email": "made@example.com", "password1": pw, "password2": pw, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content[:2000]
    assert User.objects.get(email="made@example.com").check_password(pw)


def test_it_is_closed_to_non_staff(owner_client):
    response = owner_client.get("/admin/accounts/user/")
    assert response.status_code == 302
