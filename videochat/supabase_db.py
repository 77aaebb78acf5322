"""DATABASE_URL to Django's DATABASES entry, with what Supabase's Postgres needs.

Supabase offers three ways in (Project → Connect):

- the direct connection, ``db.<ref>.supabase.co:5432``;
- the session pooler, ``<region>.pooler.supabase.com:5432``: one server
  connection per client connection, so it behaves like the direct one;
- the transaction pooler, ``<region>.pooler.supabase.com:6543`` (or the
  dedicated pooler on ``db.<ref>.supabase.co:6543``): a server connection only
  for the length of a transaction, so no server-side cursors (they outlive a
  transaction) and no prepared statements (they live on one server connection).

The pooler mode comes from ``DATABASE_POOLER`` (``transaction``, ``session`` or
``none``), or, left at ``auto``, from the port: 6543 is the transaction pooler.
Supabase refuses plain-text connections, so a Supabase host gets
``sslmode=require`` unless ``DATABASE_SSLMODE`` or the URL's own ``sslmode``
says otherwise.

Migrations never go through the transaction pooler: ``migrate`` (ops' command)
swaps in ``MIGRATION_DATABASE``, the same database reached through
``MIGRATION_DATABASE_URL`` or, by default, through port 5432 of the pooler's
host (the session pooler, or the direct connection for the dedicated pooler).

Everything here is pure: values in, dicts out. settings.py reads the environment.
"""

from __future__ import annotations

from typing import Any, Literal

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

PoolerMode = Literal["transaction", "session", "none"]

POOLER_CHOICES = ("auto", "transaction", "session", "none")
SSLMODE_CHOICES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
TRANSACTION_POOLER_PORT = 6543
DIRECT_PORT = 5432
SUPABASE_HOST_SUFFIXES = (".supabase.co", ".supabase.com")
SUPAVISOR_HOST_SUFFIX = ".pooler.supabase.com"
POSTGRES_ENGINE = "django.db.backends.postgresql"
# What `migrate` takes from MIGRATION_DATABASE: how to reach the server, never which
# database (so a test run's test database stays the one it migrates).
ROUTE_KEYS = ("HOST", "PORT", "USER", "PASSWORD", "OPTIONS", "CONN_MAX_AGE", "DISABLE_SERVER_SIDE_CURSORS")


def is_supabase_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    return host.endswith(SUPABASE_HOST_SUFFIXES)


def pooler_mode(port: int | str | None, setting: str = "auto") -> PoolerMode:
    """The pooler DATABASE_POOLER names, or the one the port implies when it says `auto`."""
    if setting not in POOLER_CHOICES:
        raise ImproperlyConfigured(
            f"DATABASE_POOLER must be one of {', '.join(POOLER_CHOICES)}, got {setting!r}"
        )
    if setting != "auto":
        return setting  # type: ignore[return-value]
    return "transaction" if _port(port) == TRANSACTION_POOLER_PORT else "none"


def database_settings(
    url: str,
    *,
    conn_max_age: int,
    pooler: str = "auto",
    sslmode: str | None = None,
) -> dict[str, Any]:
    """DATABASES["default"] for DATABASE_URL (SQLite or PostgreSQL)."""
    config: dict[str, Any] = dict(
        dj_database_url.parse(url, conn_max_age=conn_max_age, conn_health_checks=True)
    )
    if config["ENGINE"] != POSTGRES_ENGINE:
        return config
    options = dict(config.get("OPTIONS") or {})
    chosen_sslmode = _sslmode(config["HOST"], url_sslmode=options.get("sslmode"), setting=sslmode)
    if chosen_sslmode:
        options["sslmode"] = chosen_sslmode
    if pooler_mode(config["PORT"], pooler) == "transaction":
        # The pooler is the pool: nothing is kept between requests or jobs, and nothing
        # that lives on one server connection (cursors, prepared statements) is used.
        config["CONN_MAX_AGE"] = 0
        config["DISABLE_SERVER_SIDE_CURSORS"] = True
        options["prepare_threshold"] = None
    config["OPTIONS"] = options
    return config


def migration_settings(
    runtime: dict[str, Any],
    *,
    migration_url: str | None = None,
    pooler: str = "auto",
    sslmode: str | None = None,
) -> dict[str, Any] | None:
    """How `migrate` reaches the database when that differs from `runtime`; None when it does not.

    MIGRATION_DATABASE_URL wins; otherwise, over the transaction pooler, port
    5432 of the same host. A transaction pooler that is not on 6543 cannot be
    guessed past, so that needs MIGRATION_DATABASE_URL.
    """
    if runtime["ENGINE"] != POSTGRES_ENGINE:
        if migration_url:
            raise ImproperlyConfigured("MIGRATION_DATABASE_URL is only for PostgreSQL; DATABASE_URL is not.")
        return None
    if migration_url:
        route = database_settings(migration_url, conn_max_age=0, pooler="none", sslmode=sslmode)
        if route["ENGINE"] != POSTGRES_ENGINE:
            raise ImproperlyConfigured("MIGRATION_DATABASE_URL must be a postgres:// URL.")
        if _port(route["PORT"]) == TRANSACTION_POOLER_PORT:
            raise ImproperlyConfigured(
                "MIGRATION_DATABASE_URL must be the direct or the session connection (port 5432), "
                "not the transaction pooler (port 6543)."
            )
        return _route(route)
    if pooler_mode(runtime["PORT"], pooler) != "transaction":
        return None
    if _port(runtime["PORT"]) != TRANSACTION_POOLER_PORT:
        raise ImproperlyConfigured(
            f"DATABASE_POOLER=transaction on port {runtime['PORT']}: set MIGRATION_DATABASE_URL to the "
            "direct or session connection (port 5432), which migrations need."
        )
    options = {k: v for k, v in runtime["OPTIONS"].items() if k != "prepare_threshold"}
    route = {**runtime, "PORT": DIRECT_PORT, "OPTIONS": options}
    route.update(CONN_MAX_AGE=0, DISABLE_SERVER_SIDE_CURSORS=False)
    return _route(route)


def describe(config: dict[str, Any], pooler: str = "auto") -> str:
    """One line for operators: where the connection goes and how (never the password)."""
    if config["ENGINE"] != POSTGRES_ENGINE:
        return f"{config['ENGINE'].rsplit('.', 1)[-1]} {config['NAME']}"
    mode = pooler_mode(config["PORT"], pooler)
    if mode == "none" and config["HOST"].lower().endswith(SUPAVISOR_HOST_SUFFIX):
        mode = "session"  # Supavisor's port 5432
    how = {"transaction": "transaction pooler", "session": "session pooler", "none": "direct"}[mode]
    sslmode = (config.get("OPTIONS") or {}).get("sslmode", "prefer")
    return f"postgresql {config['USER']}@{config['HOST']}:{config['PORT']}/{config['NAME']} ({how}, sslmode={sslmode})"


def _route(config: dict[str, Any]) -> dict[str, Any]:
    return {key: config[key] for key in ROUTE_KEYS if key in config}


def _sslmode(host: str, *, url_sslmode: str | None, setting: str | None) -> str | None:
    if setting is not None:
        if setting not in SSLMODE_CHOICES:
            raise ImproperlyConfigured(
                f"DATABASE_SSLMODE must be one of {', '.join(SSLMODE_CHOICES)}, got {setting!r}"
            )
        return setting
    if url_sslmode:
        return url_sslmode
    return "require" if is_supabase_host(host) else None


def _port(port: int | str | None) -> int:
    try:
        return int(port or DIRECT_PORT)
    except ValueError:
        raise ImproperlyConfigured(f"DATABASE_URL has a port that is not a number: {port!r}") from None
