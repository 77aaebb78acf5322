import pytest
from django.urls import reverse

from conftest import PASSWORD
from core.tests.test_outages import redis_down

SITE_LOGIN = reverse("accounts:login")
ADMIN_LOGIN = reverse("admin:login")
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


# --- its log-in form --------------------------------------------------------


def test_it_counts_log_ins_on_both_forms_against_one_limit(client, make_user, settings, login_counts):
    staff = make_user("staff@example.com", is_staff=True)
    settings.RATELIMIT_LOGIN_EMAIL = "3/h"
    for url in (SITE_LOGIN, SITE_LOGIN, ADMIN_LOGIN):
        client.post(url, {"username": staff.email, "password": "wrong"})
    # The fourth attempt is over the limit on either form, whichever the first three used.
    for url in (ADMIN_LOGIN, SITE_LOGIN):
        response = client.post(url, {"username": staff.email, "password": PASSWORD})
        assert response.status_code == 429
        assert "Too many log-in attempts for this account" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert login_counts() == [5, 5]


def test_it_limits_admin_log_ins_per_ip_across_emails(client, settings, login_counts):
    settings.RATELIMIT_LOGIN_IP = "4/h"
    statuses = [
        client.post(ADMIN_LOGIN, {"username": f"u{n}@example.com", "password": "x"}).status_code
        for n in range(5)
    ]
    assert statuses == [200, 200, 200, 200, 429]
    # One count per IP, one per email; the fifth attempt was stopped before its email counted.
    assert login_counts() == [1, 1, 1, 1, 5]


def test_it_is_not_offered_while_redis_is_down(client, make_user):
    staff = make_user("staff@example.com", is_staff=True)
    with redis_down():
        response = client.post(ADMIN_LOGIN, {"username": staff.email, "password": PASSWORD})
    assert response.status_code == 503
    assert "Logging in cannot be done right now." in response.content.decode()
    staff.refresh_from_db()
    assert staff.last_login is None
