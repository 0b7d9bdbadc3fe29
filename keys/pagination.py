"""Keyset pagination, newest first: cost stays flat however many rows there are."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

T = TypeVar("T")

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


def page(
    session: Session,
    stmt: Select[tuple[T]],
    id_column: InstrumentedAttribute[Any],
    limit: int,
    cursor: int | None,
) -> tuple[list[T], int | None]:
    """One page of ``stmt`` ordered by id descending, and the cursor of the next page."""
    if cursor is not None:
        stmt = stmt.where(id_column < cursor)
    rows = list(session.scalars(stmt.order_by(id_column.desc()).limit(limit + 1)))
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, int(getattr(rows[-1], "id"))  # noqa: B009
    return rows, None
