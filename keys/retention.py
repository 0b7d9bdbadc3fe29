"""What is kept, for how long, and the pruning of what has outlived it
(``flask --app app prune``).

* A revoked access token's jti is kept until the token would have expired anyway: past its
  ``exp`` the token is refused for its age, so the row answers nothing any more.
* A sign-in session (API or console) is kept for a day after it ended (expired or signed
  out), so "signed out" can still be told from "unknown" for a while; then it goes.
* Delivered webhook outbox rows will join here (:data:`PRUNERS`) when the outbox exists.

Pruning deletes in batches of a bounded number of rows per statement, each batch its own
transaction, so a large backlog never holds a long lock or a huge transaction, and a run
that is interrupted has kept what it did.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, delete, or_, select
from sqlalchemy.orm import Session

from keys import state_cache
from keys.clock import now_ms
from keys.models import ApiSession, RevokedToken

#: How long a session row stays after it ended.
SESSION_KEPT_MS = 24 * 3600 * 1000

#: Rows per DELETE statement.
BATCH_ROWS = 1000


def revocation_expired(now_seconds: int) -> ColumnElement[bool]:
    """Revoked token ids whose token has expired (``exp`` is in seconds, as in the token)."""
    return RevokedToken.expires_at < now_seconds


def session_ended(now: int) -> ColumnElement[bool]:
    """Sessions that ended (expired or signed out) more than :data:`SESSION_KEPT_MS` ago."""
    before = now - SESSION_KEPT_MS
    return or_(ApiSession.expires_at < before, ApiSession.revoked_at < before)


def prune_revocations(session: Session, batch: int = BATCH_ROWS) -> int:
    """Delete the revoked token ids of expired tokens; how many."""
    condition = revocation_expired(int(time.time()))
    # The cached "revoked" answers they held are for tokens refused by age anyway: no
    # process needs to be told.
    return _prune(session, RevokedToken.jti, condition, batch, changes_credential_state=False)


def prune_sessions(session: Session, batch: int = BATCH_ROWS) -> int:
    """Delete sessions that ended more than a day ago; how many."""
    return _prune(session, ApiSession.id, session_ended(now_ms()), batch)


@dataclass(frozen=True, slots=True)
class Pruner:
    #: What is pruned, as the command's result line names it.
    label: str
    prune: Callable[[Session, int], int]


#: Every kind of row that outlives its use, in the order ``prune`` deletes them.
PRUNERS = (
    Pruner("expired revocation entries", prune_revocations),
    Pruner("ended sign-in sessions", prune_sessions),
    # The webhook outbox's delivered rows go here when the outbox exists.
)


def _prune(
    session: Session,
    key: Any,
    condition: ColumnElement[bool],
    batch: int,
    changes_credential_state: bool = True,
) -> int:
    """Delete the rows matching ``condition``, ``batch`` at a time, each batch committed."""
    table = key.table
    total = 0
    while True:
        chosen = select(key).where(condition).limit(batch)
        statement = delete(table).where(key.in_(chosen))
        if not changes_credential_state:
            statement = statement.execution_options(**{state_cache.OPTION: False})
        result: CursorResult[Any] = session.execute(statement)  # type: ignore[assignment]
        deleted = int(result.rowcount)
        session.commit()
        total += deleted
        if deleted < batch:
            return total
