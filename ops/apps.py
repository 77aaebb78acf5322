from __future__ import annotations

from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


def enable_missing_rls(sender: AppConfig, *, using: str, verbosity: int = 1, stdout=None, **kwargs) -> None:
    """After every migrate: row level security on any project table that lacks it.

    The 0001 migration covered the tables that existed then; this covers every
    table a later migration (of any app) creates.
    """
    from ops import rls

    connection = connections[using]
    if not rls.applies(connection):
        return
    enabled = rls.enable_missing(connection)
    if enabled and verbosity >= 1 and stdout is not None:
        stdout.write(f"  Row level security enabled on: {', '.join(enabled)}\n")


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        post_migrate.connect(enable_missing_rls, sender=self, dispatch_uid="ops.enable_missing_rls")
