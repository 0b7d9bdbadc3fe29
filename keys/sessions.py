"""Management sign-in sessions: passwords checked, sessions opened, found and closed.

A session is a row whose token (``<session kind>_<public id>_<secret>``) is shown once and
stored as its keyed hash, like every machine secret; the API sends the token as a bearer
credential, the console keeps the row's id in its signed cookie. Same conventions as the
other services: validate, change, add the audit event, and let the caller commit once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from keys import format as fmt
from keys import retention
from keys.audit import Actor, Target, record
from keys.base import DbSession
from keys.clock import now_ms
from keys.core import Core
from keys.hashing import dummy_password_check, verify_password
from keys.models import ApiSession, AuditEvent, User
from keys.validation import control_problem, normalized_email


@dataclass(frozen=True, slots=True)
class NewSession:
    session: ApiSession
    token: str


def _account(session: DbSession, email: str) -> User | None:
    """The member who signs in as ``email`` (typed by anyone, so anything), or None. No
    stored email holds a control character, and PostgreSQL cannot compare text with NUL: such
    an email is simply no one's, without a query."""
    email = normalized_email(email)
    if control_problem(email):
        return None
    return session.scalar(select(User).where(User.email == email))


def authenticate_password(session: DbSession, email: str, password: str) -> User | None:
    """The user whose email and password these are, or None (same cost either way)."""
    user = _account(session, email)
    if user is None or user.password_hash is None:
        dummy_password_check(password)
        return None
    return user if verify_password(password, user.password_hash) else None


def failed_sign_ins(session: DbSession, email: str, since_ms: int) -> list[int]:
    """Times (ms, oldest first) of this account's failed sign-ins since ``since_ms``.

    Counted from the ``session.failed`` audit events, i.e. from the database that every
    process shares. An in-process limiter alone is per worker: the embedded default runs
    several workers without Redis, and each would allow the full number of guesses.
    Unknown accounts have no org to record in and yield ``[]``.
    """
    user = _account(session, email)
    if user is None:
        return []
    stmt = (
        select(AuditEvent.at)
        .where(
            AuditEvent.org_id == user.org_id,
            AuditEvent.action == "session.failed",
            AuditEvent.target_name == user.email,
            AuditEvent.at >= since_ms,
        )
        .order_by(AuditEvent.at)
    )
    return list(session.scalars(stmt))


def record_failed_sign_in(session: DbSession, email: str, actor: Actor) -> None:
    """Add a ``session.failed`` event for a known account (the caller commits).

    Unknown emails are not recorded: they have no org, and recording them would let anyone
    grow the table at will. The attempted password is never part of the event.
    """
    user = _account(session, email)
    if user is None:
        return
    record(
        session,
        org_id=user.org_id,
        verb="failed",
        actor=actor,
        target=Target("session", None, user.email),
    )


def open_session(
    session: DbSession,
    core: Core,
    user: User,
    actor: Actor,
    ttl_seconds: int,
    details: dict[str, Any] | None = None,
) -> NewSession:
    """A session of ``user`` for ``ttl_seconds``; ``details`` go into its audit event."""
    new = fmt.generate(core.prefixes.session_token)
    row = ApiSession(
        public_id=new.public_id,
        user_id=user.id,
        secret_hash=core.hasher.digest(new.plaintext),
        expires_at=now_ms() + ttl_seconds * 1000,
    )
    session.add(row)
    session.flush()
    record(
        session,
        org_id=user.org_id,
        verb="created",
        actor=actor,
        target=Target("session", row.id, user.email, new.display_prefix),
        details=details,
    )
    return NewSession(row, new.plaintext)


def session_user(session: DbSession, core: Core, token: str) -> tuple[ApiSession, User] | None:
    """The live session and its user for a session token, or None."""
    try:
        parsed = fmt.parse(token, core.prefixes.session_token)
    except fmt.MalformedCredential:
        return None
    row = session.scalar(select(ApiSession).where(ApiSession.public_id == parsed.public_id))
    if (
        row is None
        or row.revoked_at is not None
        or row.expires_at <= now_ms()
        or not core.hasher.matches(token, row.secret_hash)
    ):
        return None
    return row, row.user


def live_session(session: DbSession, session_id: int, user_id: int) -> ApiSession | None:
    """Session ``session_id`` of user ``user_id`` if it is neither signed out nor expired.

    For callers that hold the row's id in a place only the server can write (the console's
    signed cookie) rather than the session token itself.
    """
    row = session.get(ApiSession, session_id)
    if (
        row is None
        or row.user_id != user_id
        or row.revoked_at is not None
        or row.expires_at <= now_ms()
    ):
        return None
    return row


def close_session(
    session: DbSession, row: ApiSession, actor: Actor, details: dict[str, Any] | None = None
) -> None:
    row.revoked_at = now_ms()
    record(
        session,
        org_id=row.user.org_id,
        verb="deleted",
        actor=actor,
        target=Target("session", row.id, row.user.email),
        details=details,
    )
    # Sessions are short-lived; dropping the ended ones here keeps the table small between
    # runs of `flask --app app prune`.
    session.execute(delete(ApiSession).where(retention.session_ended(now_ms())))
