"""The hot path's reads by unique column, as prebuilt Core statements.

A credential the process has not cached (one of 200,000 keys, each used now and then) costs
one indexed read. Through the ORM session, building the ``select()``, its cache key and the
ORM's result machinery cost six times the read itself; a statement built once (its cache key
is then memoized) and executed on the session's connection, with Core rows, costs 38 us on
SQLite against 256 us (``/tmp/prof/lookup.py``, quoted in issue 15's notes; the driver alone
would be 17 us, but would hide the statement from SQLAlchemy's events and error handling).

Each lookup runs inside the session's transaction, as any of its statements would.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, Select

from keys.base import DbSession


def one(session: DbSession, statement: Select[*tuple[Any, ...]], **params: Any) -> Row[Any] | None:
    """The one row ``statement`` (built once, with bound parameters) selects, or None."""
    return session.connection().execute(statement, params).one_or_none()
