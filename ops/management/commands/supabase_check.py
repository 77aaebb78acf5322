"""`manage.py supabase_check`: is this deployment's Supabase set up right?

Checks, each in its own method that returns what is wrong (an empty list when
nothing is): the database connection (and the route migrations take), row
level security on every project table, and the media bucket (exists,
private, large enough). Prints one line per check and, under a failed one,
what to do about it. Exits non-zero when anything is wrong.
"""

from __future__ import annotations

from typing import Any

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.executor import MigrationExecutor
from storage3.utils import StorageException

from core.storage import storage_client
from ops import rls
from videochat import supabase_db


class Command(BaseCommand):
    help = "Check the Supabase set-up: database connection, row level security, the media bucket."
    requires_system_checks = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connection = connections[DEFAULT_DB_ALIAS]
        # What a passing check found worth saying (where it connected, what it skipped).
        self.notes: dict[str, str] = {}

    def add_arguments(self, parser) -> None:
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="Which database alias to check.")

    def handle(self, *args: Any, **options: Any) -> None:
        self.connection = connections[options["database"]]
        checks = [
            ("Database connection", self.check_database),
            ("Migration connection", self.check_migration_route),
            ("Migrations applied", self.check_migrations),
            ("Row level security", self.check_rls),
            ("Media storage", self.check_storage),
        ]
        failed = 0
        for title, check in checks:
            problems = check()
            failed += bool(problems)
            self.report(title, problems)
        if failed:
            raise CommandError(f"{failed} of {len(checks)} checks found a problem; see above.")
        self.stdout.write(self.style.SUCCESS("Supabase set-up looks right."))

    def report(self, title: str, problems: list[str]) -> None:
        if not problems:
            self.stdout.write(f"{self.style.SUCCESS('ok')}       {title}: {self.notes.pop(title, 'fine')}")
            return
        self.stdout.write(f"{self.style.ERROR('PROBLEM')}  {title}")
        for problem in problems:
            self.stdout.write(f"         - {problem}")

    # --- database

    def check_database(self) -> list[str]:
        config = self.connection.settings_dict
        where = supabase_db.describe(config, settings.DATABASE_POOLER)
        if self.connection.vendor != "postgresql":
            return [
                f"DATABASE_URL is {where}, not PostgreSQL. Set DATABASE_URL to a connection string "
                "from Supabase (Project → Connect), e.g. the transaction pooler on port 6543."
            ]
        problems = _connect_problems(self.connection, "DATABASE_URL", where)
        if problems:
            return problems
        if supabase_db.is_supabase_host(config["HOST"]) and not _uses_ssl(self.connection):
            problems.append(
                f"The connection to {config['HOST']} is not encrypted. Remove sslmode from "
                "DATABASE_URL and DATABASE_SSLMODE (Supabase hosts get sslmode=require)."
            )
        mode = supabase_db.pooler_mode(config["PORT"], settings.DATABASE_POOLER)
        if str(config["PORT"]) == "6543" and mode != "transaction":
            problems.append(
                "Port 6543 is Supabase's transaction pooler, but DATABASE_POOLER says "
                f"{settings.DATABASE_POOLER}: set DATABASE_POOLER=auto (or transaction)."
            )
        self.notes["Database connection"] = where
        return problems

    def check_migration_route(self) -> list[str]:
        route = getattr(settings, "MIGRATION_DATABASE", None)
        if not route or self.connection.vendor != "postgresql":
            self.notes["Migration connection"] = "migrate uses the same connection"
            return []
        probe = self.connection.copy()
        probe.settings_dict.update(route)
        where = supabase_db.describe(probe.settings_dict, "none")
        try:
            problems = _connect_problems(
                probe, "MIGRATION_DATABASE_URL (or port 5432 of DATABASE_URL's host)", where
            )
        finally:
            probe.close()
        self.notes["Migration connection"] = f"migrate goes through {where}"
        return problems

    def check_migrations(self) -> list[str]:
        if not _can_connect(self.connection):
            return ["Skipped: no database connection (see above)."]
        executor = MigrationExecutor(self.connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:5])
            more = f" and {len(plan) - 5} more" if len(plan) > 5 else ""
            return [f"{len(plan)} migrations are not applied ({names}{more}). Run: manage.py migrate"]
        return []

    def check_rls(self) -> list[str]:
        if not rls.applies(self.connection):
            self.notes["Row level security"] = "skipped: not a PostgreSQL database"
            return []
        if not _can_connect(self.connection):
            return ["Skipped: no database connection (see above)."]
        tables = rls.project_tables(self.connection)
        if not tables:
            return ["The database has none of the project's tables yet. Run: manage.py migrate"]
        missing = rls.tables_without_rls(self.connection, tables)
        if missing:
            return [
                f"Row level security is off on {len(missing)} of {len(tables)} tables: {', '.join(missing)}. "
                "Anyone with the anon key can read them through Supabase's REST API. Run "
                "manage.py migrate (it turns it on for every project table), or in Supabase's SQL "
                "editor: ALTER TABLE <name> ENABLE ROW LEVEL SECURITY;"
            ]
        self.notes["Row level security"] = f"on for all {len(tables)} project tables"
        return []

    # --- storage

    def check_storage(self) -> list[str]:
        if settings.MEDIA_STORAGE != "supabase":
            self.notes["Media storage"] = (
                f"MEDIA_STORAGE={settings.MEDIA_STORAGE}: media stays on this machine's disk. "
                "Set MEDIA_STORAGE=supabase to share it between machines."
            )
            return []
        missing = [
            name
            for name in ("SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY")
            if not getattr(settings, name, None)
        ]
        if missing:
            return [f"MEDIA_STORAGE=supabase needs {' and '.join(missing)}."]
        bucket_id = settings.SUPABASE_STORAGE_BUCKET
        try:
            with storage_client(settings.SUPABASE_URL, settings.SUPABASE_SERVICE_ROLE_KEY) as client:
                bucket = client.get_bucket(bucket_id)
        except httpx.HTTPError as exc:
            return [
                f"Supabase Storage at {settings.SUPABASE_URL} did not answer ({exc}). Check SUPABASE_URL."
            ]
        except StorageException as exc:
            return [_bucket_problem(exc, bucket_id)]
        problems = []
        if bucket.public:
            problems.append(
                f"The bucket {bucket_id!r} is public: anyone with an object's URL can fetch it without "
                "logging in. In Supabase: Storage → the bucket → Edit bucket → turn off “Public bucket”."
            )
        limit = bucket.file_size_limit
        if limit and limit < settings.MAX_UPLOAD_MB * 1024 * 1024:
            problems.append(
                f"The bucket refuses files over {limit // (1024 * 1024)} MB, but uploads up to "
                f"{settings.MAX_UPLOAD_MB} MB are accepted. Raise the bucket's file size limit, "
                "or lower MAX_UPLOAD_MB."
            )
        self.notes["Media storage"] = f"bucket {bucket_id!r} exists and is private"
        return problems


def _connect_problems(connection: BaseDatabaseWrapper, variable: str, where: str) -> list[str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [
            f"Cannot connect to {where}: {reason}. Check {variable}: host, port, user "
            "(postgres.<project-ref> on the poolers) and password (Project Settings → Database)."
        ]
    return []


def _can_connect(connection: BaseDatabaseWrapper) -> bool:
    return not _connect_problems(connection, "", "")


def _uses_ssl(connection: BaseDatabaseWrapper) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        row = cursor.fetchone()
    return bool(row and row[0])


def _bucket_problem(exc: StorageException, bucket_id: str) -> str:
    status = str(getattr(exc, "status", ""))
    message = getattr(exc, "message", str(exc))
    if status in {"401", "403"}:
        return (
            f"Supabase Storage refused the key ({status}: {message}). SUPABASE_SERVICE_ROLE_KEY must be "
            "the project's service_role (secret) key, not the anon key (Project Settings → API Keys)."
        )
    if status in {"400", "404"} or "not found" in message.lower():
        return (
            f"There is no bucket {bucket_id!r}. Create it in Supabase (Storage → New bucket, "
            "“Public bucket” off), or set SUPABASE_STORAGE_BUCKET to the bucket you made."
        )
    return f"Supabase Storage answered {status}: {message}."
