"""Row level security on every project table (PostgreSQL only: CI's second run).

On SQLite there is nothing to check, and the module says so when it is skipped.
"""

from __future__ import annotations

import os
from io import StringIO

import pytest
from django.apps import apps as global_apps
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from ops import rls

pytestmark = pytest.mark.django_db

if connection.vendor != "postgresql":
    reason = "row level security is PostgreSQL's: run with DATABASE_URL=postgres://... (CI does)"
    print(f"\n{__name__} skipped: {reason}")
    pytestmark = [pytestmark, pytest.mark.skip(reason=reason)]


def _rls_by_table() -> dict[str, bool]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, relrowsecurity FROM pg_class WHERE relname = ANY(%s) AND relkind = 'r'",
            [rls.project_tables(connection)],
        )
        return dict(cursor.fetchall())


def _set_rls(table: str, on: bool) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"ALTER TABLE {connection.ops.quote_name(table)} {'ENABLE' if on else 'DISABLE'} ROW LEVEL SECURITY"
        )


def test_every_project_table_has_row_level_security():
    tables = _rls_by_table()

    # Every model's table (Django's own included) and django_migrations.
    expected = {
        model._meta.db_table
        for model in global_apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy and not model._meta.swapped
    }
    assert expected | {"django_migrations"} <= set(tables)
    assert [table for table, on in tables.items() if not on] == []


def test_the_check_lists_a_table_that_lacks_it():
    # As a model added later whose table was made without it would look.
    _set_rls("chat_messages", on=False)

    assert rls.tables_without_rls(connection) == ["chat_messages"]


def test_migrate_enables_it_on_any_table_that_lacks_it():
    _set_rls("video_analysis", on=False)
    _set_rls("django_migrations", on=False)
    out = StringIO()

    call_command("migrate", verbosity=1, stdout=out)

    assert rls.tables_without_rls(connection) == []
    assert "Row level security enabled on: django_migrations, video_analysis" in out.getvalue()


def test_the_migration_itself_enables_it_on_the_tables_of_its_time():
    for table in rls.project_tables(connection):
        _set_rls(table, on=False)
    executor = MigrationExecutor(connection)
    migration = executor.loader.get_migration("ops", "0001_enable_rls")
    state = executor.loader.project_state(("ops", "0001_enable_rls"), at_end=False)

    tables_then = {model._meta.db_table for model in state.apps.get_models(include_auto_created=True)}

    with connection.schema_editor() as editor:
        migration.apply(state, editor)

    left = rls.tables_without_rls(connection)
    # Only tables that later migrations made are left (post_migrate covers those).
    assert not set(left) & (tables_then | {"django_migrations"})
    assert "users" in tables_then


def test_the_anon_role_sees_no_rows(owner):
    """What Supabase's REST API would see with the anon key: nothing, though a row exists."""
    role = f"rls_probe_{os.getpid()}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} NOLOGIN")  # rolled back with the test's transaction
        cursor.execute(f"GRANT SELECT ON users, video_analysis TO {role}")
        cursor.execute("SELECT count(*) FROM users")
        assert cursor.fetchone()[0] == 1
        cursor.execute(f"SET LOCAL ROLE {role}")
        cursor.execute("SELECT count(*) FROM users")
        seen = cursor.fetchone()[0]
        cursor.execute("RESET ROLE")

    assert seen == 0
