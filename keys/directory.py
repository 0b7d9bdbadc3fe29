"""Orgs, teams, members and management sessions: who may manage credentials.

Same conventions as the credential services: validate, change, add the audit event, and let
the caller commit once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError

from keys import format as fmt
from keys.audit import Actor, Target, record, record_changes
from keys.base import DbSession, now_ms, wait_for_second
from keys.core import Core
from keys.errors import Conflict, NotFound, ValidationFailed
from keys.hashing import dummy_password_check, hash_password, verify_password
from keys.models import ApiKey, ApiSession, AuditEvent, OAuthApp, Org, Team, User, UserKey
from keys.pagination import page
from keys.row_lock import hold, hold_and_reload
from keys.validation import checked_email, checked_name, control_problem, normalized_email

# -- orgs -----------------------------------------------------------------------------------


def _org_target(org: Org) -> Target:
    return Target("org", org.id, org.name)


def create_org(session: DbSession, *, actor: Actor, name: str, api_access: bool) -> Org:
    org = Org(name=checked_name(name), api_access=api_access)
    session.add(org)
    session.flush()
    record(
        session,
        org_id=org.id,
        verb="created",
        actor=actor,
        target=_org_target(org),
        details={"api_access": api_access},
    )
    return org


def get_org(session: DbSession, org_id: int) -> Org:
    org = session.get(Org, org_id)
    if org is None:
        raise NotFound(f"No organization {org_id}.")
    return org


def update_org(session: DbSession, org: Org, actor: Actor, changes: dict[str, Any]) -> Org:
    """Switching ``api_access`` off stops every credential of the org at once (a state
    check), and ends for good the access tokens issued until then: switching it back on
    lets the org's apps get new tokens, not revive old ones."""
    before = {k: getattr(org, k) for k in changes}
    if "name" in changes:
        changes = {**changes, "name": checked_name(changes["name"])}
    if changes.get("api_access") is False and org.api_access:
        org.tokens_valid_after = now_ms() // 1000 + 1
    elif changes.get("api_access") is True and not org.api_access:
        wait_for_second(org.tokens_valid_after)
    for key, value in changes.items():
        setattr(org, key, value)
    record_changes(
        session, org_id=org.id, actor=actor, target=_org_target(org), before=before, after=changes
    )
    return org


def list_orgs(
    session: DbSession, *, limit: int, cursor: int | None
) -> tuple[list[Org], int | None]:
    return page(session, select(Org), Org.id, limit, cursor)


# -- teams ----------------------------------------------------------------------------------


def create_team(session: DbSession, *, org_id: int, actor: Actor, name: str) -> Team:
    """Team names are unique in an org regardless of case. The org is held while checking,
    so two teams named alike at the same moment make one team: the second request gets the
    same 422 as a duplicate sent later (the unique constraint, which is case-sensitive,
    would make it a 500, and would let "Ops" and "OPS" both in)."""
    name = checked_name(name)
    hold(session, Org, Org.id == org_id)
    exists = session.scalar(
        select(Team.id).where(Team.org_id == org_id, func.lower(Team.name) == name.lower())
    )
    if exists is not None:
        raise ValidationFailed.one("name", f"a team named {name!r} already exists")
    team = Team(org_id=org_id, name=name)
    session.add(team)
    session.flush()
    record(
        session, org_id=org_id, verb="created", actor=actor, target=Target("team", team.id, name)
    )
    return team


def get_team(session: DbSession, org_id: int, team_id: int) -> Team:
    team = session.scalar(select(Team).where(Team.id == team_id, Team.org_id == org_id))
    if team is None:
        raise NotFound(f"No team {team_id} in this organization.")
    return team


def list_teams(
    session: DbSession, org_id: int, *, limit: int, cursor: int | None
) -> tuple[list[Team], int | None]:
    return page(session, select(Team).where(Team.org_id == org_id), Team.id, limit, cursor)


def team_users(session: DbSession, team_id: int) -> list[tuple[str, str]]:
    """(kind, name) of every credential bound to the team: what blocks its deletion."""
    found: list[tuple[str, str]] = []
    for kind, model in (("API key", ApiKey), ("OAuth app", OAuthApp), ("user key", UserKey)):
        names = session.scalars(select(model.name).where(model.team_id == team_id))
        found.extend((kind, name) for name in names)
    return found


def deletion_blocker(session: DbSession, team: Team) -> str | None:
    """Why the team cannot be deleted (the credentials bound to it), or None."""
    users = team_users(session, team.id)
    if not users:
        return None
    names = ", ".join(f"{kind} {name!r}" for kind, name in users[:5])
    return (
        f"Team {team.name!r} is used by {len(users)} credential(s) ({names}). "
        "Move them to another team or delete them first."
    )


def delete_team(session: DbSession, team: Team, actor: Actor) -> None:
    """Refused (409) while credentials are bound to the team. Held first, so a credential
    being bound to it at the same moment (:func:`keys.validation.team_of_org`) is either
    committed and seen here, or refused there."""
    hold_and_reload(session, team, "team")
    blocker = deletion_blocker(session, team)
    if blocker:
        raise Conflict(blocker)
    record(
        session,
        org_id=team.org_id,
        verb="deleted",
        actor=actor,
        target=Target("team", team.id, team.name),
    )
    session.delete(team)


# -- users ----------------------------------------------------------------------------------


def create_user(
    session: DbSession,
    *,
    actor: Actor,
    org_id: int,
    email: str,
    name: str,
    role: str,
    password: str | None,
    is_platform_admin: bool = False,
    name_the_org: bool = False,
) -> User:
    """A member of ``org_id``. The email is normalized (:func:`keys.validation.checked_email`)
    and belongs to one member of one org.

    An address that is taken gets one answer, 422 with the same message, whether its member
    is in this org or in another: an org admin must not learn from Latchkey which addresses
    have accounts elsewhere. (That the address cannot be added is unavoidable while one
    address signs in one account; the answer says nothing of where that account is.) A
    platform admin, who sees every org anyway, is told which org holds it (``name_the_org``).
    """
    email = checked_email(email)
    name = checked_name(name)
    holder = session.scalar(select(User.org_id).where(User.email == email))
    if holder is not None:
        raise _email_taken(email, holder if name_the_org else None)
    user = User(
        org_id=org_id,
        email=email,
        name=name,
        role=role,
        is_platform_admin=is_platform_admin,
        password_hash=hash_password(password) if password else None,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:  # added by another request at the same moment
        raise _email_taken(email, None) from exc
    record(
        session,
        org_id=org_id,
        verb="created",
        actor=actor,
        target=Target("user", user.id, email),
        details={"role": role, "can_log_in": bool(password)},
    )
    return user


def _email_taken(email: str, holder_org: int | None) -> ValidationFailed:
    if holder_org is not None:
        return ValidationFailed.one(
            "email", f"{email} already belongs to a member of organization {holder_org}"
        )
    return ValidationFailed.one(
        "email",
        f"{email} already belongs to an account, and an address can belong to one account "
        "only; use another address",
    )


def list_users(
    session: DbSession, org_id: int, *, limit: int, cursor: int | None
) -> tuple[list[User], int | None]:
    return page(session, select(User).where(User.org_id == org_id), User.id, limit, cursor)


# -- management sessions --------------------------------------------------------------------


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
    # Sessions are short-lived; dropping the expired ones here keeps the table small.
    session.execute(
        delete(ApiSession).where(
            or_(
                ApiSession.expires_at < now_ms() - 86_400_000,
                ApiSession.revoked_at < now_ms() - 86_400_000,
            )
        )
    )
