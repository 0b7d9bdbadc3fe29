"""Keyset pagination, newest first: cost stays flat however many rows there are."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from keys.base import DbSession


def page(
    session: DbSession,
    stmt: Select[Any],
    id_column: InstrumentedAttribute[Any],
    limit: int,
    cursor: int | None,
) -> tuple[list[Any], int | None]:
    """One page of ``stmt`` ordered by id descending, and the cursor of the next page."""
    if cursor is not None:
        stmt = stmt.where(id_column < cursor)
    rows = list(session.scalars(stmt.order_by(id_column.desc()).limit(limit + 1)))
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, int(getattr(rows[-1], "id"))  # noqa: B009
    return rows, None
