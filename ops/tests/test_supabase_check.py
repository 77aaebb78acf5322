"""`manage.py supabase_check`, and `manage.py migrate` taking the migration route.

Storage checks talk to the fake Storage; database checks need PostgreSQL (CI's
second run) except the one that says SQLite is not it.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from ops.management.commands.supabase_check import Command
from testkit.live import free_port

pytestmark = pytest.mark.django_db

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL: DATABASE_URL=postgres://... (CI does)"
)


@pytest.fixture
def check() -> Command:
    return Command(stdout=StringIO(), stderr=StringIO())


@pytest.fixture
def storage(supabase_media, settings):
    settings.MAX_UPLOAD_MB = 500
    return supabase_media


def _run(**options) -> tuple[str, bool]:
    out = StringIO()
    try:
        call_command("supabase_check", stdout=out, **options)
    except CommandError:
        return out.getvalue(), False
    return out.getvalue(), True


# --- storage ---------------------------------------------------------------------------


def test_it_passes_a_private_bucket(check, storage):
    assert check.check_storage() == []
    assert check.notes["Media storage"] == f"bucket {storage.bucket!r} exists and is private"


def test_it_flags_a_public_bucket(check, storage):
    storage.buckets[storage.bucket]["public"] = True

    [problem] = check.check_storage()

    assert f"The bucket {storage.bucket!r} is public" in problem
    assert "turn off “Public bucket”" in problem


def test_it_says_how_to_create_a_missing_bucket(check, storage, settings):
    settings.SUPABASE_STORAGE_BUCKET = "not-made-yet"

    [problem] = check.check_storage()

    assert "There is no bucket 'not-made-yet'" in problem
    assert "Storage → New bucket" in problem


def test_it_names_the_key_when_storage_refuses_it(check, storage, settings):
    settings.SUPABASE_SERVICE_ROLE_KEY = "the-anon-key-by-mistake"

    [problem] = check.check_storage()

    assert "refused the key" in problem
    assert "SUPABASE_SERVICE_ROLE_KEY must be the project's service_role" in problem
    assert "the-anon-key-by-mistake" not in problem


def test_it_flags_a_bucket_smaller_than_the_upload_cap(check, storage):
    storage.buckets[storage.bucket]["file_size_limit"] = 50 * 1024 * 1024

    [problem] = check.check_storage()

    assert "refuses files over 50 MB, but uploads up to 500 MB are accepted" in problem


def test_it_says_when_storage_does_not_answer(check, storage, settings):
    settings.SUPABASE_URL = f"http://127.0.0.1:{free_port()}"

    [problem] = check.check_storage()

    assert "did not answer" in problem
    assert "Check SUPABASE_URL" in problem


def test_local_media_is_a_note_not_a_problem(check, settings):
    settings.MEDIA_STORAGE = "local"

    assert check.check_storage() == []
    assert "MEDIA_STORAGE=local" in check.notes["Media storage"]


# --- database ----------------------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "sqlite", reason="about SQLite")
def test_it_says_sqlite_is_not_supabase(settings):
    settings.MEDIA_STORAGE = "local"

    output, passed = _run()

    assert not passed
    assert "PROBLEM  Database connection" in output
    assert "not PostgreSQL. Set DATABASE_URL to a connection string from Supabase" in output


@postgres_only
def test_it_passes_a_good_set_up_without_printing_the_key(storage):
    output, passed = _run()

    assert passed, output
    assert "ok       Database connection: postgresql" in output
    assert "ok       Row level security: on for all" in output
    assert "ok       Migrations applied" in output
    assert "Supabase set-up looks right." in output
    assert storage.key not in output


@postgres_only
def test_it_names_the_tables_without_row_level_security(check):
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE chat_messages DISABLE ROW LEVEL SECURITY")

    [problem] = check.check_rls()

    assert "Row level security is off on 1 of" in problem
    assert "chat_messages." in problem
    assert "Run manage.py migrate" in problem


@postgres_only
def test_it_says_what_to_check_when_the_database_refuses(check):
    check.connection = connection.copy()
    check.connection.settings_dict["PORT"] = free_port()
    try:
        [problem] = check.check_database()
    finally:
        check.connection.close()

    assert problem.startswith("Cannot connect to postgresql")
    assert "Check DATABASE_URL: host, port, user (postgres.<project-ref> on the poolers)" in problem


@postgres_only
def test_it_tries_the_migration_route_too(check, settings):
    settings.MIGRATION_DATABASE = {"HOST": "127.0.0.1", "PORT": free_port()}

    [problem] = check.check_migration_route()

    assert "Check MIGRATION_DATABASE_URL" in problem


# --- migrate -----------------------------------------------------------------------------


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_migrate_goes_through_the_migration_route(settings):
    original = dict(connection.settings_dict)
    # The same server, told apart by the name the route gives its connection.
    route = {"HOST": original["HOST"], "PORT": 5432, "OPTIONS": {"application_name": "videochat-migrate"}}
    settings.MIGRATION_DATABASE = route
    out = StringIO()
    try:
        call_command("migrate", verbosity=1, stdout=out)
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('application_name'), current_database()")
            application_name, database = cursor.fetchone()
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(original)

    assert f"Migrating through {original['HOST']}:5432, not the transaction pooler." in out.getvalue()
    assert application_name == "videochat-migrate"
    assert database == original["NAME"]  # the test database, not one named by the route


def test_migrate_stays_put_without_a_route(settings):
    settings.MIGRATION_DATABASE = None
    out = StringIO()

    call_command("migrate", verbosity=1, stdout=out)

    assert "Migrating through" not in out.getvalue()
    assert "No migrations to apply." in out.getvalue()
