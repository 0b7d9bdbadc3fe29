"""API keys: create, edit, rotate with an overlap, revoke, reactivate, delete, expire, and
temporary keys.

Every operation adds its audit event to the caller's session and the caller commits once, so
a change and its record land together or not at all. Operations that make a secret return it
beside the record, once; it is never assigned to a model attribute. A ``within`` argument is
the reach of an acting API key (:class:`keys.delegation.Delegation`); members pass None.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select

from keys import client_secrets, state_cache
from keys import format as fmt
from keys.audit import Actor, Target, record, record_changes
from keys.base import DbSession
from keys.clock import now_ms
from keys.core import Core
from keys.delegation import Delegation
from keys.errors import Conflict, NotFound, ValidationFailed
from keys.limits import KeyStatus
from keys.models import ApiKey
from keys.pagination import page
from keys.row_lock import hold_and_reload
from keys.validation import (
    check_grace_period,
    checked_name,
    of_org,
    scopes_from_catalog,
    team_of_org,
)

TEMPORARY_NAME = "Docs playground (temp)"
TEMPORARY_TTL_SECONDS = 3600
#: Expired temporary keys are removed this long after their expiry, when the next is made.
TEMPORARY_RETENTION_MS = 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class KeyWithSecret:
    key: ApiKey
    plaintext: str


def status_of(key: ApiKey, now: int | None = None) -> KeyStatus:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= (now or now_ms()):
        return "expired"
    return "active"


def label(key: ApiKey) -> str:
    """How messages name a key: its display prefix, which can never authenticate."""
    return f"API key {key.prefix}…"


def _target(key: ApiKey) -> Target:
    return Target(type="api_key", id=key.id, name=key.name, prefix=key.prefix)


def _future(expires_at: int | None) -> int | None:
    if expires_at is not None and expires_at <= now_ms():
        raise ValidationFailed.one("expires_at", "must be in the future (milliseconds)")
    return expires_at


def _new_secret(key: ApiKey, core: Core, public_id: str | None = None) -> str:
    new = fmt.generate(core.prefixes.api_key, public_id)
    key.public_id = new.public_id
    key.prefix = new.display_prefix
    key.hint = new.hint
    key.secret_hash = core.hasher.digest(new.plaintext)
    return new.plaintext


def create(
    session: DbSession,
    core: Core,
    *,
    org_id: int,
    actor: Actor,
    created_by: int | None,
    name: str,
    scopes: list[str],
    team_id: int | None,
    expires_at: int | None = None,
    temporary: bool = False,
    within: Delegation | None = None,
) -> KeyWithSecret:
    key = ApiKey(
        org_id=org_id,
        team_id=team_id,
        name=checked_name(name),
        scopes=scopes_from_catalog(scopes, core.scope_catalog),
        expires_at=_future(expires_at),
        temporary=temporary,
        created_by=created_by,
    )
    team_of_org(session, org_id, team_id)
    if within is not None:
        within.check_grant(key.scope_list, team_id, key.expires_at)
    plaintext = _new_secret(key, core)
    session.add(key)
    session.flush()
    record(
        session,
        org_id=org_id,
        verb="created",
        actor=actor,
        target=_target(key),
        details={
            "scopes": key.scope_list,
            "team_id": team_id,
            "expires_at": key.expires_at,
            "temporary": temporary,
        },
    )
    return KeyWithSecret(key, plaintext)


def create_temporary(
    session: DbSession,
    core: Core,
    *,
    org_id: int,
    actor: Actor,
    created_by: int | None,
    scopes: list[str] | None = None,
    team_id: int | None = None,
    within: Delegation | None = None,
) -> KeyWithSecret:
    """A one-hour key for trying the API from the docs. Without ``scopes``: every read scope
    of the catalog (that the acting key holds, if a key is acting). An acting key that
    expires within the hour makes one that expires with it."""
    expires_at = now_ms() + TEMPORARY_TTL_SECONDS * 1000
    if scopes is None:
        scopes = sorted(s for s in core.scope_catalog if s.endswith(":read"))
        if within is not None:
            scopes = [s for s in scopes if within.holds(s)]
    if within is not None:
        team_id = within.team_id if team_id is None else team_id
        expires_at = within.cap_expiry(expires_at)
    _purge_expired_temporary(session, org_id)
    return create(
        session,
        core,
        org_id=org_id,
        actor=actor,
        created_by=created_by,
        name=TEMPORARY_NAME,
        scopes=scopes,
        team_id=team_id,
        expires_at=expires_at,
        temporary=True,
        within=within,
    )


def _purge_expired_temporary(session: DbSession, org_id: int) -> None:
    """Playground keys are made often and live an hour: forget them a day after expiry."""
    stale = session.scalars(
        select(ApiKey)
        .where(
            ApiKey.org_id == org_id,
            ApiKey.temporary.is_(True),
            ApiKey.expires_at < now_ms() - TEMPORARY_RETENTION_MS,
        )
        .order_by(ApiKey.id)  # two purges at once lock in the same order: no deadlock
    )
    for key in stale:
        try:
            delete(session, key, Actor.system())
        except NotFound:
            continue  # purged by another request at the same moment


def get(session: DbSession, org_id: int, key_id: int) -> ApiKey:
    """An API key of this org, or 404."""
    return of_org(session, ApiKey, org_id, key_id, "API key")


def list_page(
    session: DbSession,
    org_id: int,
    *,
    status: str = "active",
    team_id: int | None = None,
    limit: int,
    cursor: int | None,
) -> tuple[list[ApiKey], int | None]:
    """``team_id`` lists the keys bound to that team (not the all-teams keys)."""
    now = now_ms()
    unexpired = or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now)
    stmt = select(ApiKey).where(ApiKey.org_id == org_id)
    if status == "active":
        stmt = stmt.where(ApiKey.revoked_at.is_(None), unexpired)
    elif status == "revoked":
        stmt = stmt.where(ApiKey.revoked_at.is_not(None))
    elif status == "expired":
        stmt = stmt.where(
            and_(ApiKey.revoked_at.is_(None), ApiKey.expires_at.is_not(None)),
            ApiKey.expires_at <= now,
        )
    if team_id is not None:
        stmt = stmt.where(ApiKey.team_id == team_id)
    return page(session, stmt, ApiKey.id, limit, cursor)


def update(
    session: DbSession, core: Core, key: ApiKey, actor: Actor, changes: dict[str, Any]
) -> ApiKey:
    """Apply the fields present in ``changes``: ``name``, ``scopes``, ``team_id``,
    ``expires_at`` (None: never expires). The next verification sees them."""
    hold_and_reload(session, key, "API key")
    before = {k: getattr(key, k) for k in changes}
    if "name" in changes:
        key.name = checked_name(changes["name"])
    if "scopes" in changes:
        key.scopes = scopes_from_catalog(changes["scopes"], core.scope_catalog)
    if "team_id" in changes:
        team_of_org(session, key.org_id, changes["team_id"])
        key.team_id = changes["team_id"]
    if "expires_at" in changes:
        key.expires_at = _future(changes["expires_at"])
    record_changes(
        session,
        org_id=key.org_id,
        actor=actor,
        target=_target(key),
        before=before,
        after={k: getattr(key, k) for k in changes},
    )
    return key


def rotate(
    session: DbSession, core: Core, key: ApiKey, actor: Actor, grace_period_seconds: int
) -> KeyWithSecret:
    """A new secret under the same id, name, prefix and settings. The old secret keeps
    working for ``grace_period_seconds`` (0: it stops now), so callers can switch first.
    It replaces the secret the caller read: 409 if another rotation replaced that one at the
    same moment (:func:`keys.client_secrets.hold_for_rotation`)."""
    check_grace_period(grace_period_seconds)
    client_secrets.hold_for_rotation(session, key, "API key", label(key))
    if key.revoked_at is not None:
        raise Conflict(f"{label(key)} is revoked; reactivate it before rotating.")
    if status_of(key) == "expired":
        # A new secret for an expired key would not work either: the admin would hand out a
        # secret that fails at once.
        raise Conflict(f"{label(key)} expired; give it a later expires_at (PATCH) before rotating.")
    client_secrets.keep_previous(key, grace_period_seconds)
    plaintext = _new_secret(key, core, key.public_id)
    record(
        session,
        org_id=key.org_id,
        verb="rotated",
        actor=actor,
        target=_target(key),
        details={"grace_period_seconds": grace_period_seconds, "hint": key.hint},
    )
    return KeyWithSecret(key, plaintext)


def revoke(session: DbSession, key: ApiKey, actor: Actor) -> ApiKey:
    """The key (and a rotation's previous secret) stops working at once; reversible."""
    hold_and_reload(session, key, "API key")
    if key.revoked_at is None:
        key.revoked_at = now_ms()
        # A reactivation must not revive a rotation's old secret.
        client_secrets.keep_previous(key, 0)
        record(session, org_id=key.org_id, verb="revoked", actor=actor, target=_target(key))
    else:
        state_cache.announce(session)  # revoked by a request whose bump may not have landed
    return key


def reactivate(session: DbSession, key: ApiKey, actor: Actor) -> ApiKey:
    """Undo a revoke. An expired key stays expired: change its ``expires_at`` for that."""
    hold_and_reload(session, key, "API key")
    if key.revoked_at is not None:
        key.revoked_at = None
        record(session, org_id=key.org_id, verb="reactivated", actor=actor, target=_target(key))
    return key


def delete(session: DbSession, key: ApiKey, actor: Actor) -> None:
    """Permanent; the audit events that name the key stay."""
    hold_and_reload(session, key, "API key")
    record(session, org_id=key.org_id, verb="deleted", actor=actor, target=_target(key))
    session.delete(key)
