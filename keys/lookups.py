"""The hot path's reads by unique column: prebuilt Core statements on a read connection of
the thread's own.

A credential the process has not cached (one of 200,000 keys, each used now and then) costs
one indexed read, and everything around that read is what the miss costs. Per read, on
SQLite (``bench/lookup_cost.py``; issue 15's notes have the figures of both databases):
building the ``select()`` and its cache key and running it through the ORM session, 175 to
256 us; a statement built once (its cache key is then memoized), 30 to 38 us; a session
opened and closed around it, 75 us, and a request that missed paid that too. So:

* the statements are built once, at import;
* they run on a connection each thread keeps for reads, in autocommit, outside the request's
  session: each read is its own statement and sees every change committed before it (what
  :mod:`keys.state_cache` relies on), and a request answered from these reads alone never
  checks a connection out of the pool, begins or rolls back (on PostgreSQL, two round trips
  fewer). The hot path only reads, so nothing needs to see a write of its own request.

The connection is dropped after any database error (the next read opens a new one, so an
outage ends by itself) and in a forked child (a connection is never shared across a fork).
Statements still go through SQLAlchemy's Core execution: its events, error wrapping and
disconnect handling.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Row, Select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import SingletonThreadPool, StaticPool

from keys.base import DbSession
from keys.process import process_id

#: Pools that hand every caller the same connection (in-memory SQLite in tests): a read
#: connection of its own would switch the session's connection to autocommit.
_SHARED_POOLS = (StaticPool, SingletonThreadPool)

_local = threading.local()
#: Connections a forked child inherited: kept referenced, never used or closed, so that no
#: finalizer ever sends anything on the parent's socket from here.
_inherited: list[Connection] = []


def one(session: DbSession, statement: Select[*tuple[Any, ...]], **params: Any) -> Row[Any] | None:
    """The one row ``statement`` (built once, with bound parameters) selects, or None, read
    committed on this thread's read connection to the session's database."""
    engine = session.get_bind().engine
    if isinstance(engine.pool, _SHARED_POOLS):  # one connection for all: the session's
        return session.connection().execute(statement, params).one_or_none()
    connection = _connection(engine)
    try:
        return connection.execute(statement, params).one_or_none()
    except DBAPIError:
        _drop(connection)
        raise


def _connection(engine: Engine) -> Connection:
    held: dict[int, tuple[int, Connection]] | None = getattr(_local, "held", None)
    if held is None:
        held = _local.held = {}
    found = held.get(id(engine))
    if found is not None:
        pid, kept = found
        if pid == process_id() and not kept.closed and kept.engine is engine:
            return kept
        if pid != process_id():
            _inherited.append(kept)
        elif kept.engine is not engine:  # another engine under a recycled id (tests)
            kept.close()
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    held[id(engine)] = (process_id(), connection)
    return connection


def _drop(connection: Connection) -> None:
    held: dict[int, tuple[int, Connection]] = getattr(_local, "held", {})
    for key, (_, kept) in list(held.items()):
        if kept is connection:
            del held[key]
    try:
        connection.invalidate()
        connection.close()
    except Exception:  # noqa: S110 - a dead connection may fail to close; it is gone either way
        pass
