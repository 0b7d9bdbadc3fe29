"""Row locks for changes that read a record, decide, then write it: one at a time per row.

A lifecycle change decides on what it read (a key is active, so it may be rotated; a team
has no credentials, so it may be deleted). Two such changes at the same moment would both
decide on the same old state and both write: a rotation's secret overwritten by another, a
revoke undone by a rotation that kept the old secret, a 500 from the foreign key that caught
what the checks missed. Holding the row while deciding makes them take turns: the second
waits for the first to commit, then reads the row as it now is.

The lock is taken by an UPDATE that sets ``created_at`` (and any column with an update
default, such as ``updated_at``) to itself: nothing changes, but the statement is a write.
On PostgreSQL it takes the row's lock as ``SELECT … FOR UPDATE`` would (FOR NO KEY UPDATE,
which conflicts with itself and with a DELETE); on SQLite, which has no row locks, it starts
the database's one write transaction at once, as ``BEGIN IMMEDIATE`` would, and a writer
always reads the latest commit. One statement, the same on both backends, with no version
column and no migration; the cost, a row version on PostgreSQL, is paid only by management
changes, never by the verification path (readers are not blocked on either backend).
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, update

from keys import state_cache
from keys.base import Base, DbSession
from keys.errors import NotFound


def hold(session: DbSession, model: type[Base], *where: Any) -> int:
    """Lock the rows of ``model`` that match ``where`` until the caller's transaction ends;
    returns how many there are (0: none, nothing locked)."""
    table: Any = model.__table__
    unchanged = {c: c for c in table.columns if c.name == "created_at" or c.onupdate}
    statement = (
        update(table)
        .where(*where)
        .values(unchanged)
        # The statement changes nothing a cache holds; the change that follows says so itself.
        .execution_options(**{state_cache.OPTION: False})
    )
    return cast(CursorResult[Any], session.execute(statement)).rowcount


def hold_and_reload(session: DbSession, record: Any, what: str) -> None:
    """Lock ``record``'s row and read it again, before deciding anything on it.

    ``record`` was loaded by this request, so if its row is gone now it was deleted at the
    same moment: that is a 404, like any id that names nothing.
    """
    model = type(record)
    if not hold(session, model, model.id == record.id):
        raise NotFound(f"No {what} {record.id} in this organization: it was just deleted.")
    session.refresh(record)
