"""Row level security (RLS) on every table the project keeps in PostgreSQL.

Supabase serves the `public` schema over its REST API to anyone who holds the
anon key, which is public by design. A table with RLS enabled and no policies
gives those API roles (anon, authenticated) no rows at all. Django is not
affected: it connects as the role that created the tables, and a table's owner
is exempt from its RLS unless FORCE ROW LEVEL SECURITY is set (it is not).

"Project tables" are the tables of every installed model (Django's own apps
included) plus django_migrations: all of them live in `public` on Supabase.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.backends.base.base import BaseDatabaseWrapper

MIGRATIONS_TABLE = "django_migrations"

_WITHOUT_RLS = """
    SELECT c.relname
    FROM pg_catalog.pg_class c
    WHERE c.relname = ANY(%s)
      AND c.relkind IN ('r', 'p')
      AND pg_catalog.pg_table_is_visible(c.oid)
      AND NOT c.relrowsecurity
    ORDER BY c.relname
"""


def applies(connection: BaseDatabaseWrapper) -> bool:
    return connection.vendor == "postgresql"


def project_tables(connection: BaseDatabaseWrapper) -> list[str]:
    """Every existing table of an installed model, and django_migrations."""
    introspection = connection.introspection
    existing = set(introspection.table_names(include_views=False))
    tables = set(introspection.django_table_names(only_existing=True, include_views=False))
    if MIGRATIONS_TABLE in existing:
        tables.add(MIGRATIONS_TABLE)
    return sorted(tables)


def tables_without_rls(connection: BaseDatabaseWrapper, tables: Iterable[str] | None = None) -> list[str]:
    """Those of `tables` (by default every project table) with row level security off."""
    names = project_tables(connection) if tables is None else list(tables)
    if not names:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_WITHOUT_RLS, [names])
        return [row[0] for row in cursor.fetchall()]


def enable(connection: BaseDatabaseWrapper, tables: Iterable[str]) -> None:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ALTER TABLE {quote(table)} ENABLE ROW LEVEL SECURITY")


def enable_missing(connection: BaseDatabaseWrapper) -> list[str]:
    """Enable RLS on every project table that lacks it; returns their names."""
    missing = tables_without_rls(connection)
    enable(connection, missing)
    return missing
