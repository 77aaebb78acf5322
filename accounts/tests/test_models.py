import pytest
from django.db import IntegrityError

from accounts.models import User

pytestmark = pytest.mark.django_db


def test_the_table_is_named_users():
    assert User._meta.db_table == "users"


def test_email_is_unique_without_regard_to_case(owner):
    with pytest.raises(IntegrityError):
        User.objects.create_user("OWNER@example.COM", "whatever pass 1")


def test_superuser_is_staff():
    admin = User.objects.create_superuser("root@example.com", "root pass phrase 1")
    assert admin.is_staff
    assert admin.is_superuser
