"""Named leases in the database: at most one live process holds each.

The scheduler of expiry events runs once per deployment, and on SQLite one process delivers:
each takes a lease. The holder renews it while it works; a holder that dies stops renewing,
and after ``ttl_ms`` another process takes the lease over. Taking and renewing are one
conditional ``UPDATE`` (or the first ``INSERT``), atomic on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keys.webhooks.models import WorkerLease

SCHEDULER = "webhook-scheduler"
DELIVERY = "webhook-delivery"


def hold(session: Session, name: str, holder: str, now: int, ttl_ms: int) -> bool:
    """Take or renew the lease ``name`` for ``holder``; whether it holds it now. Commits.

    A process that does not hold it only reads (SQLite would otherwise take its write lock on
    every poll of every process); the holder renews once half the lease has passed."""
    row = session.execute(
        select(WorkerLease.holder, WorkerLease.expires_at).where(WorkerLease.name == name)
    ).first()
    session.rollback()
    if row is not None:
        mine = row.holder == holder
        if mine and row.expires_at - now > ttl_ms // 2:
            return True
        if not mine and row.expires_at >= now:
            return False
        taken = session.execute(
            update(WorkerLease)
            .where(
                WorkerLease.name == name,
                or_(WorkerLease.holder == holder, WorkerLease.expires_at < now),
            )
            .values(holder=holder, expires_at=now + ttl_ms)
            .execution_options(synchronize_session=False)
        )
        session.commit()
        return bool(getattr(taken, "rowcount", 0) == 1)
    session.add(WorkerLease(name=name, holder=holder, expires_at=now + ttl_ms))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()  # another process made it first
        return False
    return True


def release(session: Session, name: str, holder: str) -> None:
    """Give the lease up (a graceful stop), so another process need not wait it out."""
    session.execute(
        delete(WorkerLease).where(WorkerLease.name == name, WorkerLease.holder == holder)
    )
    session.commit()
