"""Fixtures shared by the whole suite: real Redis, real database, three personas."""

from __future__ import annotations

import os
import shutil

import pytest
from django_redis import get_redis_connection

pytest_plugins = ["testkit.fake_supabase", "testkit.fake_gemini"]

# Reading on-screen text costs a second or two a frame, and most tests analyse
# videos for something else: it is off unless a test switches it on
# (`settings.ONSCREEN_TEXT = True`, or ONSCREEN_TEXT="true" for a worker process).
# The environment is for the workers and servers tests start; the fixture below
# for this process, whose settings were read before this file.
os.environ.setdefault("ONSCREEN_TEXT", "false")

PASSWORD = "correct horse battery staple 42"


@pytest.fixture(scope="session")
def clips(tmp_path_factory):
    """Small clips with known content, made once per test run."""
    from analysis.tests.clips import make_clip

    folder = tmp_path_factory.mktemp("clips")
    return {
        "short": make_clip(folder / "short.mp4", duration=4.0, size=(320, 180), fps=25, cuts=(1.2, 2.6)),
        "other": make_clip(folder / "other.mp4", duration=3.0, size=(256, 144), fps=25, cuts=(1.5,)),
    }


@pytest.fixture(autouse=True, scope="session")
def _static_files_from_finders():
    """Serve static files from the source tree: tests do not run collectstatic."""
    from django.test.utils import override_settings

    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages, WHITENOISE_USE_FINDERS=True, WHITENOISE_AUTOREFRESH=True):
        yield


@pytest.fixture(autouse=True)
def _onscreen_text_off(settings):
    settings.ONSCREEN_TEXT = False


@pytest.fixture(autouse=True)
def _clean_redis():
    """Each test starts with an empty Redis database (its own under xdist)."""
    get_redis_connection("default").flushdb()
    return


@pytest.fixture
def redis_client():
    return get_redis_connection("default")


@pytest.fixture
def make_user(db):
    from accounts.models import User

    def make(email: str, *, password: str = PASSWORD, **extra) -> User:
        return User.objects.create_user(email, password, **extra)

    return make


@pytest.fixture
def owner(make_user):
    return make_user("owner@example.com")


@pytest.fixture
def outsider(make_user):
    return make_user("outsider@example.com")


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def staff_client(client, make_user):
    client.force_login(make_user("staff@example.com", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def outsider_client(outsider):
    from django.test import Client

    c = Client()
    c.force_login(outsider)
    return c


from testkit.browser import CHROMIUM, launch_chromium  # noqa: E402


def pytest_collection_modifyitems(config, items):
    """Browser tests need Debian's Chromium: required under CI, skipped elsewhere."""
    if os.path.exists(CHROMIUM) and shutil.which("chromium"):
        return
    if os.environ.get("CI"):
        return  # let them fail loudly: CI must run them
    reason = f"browser tests skipped: no Chromium at {CHROMIUM} (apt-get install chromium)"
    print(f"\n{reason}")
    marker = pytest.mark.skip(reason=reason)
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(marker)


@pytest.fixture
def live_server_url(transactional_db):
    """The app served by a real Daphne process against the test database."""
    from testkit.live import daphne_server

    with daphne_server() as url:
        yield url


@pytest.fixture
def browser_page():
    """A fresh page in Debian's headless Chromium, driven by Playwright."""
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop vs. Django ORM in-test
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        context = browser.new_context()
        page = context.new_page()
        page.console_messages = []
        page.on("console", lambda msg: page.console_messages.append(f"{msg.type}: {msg.text}"))
        try:
            yield page
        finally:
            context.close()
            browser.close()
