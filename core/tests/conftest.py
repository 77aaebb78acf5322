"""Fixtures the core tests borrow from the apps' tests."""

from analysis.tests.conftest import make_video  # noqa: F401
