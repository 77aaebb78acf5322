"""`manage.py migrate`, never through Supabase's transaction pooler.

When settings.MIGRATION_DATABASE is set (DATABASE_URL is the transaction
pooler, or MIGRATION_DATABASE_URL is given), the default connection is pointed
at that route before Django's own migrate runs: the same database, reached
over port 5432 (the session pooler or the direct connection). Everything else
is Django's command unchanged.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.commands.migrate import Command as DjangoMigrateCommand
from django.db import DEFAULT_DB_ALIAS, connections


class Command(DjangoMigrateCommand):
    help = (
        DjangoMigrateCommand.help + " Over Supabase's transaction pooler it connects through "
        "MIGRATION_DATABASE_URL (or port 5432 of the same host) instead."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        route = getattr(settings, "MIGRATION_DATABASE", None)
        if route and options["database"] == DEFAULT_DB_ALIAS:
            self.take_route(route, verbosity=options["verbosity"])
        return super().handle(*args, **options)

    def take_route(self, route: dict[str, Any], *, verbosity: int) -> None:
        """Reconnect the default connection through `route` (for this process, which only migrates)."""
        connection = connections[DEFAULT_DB_ALIAS]
        connection.close()
        connection.settings_dict.update(route)
        if verbosity >= 1:
            self.stdout.write(
                f"Migrating through {route.get('HOST') or connection.settings_dict['HOST']}:"
                f"{route.get('PORT')}, not the transaction pooler."
            )
