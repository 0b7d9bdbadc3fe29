"""What is kept, for how long, and the pruning of what has outlived it
(``flask --app app prune``).

* A revoked access token's jti is kept until the token would have expired anyway: past its
  ``exp`` the token is refused for its age, so the row answers nothing any more.
* A sign-in session (API or console) is kept for a day after it ended (expired or signed
  out), so "signed out" can still be told from "unknown" for a while; then it goes.
* A webhook delivery that is finished (delivered, or failed for good) is kept for 30 days,
  for the deliveries list and redelivery; an event goes once no delivery of it is left (and
  it is as old); an expiry notice once its moment is 30 days past. Pending deliveries stay,
  however old (a disabled endpoint's wait for it to be enabled again).

Pruning deletes in batches of a bounded number of rows per statement, each batch its own
transaction, so a large backlog never holds a long lock or a huge transaction, and a run
that is interrupted has kept what it did.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, and_, delete, exists, or_, select
from sqlalchemy.orm import Session

from keys import state_cache
from keys.clock import now_ms
from keys.models import ApiSession, RevokedToken
from keys.webhooks.models import WebhookDelivery, WebhookEvent, WebhookNotice

#: How long a session row stays after it ended.
SESSION_KEPT_MS = 24 * 3600 * 1000

#: How long finished webhook deliveries (and their events, and expiry notices) stay.
WEBHOOK_KEPT_MS = 30 * 24 * 3600 * 1000

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


def prune_webhook_deliveries(session: Session, batch: int = BATCH_ROWS) -> int:
    """Delete finished webhook deliveries older than 30 days; how many."""
    old = and_(
        WebhookDelivery.status != "pending",
        WebhookDelivery.created_at < now_ms() - WEBHOOK_KEPT_MS,
    )
    return _prune(session, WebhookDelivery.id, old, batch, changes_credential_state=False)


def prune_webhook_events(session: Session, batch: int = BATCH_ROWS) -> int:
    """Delete webhook events older than 30 days that no delivery needs, and the expiry
    notices of moments 30 days past; how many."""
    before = now_ms() - WEBHOOK_KEPT_MS
    unused = and_(
        WebhookEvent.created_at < before,
        ~exists().where(WebhookDelivery.event_id == WebhookEvent.id),
    )
    events = _prune(session, WebhookEvent.id, unused, batch, changes_credential_state=False)
    notices = _prune(
        session, WebhookNotice.id, WebhookNotice.at < before, batch, changes_credential_state=False
    )
    return events + notices


@dataclass(frozen=True, slots=True)
class Pruner:
    #: What is pruned, as the command's result line names it.
    label: str
    prune: Callable[[Session, int], int]


#: Every kind of row that outlives its use, in the order ``prune`` deletes them.
PRUNERS = (
    Pruner("expired revocation entries", prune_revocations),
    Pruner("ended sign-in sessions", prune_sessions),
    Pruner("finished webhook deliveries", prune_webhook_deliveries),
    Pruner("webhook events and expiry notices", prune_webhook_events),
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
