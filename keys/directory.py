"""Orgs, teams and members: who may manage credentials (their sign-in sessions are
:mod:`keys.sessions`).

Same conventions as the credential services: validate, change, add the audit event, and let
the caller commit once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from keys.audit import Actor, Target, record, record_changes
from keys.base import DbSession
from keys.clock import now_ms, wait_for_second
from keys.errors import Conflict, NotFound, ValidationFailed
from keys.hashing import hash_password
from keys.limits import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from keys.models import ApiKey, OAuthApp, Org, Team, User, UserKey
from keys.pagination import page
from keys.row_lock import hold, hold_and_reload
from keys.validation import checked_email, checked_name

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
    # Compared here, not in SQL: SQLite's lower() folds ASCII letters only, so a second
    # "Équipe" passed the check and hit the unique constraint (a 500). An org has few teams.
    taken = session.scalars(select(Team.name).where(Team.org_id == org_id))
    if any(existing.lower() == name.lower() for existing in taken):
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
    if password and not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise ValidationFailed.one(
            "password", f"must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
        )
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
