"""Numbered pages for the long lists (videos, conversations).

A page is a plain value (the rows plus where it sits), so it can live in the
per-user Redis cache; Django's `Page` holds the queryset and would not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest

# Beyond this a `?page=` is someone's typo or a probe; the last page answers it anyway.
MAX_PAGE = 10_000


@dataclass(frozen=True)
class Page:
    items: list[Any]
    number: int
    num_pages: int
    count: int

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    @property
    def previous_number(self) -> int:
        return self.number - 1

    @property
    def next_number(self) -> int:
        return self.number + 1


def requested_page(request: HttpRequest) -> int:
    """The `?page=` asked for: a bad or missing value is the first page."""
    try:
        number = int(request.GET.get("page", "1"))
    except ValueError:
        return 1
    return min(max(number, 1), MAX_PAGE)


def paginate(rows, number: int, per_page: int) -> Page:
    """Page `number` of `rows` (a queryset is sliced in SQL); past the end, the last page."""
    page = Paginator(rows, per_page).get_page(number)
    return Page(list(page.object_list), page.number, page.paginator.num_pages, page.paginator.count)
