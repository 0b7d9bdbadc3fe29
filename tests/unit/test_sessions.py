"""Management sessions and failed sign-ins, on a real SQLite database: a session token
signs its member in until it is closed or expires, is stored only as a hash, and is never
in the audit log; failed sign-ins of known accounts are counted from the log."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from keys import directory, sessions
from keys.audit import Actor
from keys.core import Core
from keys.models import ApiSession, AuditEvent, Org, User

PASSWORD = "correct horse battery staple"


@pytest.fixture
def grace(session: Session, actor: Actor, org: Org) -> User:
    user = directory.create_user(
        session,
        actor=actor,
        org_id=org.id,
        email="grace@example.com",
        name="Grace",
        role="admin",
        password=PASSWORD,
    )
    session.commit()
    return user


def _open(session: Session, core: Core, user: User, ttl_seconds: int = 3600) -> sessions.NewSession:
    opened = sessions.open_session(
        session, core, user, Actor("user", user.id, user.email), ttl_seconds, {"via": "api"}
    )
    session.commit()
    return opened


def test_a_session_token_signs_its_member_in_and_is_kept_only_as_a_hash(
    session: Session, core: Core, grace: User
) -> None:
    opened = _open(session, core, grace)
    assert opened.token.startswith(core.prefixes.session_token + "_")
    found = sessions.session_user(session, core, opened.token)
    assert found is not None and found[1] is grace and found[0].id == opened.session.id
    row = session.scalars(select(ApiSession)).one()
    assert opened.token not in repr([getattr(row, c.key) for c in row.__table__.columns])
    assert sessions.live_session(session, row.id, grace.id) is row
    assert sessions.live_session(session, row.id, grace.id + 1) is None  # someone else's id

    created = session.scalars(select(AuditEvent).where(AuditEvent.action == "session.created"))
    (event,) = created.all()
    assert opened.token.startswith(event.target_prefix + "_")
    assert opened.token not in repr((event.target_name, event.target_prefix, event.details))
    assert event.details == {"via": "api"}


def test_a_wrong_malformed_or_foreign_token_signs_no_one_in(
    session: Session, core: Core, grace: User
) -> None:
    token = _open(session, core, grace).token
    wrong_secret = token[:-8] + ("A" if token[-8] != "A" else "B") + token[-7:]
    for candidate in (wrong_secret, token[:-1], "garbage", "", token.replace("lkst", "lk", 1)):
        assert sessions.session_user(session, core, candidate) is None, candidate
    assert sessions.session_user(session, core, token) is not None


def test_a_closed_or_expired_session_signs_no_one_in(
    session: Session, core: Core, actor: Actor, grace: User
) -> None:
    closing, other = _open(session, core, grace), _open(session, core, grace)
    sessions.close_session(session, closing.session, actor)
    session.commit()
    assert sessions.session_user(session, core, closing.token) is None
    assert sessions.live_session(session, closing.session.id, grace.id) is None
    assert sessions.session_user(session, core, other.token) is not None  # only that one
    assert [
        e.target_id
        for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "session.deleted"))
    ] == [str(closing.session.id)]

    brief = _open(session, core, grace, ttl_seconds=1)
    assert sessions.session_user(session, core, brief.token) is not None
    time.sleep(1.05)
    assert sessions.session_user(session, core, brief.token) is None
    assert sessions.live_session(session, brief.session.id, grace.id) is None


def test_failed_sign_ins_of_known_accounts_are_counted_without_the_password(
    session: Session, actor: Actor, grace: User
) -> None:
    since = int(time.time() * 1000) - 1
    for _ in range(3):
        sessions.record_failed_sign_in(session, " GRACE@example.com", actor)
    sessions.record_failed_sign_in(session, "nobody@example.com", actor)  # no org to count in
    sessions.record_failed_sign_in(session, "nul\x00@example.com", actor)
    session.commit()
    times = sessions.failed_sign_ins(session, "grace@example.com", since)
    assert len(times) == 3 and times == sorted(times)
    assert sessions.failed_sign_ins(session, "grace@example.com", times[-1] + 1) == []
    assert sessions.failed_sign_ins(session, "nobody@example.com", since) == []
    failed = session.scalars(select(AuditEvent).where(AuditEvent.action == "session.failed"))
    assert {(e.org_id, e.target_name) for e in failed} == {(grace.org_id, "grace@example.com")}
