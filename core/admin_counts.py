"""Admin changelists that do not count a big table row by row on every page.

Django's admin counts the rows it pages through (`COUNT(*)`) and, with
`show_full_result_count`, the whole table a second time. On PostgreSQL a count
reads every row, so an unfiltered changelist of a table with millions of
messages costs seconds. For an unfiltered list of a table past
`exact_count_up_to` rows, the paginator takes the planner's estimate
(`pg_class.reltuples`, kept by autovacuum's ANALYZE) instead; a filtered or
searched list, SQLite, and a table never analysed are counted exactly.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property


class EstimatedCountPaginator(Paginator):
    exact_count_up_to = 1_000

    @cached_property
    def count(self) -> int:
        estimate = _estimated_rows(self.object_list)
        if estimate is not None and estimate > self.exact_count_up_to:
            return estimate
        return super().count


def _estimated_rows(queryset) -> int | None:
    """The planner's row count of the queryset's table, when the queryset is the whole table."""
    query = getattr(queryset, "query", None)
    if query is None or query.where or query.distinct or query.combinator or query.is_sliced:
        return None
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
            [connection.ops.quote_name(queryset.model._meta.db_table)],
        )
        row = cursor.fetchone()
    # -1: never analysed (PostgreSQL 14 and later); 0 may be "not yet" as well.
    return int(row[0]) if row and row[0] > 0 else None


class LargeTableAdminMixin:
    """For the admins of tables that grow with use (videos, analyses, messages, segments)."""

    paginator = EstimatedCountPaginator
    # The second count, of the whole table, that a filtered list shows ("3 of 1,234,567").
    show_full_result_count = False
