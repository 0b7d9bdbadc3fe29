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
from keys.row_lock import hold

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


def normalized_email(value: str) -> str:
    """An email as Latchkey stores and compares it, wherever it comes in (the API, the
    console, the CSV import, sign-in, the first admin): Unicode NFKC, trimmed, casefolded.

    NFKC turns compatibility forms into the letters they stand for (fullwidth letters,
    U+FF21 to U+FF5A, are the Latin ones; the ligature U+FB01 is "fi") and casefolding is
    lower-casing made for comparisons (German "ß" is "ss"), so an address typed in another
    form or case is the same account, not a second one. Letters of another script that only
    look alike (Cyrillic a, U+0430, for Latin a) stay what they are: that is a different
    address, for mail servers too, and it is allowed; guessing at look-alikes (Unicode's
    confusables) would merge addresses that really are distinct. What cannot be seen at all
    is refused instead (:func:`email_problem`).
    """
    return unicodedata.normalize("NFKC", value).strip().casefold()


def invisible_problem(value: str) -> str | None:
    """Why text holding an invisible character (Unicode category Cf: soft hyphen, zero-width
    space and joiners, byte order mark, direction marks) is refused, or None. Such an address
    looks exactly like another one in every list and message, which makes it a disguise."""
    invisible = next((c for c in value if unicodedata.category(c) == "Cf"), None)
    if invisible is None:
        return None
    name = unicodedata.name(invisible, "a format character").lower()
    return (
        f"must not contain invisible characters (it has U+{ord(invisible):04X}, {name}); "
        "type the address again rather than pasting it"
    )


def email_problem(value: str) -> str | None:
    """What is wrong with an email (as :func:`normalized_email` gives it), or None. Our rule
    is something@somewhere without spaces, control or invisible characters, not RFC 5322:
    the address only has to be one a member can type to sign in."""
    local, at, domain = value.rpartition("@")
    if not (at and local and domain) or any(c.isspace() for c in value):
        return "must be an email address like ada@example.com"
    if len(value) > MAX_EMAIL_LENGTH:
        return f"must be at most {MAX_EMAIL_LENGTH} characters"
    return control_problem(value) or invisible_problem(value)


def checked_email(value: str, field: str = "email") -> str:
    """An email as stored (:func:`normalized_email`), or a validation error naming ``field``."""
    value = normalized_email(value)
    problem = email_problem(value)
    if problem is not None:
        raise ValidationFailed.one(field, problem)
    return value


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
    """A team id must name a team of this org; ``None`` means all teams.

    The team is held (:func:`keys.row_lock.hold`) until the caller commits: a deletion of the
    team at the same moment waits for the credential being bound to it and then refuses
    (409), or deletes first and this check refuses, instead of a foreign-key error (500).
    (Readers that bind nothing, such as the token endpoint, ask :func:`team_in_org`.)
    """
    if team_id is None:
        return
    if not hold(session, Team, Team.id == team_id, Team.org_id == org_id):
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
