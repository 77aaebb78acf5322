"""Configuration: strict parsing, named errors, no default secret in production."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from videochat import env

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def _import_settings(**overrides: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "SESSION_SECRET_KEY", "DEBUG"}}
    environ.update(overrides)
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import videochat.settings as s; print('DEBUG', s.DEBUG, 'KEY', s.SECRET_KEY[:6])",
        ],
        cwd=BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_env_bool_refuses_anything_but_true_or_false(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG must be true or false"):
        env.env_bool("SOME_FLAG", False)


def test_env_int_names_the_variable(monkeypatch):
    monkeypatch.setenv("SESSION_COOKIE_AGE", "two weeks")
    with pytest.raises(ImproperlyConfigured, match="SESSION_COOKIE_AGE must be a whole number"):
        env.env_int("SESSION_COOKIE_AGE", 10)


def test_env_url_checks_the_scheme(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "localhost:6379")
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL must be a URL"):
        env.env_url("REDIS_URL", None, schemes=("redis",))


def test_env_str_accepts_an_alias(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("SESSION_SECRET_KEY", "from-alias")
    assert env.env_str("SECRET_KEY", aliases=("SESSION_SECRET_KEY",)) == "from-alias"


def test_start_up_stops_without_a_secret_when_debug_is_off():
    result = _import_settings(DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY (or SESSION_SECRET_KEY) must be set" in result.stderr


def test_start_up_accepts_session_secret_key():
    result = _import_settings(DEBUG="false", SESSION_SECRET_KEY="abcdef-long-enough")
    assert result.returncode == 0, result.stderr
    assert "KEY abcdef" in result.stdout


def test_start_up_names_a_malformed_variable():
    result = _import_settings(DEBUG="false", SECRET_KEY="k" * 50, SESSION_COOKIE_AGE="forever")
    assert result.returncode != 0
    assert "SESSION_COOKIE_AGE must be a whole number" in result.stderr


def test_start_up_names_a_malformed_database_url():
    result = _import_settings(DEBUG="false", SECRET_KEY="k" * 50, DATABASE_URL="mysql-ish://nowhere")
    assert result.returncode != 0
    assert "DATABASE_URL must be a URL" in result.stderr
