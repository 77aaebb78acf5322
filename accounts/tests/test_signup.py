import pytest
from django.urls import reverse

from accounts.models import User
from conftest import PASSWORD

URL = reverse("accounts:signup")
pytestmark = pytest.mark.django_db


def _post(client, email="new@example.com", p1=PASSWORD, p2=PASSWORD, **headers):
    return client.post(URL, {"email": email, "password1": p1, "password2": p2}, **headers)


def test_it_shows_the_form(client):
    response = client.get(URL)
    assert response.status_code == 200
    assert b'name="email"' in response.content
    assert b"csrfmiddlewaretoken" in response.content


def test_it_creates_the_account_and_logs_in(client):
    response = _post(client)
    assert response.status_code == 302
    user = User.objects.get(email="new@example.com")
    assert user.check_password(PASSWORD)
    assert client.session["_auth_user_id"] == str(user.pk)


def test_it_refuses_an_email_taken_in_another_case(client, owner):
    response = _post(client, email="OWNER@Example.com")
    assert response.status_code == 400
    assert b"already exists" in response.content
    assert User.objects.count() == 1


def test_it_applies_password_validators(client):
    response = _post(client, p1="123", p2="123")
    assert response.status_code == 400
    assert b"too short" in response.content
    assert not User.objects.exists()


def test_it_reports_mismatched_passwords(client):
    response = _post(client, p2=PASSWORD + "x")
    assert response.status_code == 400
    assert b"didn" in response.content  # "The two password fields didn't match."


def test_it_returns_only_the_form_to_htmx_with_400(client):
    response = _post(client, email="not-an-email", HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert b'id="signup-form"' in response.content
    assert b"<html" not in response.content
    assert b"valid email" in response.content


def test_it_redirects_htmx_with_a_header(client):
    response = _post(client, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/"


def test_it_rate_limits_signups_per_ip(client, settings):
    settings.RATELIMIT_SIGNUP_IP = "2/d"
    for n in range(2):
        _post(client, email=f"bad{n}@example.com", p1="x", p2="x")
    response = _post(client, email="bad3@example.com")
    assert response.status_code == 429
    assert b"Too many sign-ups" in response.content
    assert int(response["Retry-After"]) > 0
    assert not User.objects.filter(email="bad3@example.com").exists()


def test_it_ignores_a_bogus_method(client):
    assert client.put(URL).status_code == 405
