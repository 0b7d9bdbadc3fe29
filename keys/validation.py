"""Rules shared by the lifecycle services: names and emails people type, scopes from the
catalog, teams of the same org, record ids written as text."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import select

from keys.base import DbSession
from keys.errors import NotFound, ValidationFailed
from keys.limits import MAX_EMAIL_LENGTH, MAX_GRACE_SECONDS, MAX_NAME_LENGTH, MAX_RECORD_ID
from keys.models import Team

T = TypeVar("T")


def control_problem(value: str) -> str | None:
    """Why typed text holding a control character (Unicode category Cc: NUL, tab, newline,
    ...) is refused, or None. Such text is one line in lists, messages and the audit log,
    and PostgreSQL cannot store NUL in text (nor compare with it: a query with NUL fails)."""
    control = next((c for c in value if unicodedata.category(c) == "Cc"), None)
    if control is None:
        return None
    return (
        f"must not contain control characters (it has U+{ord(control):04X}); "
        "type it on one line, without tabs"
    )


def name_problem(value: str) -> str | None:
    """What is wrong with a name someone typed (already trimmed), in words they can act on;
    None when nothing is."""
    if not 1 <= len(value) <= MAX_NAME_LENGTH:
        return f"must be 1 to {MAX_NAME_LENGTH} characters"
    return control_problem(value)


def email_problem(value: str) -> str | None:
    """What is wrong with an email someone typed (already trimmed), or None. Our rule is
    something@somewhere without spaces or control characters, not RFC 5322: the address only
    has to be one a member can type to sign in."""
    local, at, domain = value.rpartition("@")
    if not (at and local and domain) or any(c.isspace() for c in value):
        return "must be an email address like ada@example.com"
    if len(value) > MAX_EMAIL_LENGTH:
        return f"must be at most {MAX_EMAIL_LENGTH} characters"
    return control_problem(value)


def checked_name(value: str, field: str = "name") -> str:
    """A name as stored (keys, apps, teams, orgs, members, resource servers): trimmed, 1 to
    100 characters, no control character; else a validation error naming ``field``."""
    value = value.strip()
    problem = name_problem(value)
    if problem is not None:
        raise ValidationFailed.one(field, problem)
    return value


def scopes_from_catalog(
    scopes: Iterable[str], catalog: frozenset[str], field: str = "scopes"
) -> str:
    """The scopes as the stored space-separated string, deduplicated in order."""
    ordered = list(dict.fromkeys(scopes))
    unknown = [s for s in ordered if s not in catalog]
    if unknown:
        raise ValidationFailed.one(
            field, f"unknown scope {unknown[0]!r}; see GET /api/scopes for the catalog"
        )
    if not ordered:
        raise ValidationFailed.one(field, "choose at least one scope")
    return " ".join(ordered)


def team_of_org(
    session: DbSession, org_id: int, team_id: int | None, field: str = "team_id"
) -> None:
    """A team id must name a team of this org; ``None`` means all teams."""
    if team_id is not None and not team_in_org(session, org_id, team_id):
        raise ValidationFailed.one(field, f"no team {team_id} in this organization")


def team_in_org(session: DbSession, org_id: int, team_id: int) -> bool:
    """Whether team ``team_id`` exists and belongs to this org (another org's is none)."""
    found = session.scalar(select(Team.id).where(Team.id == team_id, Team.org_id == org_id))
    return found is not None


def of_org(session: DbSession, model: type[T], org_id: int, record_id: int, what: str) -> T:
    """The ``model`` record of this org; another org's id is indistinguishable from a
    missing one (404 either way)."""
    table: Any = model
    found = session.scalar(select(model).where(table.id == record_id, table.org_id == org_id))
    if found is None:
        raise NotFound(f"No {what} {record_id} in this organization.")
    return found


def parse_record_id(raw: str) -> int | None:
    """A record id written as text (a form field, a CSV cell, a token request's ``team``),
    or None when it cannot name a record: ASCII digits only (``str.isdigit`` also accepts
    superscripts and other scripts' digits, which ``int`` refuses or reads as another
    number), 1 to :data:`~keys.limits.MAX_RECORD_ID`."""
    if not (raw.isascii() and raw.isdigit()):
        return None
    value = int(raw)
    return value if 1 <= value <= MAX_RECORD_ID else None


def check_grace_period(seconds: int) -> None:
    """How long a rotated secret keeps working: 0 (it stops now) to 30 days."""
    if not 0 <= seconds <= MAX_GRACE_SECONDS:
        raise ValidationFailed.one(
            "grace_period_seconds",
            f"must be between 0 and {MAX_GRACE_SECONDS} ({MAX_GRACE_SECONDS // 86400} days)",
        )
