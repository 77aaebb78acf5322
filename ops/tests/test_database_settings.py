"""DATABASE_URL → DATABASES for Supabase's three connection strings (pure: no database)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from videochat.supabase_db import database_settings, describe, migration_settings, pooler_mode

REF = "abcdefghijklmnop"
DIRECT = f"postgresql://postgres:secret@db.{REF}.supabase.co:5432/postgres"
SESSION = f"postgresql://postgres.{REF}:secret@aws-0-eu-central-1.pooler.supabase.com:5432/postgres"
TRANSACTION = f"postgresql://postgres.{REF}:secret@aws-0-eu-central-1.pooler.supabase.com:6543/postgres"
LOCAL = "postgres://postgres@127.0.0.1:5432/test"


def _settings(url: str, **kwargs) -> dict:
    return database_settings(url, conn_max_age=60, **kwargs)


def test_it_requires_ssl_on_a_supabase_host():
    for url in (DIRECT, SESSION, TRANSACTION):
        assert _settings(url)["OPTIONS"]["sslmode"] == "require"


def test_it_leaves_ssl_alone_on_other_hosts():
    assert "sslmode" not in _settings(LOCAL)["OPTIONS"]


def test_it_lets_database_sslmode_or_the_url_decide():
    assert _settings(LOCAL, sslmode="verify-full")["OPTIONS"]["sslmode"] == "verify-full"
    assert _settings(f"{DIRECT}?sslmode=verify-ca")["OPTIONS"]["sslmode"] == "verify-ca"
    assert _settings(f"{DIRECT}?sslmode=verify-ca", sslmode="require")["OPTIONS"]["sslmode"] == "require"


def test_it_refuses_an_unknown_sslmode():
    with pytest.raises(ImproperlyConfigured, match="DATABASE_SSLMODE must be one of"):
        _settings(DIRECT, sslmode="yes")


@pytest.mark.parametrize("url", [DIRECT, SESSION, LOCAL])
def test_it_keeps_persistent_checked_connections_on_port_5432(url):
    config = _settings(url)

    assert config["CONN_MAX_AGE"] == 60
    assert config["CONN_HEALTH_CHECKS"] is True
    assert config["DISABLE_SERVER_SIDE_CURSORS"] is False
    assert "prepare_threshold" not in config["OPTIONS"]


def test_it_detects_the_transaction_pooler_from_port_6543():
    config = _settings(TRANSACTION)

    assert config["PORT"] == 6543
    assert config["CONN_MAX_AGE"] == 0
    assert config["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert config["OPTIONS"]["prepare_threshold"] is None


def test_database_pooler_overrides_the_port():
    assert _settings(LOCAL, pooler="transaction")["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert _settings(TRANSACTION, pooler="none")["DISABLE_SERVER_SIDE_CURSORS"] is False
    assert _settings(TRANSACTION, pooler="session")["CONN_MAX_AGE"] == 60


def test_pooler_mode_refuses_an_unknown_value():
    assert pooler_mode(6543) == "transaction"
    assert pooler_mode(None) == "none"
    with pytest.raises(ImproperlyConfigured, match="DATABASE_POOLER must be one of"):
        pooler_mode(5432, "pgbouncer")


def test_sqlite_is_untouched():
    config = _settings("sqlite:////tmp/x.sqlite3", pooler="transaction", sslmode="require")

    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert "OPTIONS" not in config
    assert migration_settings(config) is None


def test_migrations_take_port_5432_of_the_transaction_poolers_host():
    route = migration_settings(_settings(TRANSACTION))

    assert route["HOST"] == "aws-0-eu-central-1.pooler.supabase.com"
    assert route["PORT"] == 5432
    assert route["USER"] == f"postgres.{REF}"
    assert route["OPTIONS"] == {"sslmode": "require"}
    assert route["DISABLE_SERVER_SIDE_CURSORS"] is False
    # Which database stays the runtime one's (a test run migrates its test database).
    assert "NAME" not in route


def test_migration_database_url_wins():
    route = migration_settings(_settings(TRANSACTION), migration_url=DIRECT)

    assert (route["HOST"], route["PORT"], route["USER"]) == (f"db.{REF}.supabase.co", 5432, "postgres")
    assert route["OPTIONS"]["sslmode"] == "require"


def test_migrations_need_no_route_off_the_transaction_pooler():
    assert migration_settings(_settings(DIRECT)) is None
    assert migration_settings(_settings(SESSION)) is None


def test_migration_database_url_must_not_be_the_transaction_pooler():
    with pytest.raises(
        ImproperlyConfigured, match="MIGRATION_DATABASE_URL must be the direct or the session"
    ):
        migration_settings(_settings(TRANSACTION), migration_url=TRANSACTION)


def test_a_transaction_pooler_elsewhere_needs_migration_database_url():
    config = _settings("postgres://app@pgbouncer.internal:6432/app", pooler="transaction")

    with pytest.raises(ImproperlyConfigured, match="set MIGRATION_DATABASE_URL"):
        migration_settings(config, pooler="transaction")


def test_describe_names_the_route_but_never_the_password():
    line = describe(_settings(TRANSACTION))

    assert "aws-0-eu-central-1.pooler.supabase.com:6543" in line
    assert "transaction pooler" in line
    assert "sslmode=require" in line
    assert "secret" not in line


def test_describe_knows_the_session_pooler_by_its_host():
    assert "(session pooler, sslmode=require)" in describe(_settings(SESSION))
    assert "(direct, sslmode=require)" in describe(_settings(DIRECT))


def _settings_from_env(**env: str) -> subprocess.CompletedProcess:
    code = (
        "import json, videochat.settings as s; "
        "db = s.DATABASES['default']; "
        "print(json.dumps({'db': {k: db.get(k) for k in ('PORT', 'CONN_MAX_AGE', 'DISABLE_SERVER_SIDE_CURSORS', "
        "'OPTIONS')}, 'migrate': s.MIGRATION_DATABASE}))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "DEBUG": "true", "DATABASE_CONN_MAX_AGE": "60", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_settings_use_the_transaction_pooler_and_migrate_over_5432():
    result = _settings_from_env(DATABASE_URL=TRANSACTION)

    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["db"] == {
        "PORT": 6543,
        "CONN_MAX_AGE": 0,
        "DISABLE_SERVER_SIDE_CURSORS": True,
        "OPTIONS": {"sslmode": "require", "prepare_threshold": None},
    }
    assert found["migrate"]["PORT"] == 5432


def test_settings_name_a_bad_pooler_value():
    result = _settings_from_env(DATABASE_URL=DIRECT, DATABASE_POOLER="pgbouncer")

    assert result.returncode != 0
    assert "DATABASE_POOLER must be one of auto, transaction, session, none" in result.stderr
