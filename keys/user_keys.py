"""Legacy user keys: imported from the old system, listed, revoked, replaced by API keys.

They are never issued here. A legacy token has no format of ours (any printable string of
20+ characters), so it is stored and found by its keyed hash alone. Replacing one mints an
API key with the same scopes and team; the user key keeps working until it is revoked, so
the integration can switch first.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO

from sqlalchemy import select

from keys import api_keys, directory, state_cache
from keys import format as fmt
from keys.audit import Actor, Target, record
from keys.base import DbSession
from keys.clock import now_ms
from keys.core import Core
from keys.errors import FieldError, NotFound, ValidationFailed
from keys.limits import MAX_NAME_LENGTH, Status
from keys.models import User, UserKey
from keys.pagination import page
from keys.validation import (
    email_problem,
    name_problem,
    normalized_email,
    of_org,
    parse_record_id,
    scopes_from_catalog,
    team_in_org,
)

COLUMNS = ("email", "name", "token", "created_at", "scopes")
OPTIONAL_COLUMNS = ("team_id",)
MIN_TOKEN_LENGTH = 20
MAX_TOKEN_LENGTH = 512


def _target(key: UserKey) -> Target:
    return Target(type="user_key", id=key.id, name=key.name, prefix=key.prefix)


def status_of(key: UserKey) -> Status:
    return "revoked" if key.revoked_at is not None else "active"


#: Roles that see (and revoke) every user key of their org; anyone else sees only their own.
SEES_ALL = frozenset({"admin"})


def visible_owner(user: User) -> int | None:
    """Whose user keys ``user`` may see and revoke: only their own (their id), unless they are
    an admin (None: everyone's in the org). A user key is one member's personal token;
    DESIGN.md gives developers API keys, OAuth apps and the audit log, not other members'
    tokens. A developer may replace their own with an API key, which they may create anyway."""
    return None if user.role in SEES_ALL else user.id


def get(session: DbSession, org_id: int, key_id: int, owner_id: int | None = None) -> UserKey:
    """A user key of this org (and of ``owner_id``, when given), or 404."""
    key = of_org(session, UserKey, org_id, key_id, "user key")
    if owner_id is not None and key.user_id != owner_id:
        raise NotFound(f"No user key {key_id} of yours.")
    return key


def list_page(
    session: DbSession,
    org_id: int,
    *,
    owner_id: int | None = None,
    status: str = "all",
    team_id: int | None = None,
    limit: int,
    cursor: int | None,
) -> tuple[list[UserKey], int | None]:
    """Newest first; ``team_id`` keeps the keys bound to that team (not all-teams keys)."""
    stmt = select(UserKey).where(UserKey.org_id == org_id)
    if owner_id is not None:
        stmt = stmt.where(UserKey.user_id == owner_id)
    if team_id is not None:
        stmt = stmt.where(UserKey.team_id == team_id)
    if status == "active":
        stmt = stmt.where(UserKey.revoked_at.is_(None))
    elif status == "revoked":
        stmt = stmt.where(UserKey.revoked_at.is_not(None))
    return page(session, stmt, UserKey.id, limit, cursor)


def revoke(session: DbSession, key: UserKey, actor: Actor) -> UserKey:
    """Permanent: user keys are not issued any more, so there is no way back."""
    if key.revoked_at is None:
        key.revoked_at = now_ms()
        record(session, org_id=key.org_id, verb="revoked", actor=actor, target=_target(key))
    else:
        state_cache.announce(session)  # revoked by a request whose bump may not have landed
    return key


def replace(
    session: DbSession,
    core: Core,
    key: UserKey,
    actor: Actor,
    created_by: int | None,
    name: str | None = None,
) -> api_keys.KeyWithSecret:
    """An API key with the user key's scopes and team; the user key stays as it is."""
    result = api_keys.create(
        session,
        core,
        org_id=key.org_id,
        actor=actor,
        created_by=created_by,
        name=name or f"Replaces {key.name}"[:MAX_NAME_LENGTH],
        scopes=key.scope_list,
        team_id=key.team_id,
    )
    key.replaced_by = result.key.id
    record(
        session,
        org_id=key.org_id,
        verb="replaced",
        actor=actor,
        target=_target(key),
        details={"api_key_id": result.key.id, "api_key_prefix": result.key.prefix},
    )
    return result


# -- import -----------------------------------------------------------------------------------


@dataclass
class ImportReport:
    imported: int = 0
    already_imported: int = 0
    members_created: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    email: str
    name: str
    token: str
    created_at: int
    scopes: str
    team_id: int | None


def read_csv(stream: IO[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) pairs of a CSV with a header line, which must name our columns."""
    reader = csv.DictReader(stream)
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ValidationFailed.one(
            "header", f"missing column(s) {', '.join(missing)}; expected {','.join(COLUMNS)}"
        )
    reader.fieldnames = header
    for row in reader:
        yield reader.line_num, {k: (v or "") for k, v in row.items() if k is not None}


def _iso_ms(value: str) -> int:
    moment = datetime.fromisoformat(value.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _check_row(
    session: DbSession, core: Core, org_id: int, line: int, raw: dict[str, str]
) -> tuple[_Row | None, list[FieldError]]:
    errors: list[FieldError] = []

    def fail(column: str, message: str) -> None:
        errors.append(FieldError(f"line {line}: {column}", message))

    email = normalized_email(raw.get("email", ""))
    email_error = email_problem(email)
    if email_error is not None:
        fail("email", email_error)
    name = raw.get("name", "").strip()
    name_error = name_problem(name)
    if name_error is not None:
        fail("name", name_error)
    token = raw.get("token", "")
    if not MIN_TOKEN_LENGTH <= len(token) <= MAX_TOKEN_LENGTH or not token.isprintable():
        fail("token", f"must be {MIN_TOKEN_LENGTH} to {MAX_TOKEN_LENGTH} printable characters")
    elif core.prefixes.is_ours(token):
        fail("token", "starts like a Latchkey credential; legacy tokens cannot")
    created_at = 0
    try:
        created_at = _iso_ms(raw.get("created_at", ""))
    except ValueError:
        fail("created_at", "must be an ISO 8601 time, e.g. 2024-05-01T12:00:00Z")
    scopes = ""
    try:
        scopes = scopes_from_catalog(raw.get("scopes", "").split(), core.scope_catalog)
    except ValidationFailed as exc:
        fail("scopes", exc.errors[0].message)
    raw_team = raw.get("team_id", "").strip()
    team_id = parse_record_id(raw_team) if raw_team else None
    if raw_team and (team_id is None or not team_in_org(session, org_id, team_id)):
        fail("team_id", f"no team {raw_team} in organization {org_id}")
    if errors:
        return None, errors
    return _Row(line, email, name, token, created_at, scopes, team_id), []


def import_rows(
    session: DbSession,
    core: Core,
    *,
    org_id: int,
    rows: Iterable[tuple[int, dict[str, str]]],
    actor: Actor,
) -> ImportReport:
    """Import every row, or none: all rows are checked before anything is written.

    A token imported before into this org is skipped, so a rerun is harmless. Unknown emails
    become members (role ``member``) without a password: they cannot log in until given one.
    Only the token's keyed hash and last four characters are kept.
    """
    checked: list[_Row] = []
    errors: list[FieldError] = []
    seen: dict[str, int] = {}
    for line, raw in rows:
        row, row_errors = _check_row(session, core, org_id, line, raw)
        errors.extend(row_errors)
        if row is None:
            continue
        digest = core.hasher.digest(row.token)
        if digest in seen:
            errors.append(
                FieldError(f"line {line}: token", f"the same token is on line {seen[digest]}")
            )
        seen[digest] = line
        checked.append(row)
    report = ImportReport()
    plan: list[tuple[_Row, str, User | None]] = []
    for row in checked:
        digest = core.hasher.digest(row.token)
        existing = session.scalar(select(UserKey).where(UserKey.token_hash == digest))
        if existing is not None:
            if existing.org_id != org_id:
                errors.append(
                    FieldError(
                        f"line {row.line}: token", "is already imported for another organization"
                    )
                )
            else:
                report.already_imported += 1
            continue
        owner = session.scalar(select(User).where(User.email == row.email))
        if owner is not None and owner.org_id != org_id:
            errors.append(
                FieldError(f"line {row.line}: email", "belongs to another organization's member")
            )
            continue
        plan.append((row, digest, owner))
    if errors:
        raise ValidationFailed(
            message=f"{len(errors)} problem(s) in the file; nothing was imported.",
            errors=errors,
        )
    members: dict[str, User] = {}
    for row, digest, owner in plan:
        if owner is None:
            owner = members.get(row.email)
        if owner is None:
            owner = directory.create_user(
                session,
                actor=actor,
                org_id=org_id,
                email=row.email,
                name=row.name,
                role="member",
                password=None,
            )
            members[row.email] = owner
            report.members_created.append(row.email)
        key = UserKey(
            org_id=org_id,
            user_id=owner.id,
            team_id=row.team_id,
            name=row.name,
            prefix=fmt.display_prefix(core.prefixes.user_key, fmt.new_public_id()),
            hint=fmt.hint(row.token),
            token_hash=digest,
            scopes=row.scopes,
            created_at=row.created_at,
        )
        session.add(key)
        session.flush()
        record(
            session,
            org_id=org_id,
            verb="imported",
            actor=actor,
            target=_target(key),
            details={"owner": owner.email, "hint": key.hint, "scopes": key.scope_list},
        )
        report.imported += 1
    return report
