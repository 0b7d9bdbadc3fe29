"""Pruning (``flask --app app prune``): what has outlived its use goes, in bounded batches,
and nothing else does."""

from __future__ import annotations

import time

from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from keys import retention
from keys.clock import now_ms
from keys.models import ApiSession, Org, RevokedToken, User

DAY_MS = 24 * 3600 * 1000


def test_expired_revocations_go_in_batches_and_live_ones_stay(
    engine: Engine, session: Session
) -> None:
    now = int(time.time())
    session.add_all(RevokedToken(jti=f"old-{i}", expires_at=now - 1) for i in range(5))
    session.add(RevokedToken(jti="live", expires_at=now + 600))
    session.commit()
    deletes: list[str] = []
    event.listen(
        engine,
        "before_cursor_execute",
        lambda *a: deletes.append(a[2]) if a[2].startswith("DELETE") else None,
    )

    assert retention.prune_revocations(session, batch=2) == 5
    assert len(deletes) == 3  # 2 + 2 + 1: a bounded number of rows per statement
    assert list(session.scalars(select(RevokedToken.jti))) == ["live"]
    assert retention.prune_revocations(session, batch=2) == 0


def test_sessions_go_a_day_after_they_ended(session: Session, org: Org) -> None:
    user = User(org_id=org.id, email="m@example.com", name="M", role="member")
    session.add(user)
    session.flush()
    now = now_ms()

    def add(public_id: str, expires_at: int, revoked_at: int | None = None) -> None:
        session.add(
            ApiSession(
                public_id=public_id,
                user_id=user.id,
                secret_hash="h",
                expires_at=expires_at,
                revoked_at=revoked_at,
            )
        )

    add("live", now + DAY_MS)
    add("expired-now", now - 60_000)
    add("signed-out-now", now + DAY_MS, revoked_at=now - 60_000)
    add("expired-long-ago", now - DAY_MS - 60_000)
    add("signed-out-long-ago", now + DAY_MS, revoked_at=now - 2 * DAY_MS)
    session.commit()

    assert retention.prune_sessions(session, batch=1) == 2
    left = set(session.scalars(select(ApiSession.public_id)))
    assert left == {"live", "expired-now", "signed-out-now"}
