"""The admin's changelists of big tables page without counting every row."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat.models import Conversation, Message
from core.admin_counts import EstimatedCountPaginator

pytestmark = pytest.mark.django_db

WHOLE_TABLE_COUNT = re.compile(r'SELECT COUNT\(\*\) AS "__count" FROM "chat_messages"(?! .*WHERE)')


@pytest.fixture
def messages(owner, monkeypatch):
    monkeypatch.setattr(EstimatedCountPaginator, "exact_count_up_to", 10)
    conversation = Conversation.objects.create(owner=owner)
    Message.objects.bulk_create(
        Message(conversation=conversation, role="user", text=f"question {n}", status="complete")
        for n in range(40)
    )
    Message.objects.create(
        conversation=conversation, role="assistant", text="a failed reply", status="failed"
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE chat_messages")


def _changelist(staff_client, **params) -> tuple[str, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get("/admin/chat/message/", params)
    assert response.status_code == 200
    return response.content.decode(), [q["sql"] for q in queries.captured_queries]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the estimate is PostgreSQL's")
def test_it_takes_the_planners_estimate_for_a_whole_big_table(staff_client, messages):
    html, sql = _changelist(staff_client)
    assert not [q for q in sql if WHOLE_TABLE_COUNT.search(q)]
    assert any("reltuples" in q for q in sql)
    assert re.search(r"41\s+messages", html)


def test_it_counts_a_filtered_list_exactly_and_once(staff_client, messages):
    html, sql = _changelist(staff_client, status__exact="failed")
    counts = [q for q in sql if "COUNT(*)" in q and "chat_messages" in q]
    assert len(counts) == 1  # no second count of the whole table
    assert "WHERE" in counts[0]
    assert re.search(r"1\s+message\b", html)
    assert "a failed reply" in html


@pytest.mark.skipif(connection.vendor == "postgresql", reason="SQLite has no estimate")
def test_sqlite_counts_exactly(staff_client, messages):
    html, sql = _changelist(staff_client)
    assert not any("reltuples" in q for q in sql)
    assert re.search(r"41\s+messages", html)
