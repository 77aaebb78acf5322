import pytest
from django.urls import reverse

from conftest import PASSWORD

URL = reverse("accounts:login")
ADMIN_URL = reverse("admin:login")
pytestmark = pytest.mark.django_db


def test_it_logs_in_without_regard_to_email_case(client, owner):
    response = client.post(URL, {"username": "Owner@EXAMPLE.com", "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(owner.pk)


def test_it_shows_an_error_for_a_wrong_password(client, owner):
    response = client.post(URL, {"username": owner.email, "password": "wrong"})
    assert response.status_code == 400
    assert b"do not match an account" in response.content
    assert "_auth_user_id" not in client.session


def test_it_follows_a_safe_next(client, owner):
    response = client.post(URL, {"username": owner.email, "password": PASSWORD, "next": "/accounts/profile/"})
    assert response["Location"] == "/accounts/profile/"


def test_it_ignores_an_offsite_next(client, owner):
    response = client.post(
        URL, {"username": owner.email, "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


@pytest.mark.parametrize("next_url", ["zzz", "profile", "ab\x00cd"])
def test_a_next_that_is_not_a_path_goes_home(client, owner, next_url):
    """`redirect()` would take it for a view's name (a NoReverseMatch, a 500)."""
    response = client.post(URL, {"username": owner.email, "password": PASSWORD, "next": next_url})
    assert response["Location"] == "/"
    assert client.session["_auth_user_id"] == str(owner.pk)
    # Logged in, the page itself sends them on at once.
    assert client.get(URL, {"next": next_url})["Location"] == "/"


def test_it_rate_limits_per_email(client, owner, settings):
    settings.RATELIMIT_LOGIN_EMAIL = "3/d"
    for _ in range(3):
        assert client.post(URL, {"username": owner.email, "password": "wrong"}).status_code == 400
    # Even the right password is refused while the limit holds.
    response = client.post(URL, {"username": owner.email.upper(), "password": PASSWORD})
    assert response.status_code == 429
    assert b"Too many log-in attempts for this account" in response.content
    assert "_auth_user_id" not in client.session


# Django admin's form answers a wrong password with 200, ours with 400.
@pytest.mark.parametrize(("url", "wrong"), [(URL, 400), (ADMIN_URL, 200)], ids=["site", "admin"])
def test_it_refuses_the_right_password_until_the_window_passes(
    url, wrong, client, make_user, settings, login_counts, limiter_clock
):
    staff = make_user("staff@example.com", is_staff=True)
    settings.RATELIMIT_LOGIN_EMAIL = "3/h"
    for _ in range(3):
        assert client.post(url, {"username": staff.email, "password": "wrong"}).status_code == wrong
    response = client.post(url, {"username": staff.email, "password": PASSWORD})
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    assert "Too many log-in attempts for this account" in response.content.decode()
    assert f'href="{url}"' in response.content.decode()  # back to the form
    assert "_auth_user_id" not in client.session
    assert login_counts() == [4, 4]  # per IP and per email, the refused one included

    limiter_clock.pass_windows()
    response = client.post(url, {"username": staff.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(staff.pk)
    assert login_counts() == [1, 1, 4, 4]


def test_it_rate_limits_per_ip_across_emails(client, settings):
    settings.RATELIMIT_LOGIN_IP = "4/d"
    statuses = [
        client.post(URL, {"username": f"u{n}@example.com", "password": "x"}).status_code for n in range(5)
    ]
    assert statuses == [400, 400, 400, 400, 429]


def test_it_answers_htmx_with_the_429_fragment(client, owner, settings):
    settings.RATELIMIT_LOGIN_EMAIL = "1/d"
    client.post(URL, {"username": owner.email, "password": "wrong"})
    response = client.post(URL, {"username": owner.email, "password": "wrong"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 429
    assert b'id="rate-limited"' in response.content
    assert b"<html" not in response.content
