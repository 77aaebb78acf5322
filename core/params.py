"""Ids read from a query string or a form, where a malformed one means "none".

A view that looks an object up by an id the user typed filters on a parsed
UUID: handed the raw text, the ORM raises ValidationError for anything that is
not one (a 500), and PostgreSQL refuses a NUL character in it (ValueError).
"""

from __future__ import annotations

from uuid import UUID


def uuid_or_none(value: str | None) -> UUID | None:
    """The UUID this text spells (any of the forms UUID() reads); None for no or a bad one."""
    if not value:
        return None
    try:
        return UUID(value)
    except ValueError:
        return None
