"""The verification hot path for API keys and user keys.

parse + checksum (no storage touched for garbage) → one indexed lookup by public id (or, for
a legacy user key, by its keyed hash) that reads only the columns needed → constant-time HMAC
compare → state checks. Nothing is written: usage is counted by :mod:`keys.usage`.

The row may come from the process's :mod:`keys.state_cache` (the caller's ``view``), which
any committed change to keys or orgs invalidates in every process: a revoke, delete or plan
change is seen by the very next request everywhere. Expiry and the end of a rotation's
overlap are checked against the clock on every call, cached row or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import bindparam, select

from keys import client_secrets, lookups
from keys import format as fmt
from keys.base import DbSession
from keys.clock import now_ms, utc_text
from keys.core import Core
from keys.models import ApiKey, Org, UserKey
from keys.state_cache import UNCACHED, View
from keys.user_keys import MAX_TOKEN_LENGTH, MIN_TOKEN_LENGTH

KeyKind = Literal["api_key", "user_key"]


@dataclass(frozen=True, slots=True)
class VerifiedKey:
    """A live key: what introspection answers and what the management API acts on."""

    kind: KeyKind
    id: int
    org_id: int
    team_id: int | None
    scopes: str
    name: str
    prefix: str
    created_at: int
    expires_at: int | None
    subject: str

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())


class KeyRejected(Exception):
    """Why a presented key does not authenticate, in words that name it by its prefix only.

    ``reason`` is one of ``malformed``, ``unknown``, ``mismatch``, ``revoked``, ``expired``,
    ``plan``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


_API_KEY_BY_PUBLIC_ID = (
    select(
        ApiKey.id,
        ApiKey.org_id,
        ApiKey.team_id,
        ApiKey.scopes,
        ApiKey.name,
        ApiKey.prefix,
        ApiKey.created_at,
        ApiKey.expires_at,
        ApiKey.revoked_at,
        ApiKey.secret_hash,
        ApiKey.previous_secret_hash,
        ApiKey.previous_secret_expires_at,
        Org.api_access,
    )
    .join(Org, Org.id == ApiKey.org_id)
    .where(ApiKey.public_id == bindparam("public_id"))
)
_USER_KEY_BY_HASH = (
    select(
        UserKey.id,
        UserKey.org_id,
        UserKey.user_id,
        UserKey.team_id,
        UserKey.scopes,
        UserKey.name,
        UserKey.prefix,
        UserKey.created_at,
        UserKey.revoked_at,
        Org.api_access,
    )
    .join(Org, Org.id == UserKey.org_id)
    .where(UserKey.token_hash == bindparam("token_hash"))
)


def verify_api_key(
    session: DbSession, core: Core, candidate: str, view: View = UNCACHED
) -> VerifiedKey:
    """The live API key ``candidate`` is, or :class:`KeyRejected` saying why not."""
    try:
        parsed = fmt.parse(candidate, core.prefixes.api_key)
    except fmt.MalformedCredential:
        raise KeyRejected(
            "malformed", "The API key is malformed (checksum or shape): check it was copied whole."
        ) from None
    shown = f"API key {parsed.display_prefix}…"
    row = view.get(
        ("api_key", parsed.public_id),
        lambda: lookups.one(session, _API_KEY_BY_PUBLIC_ID, public_id=parsed.public_id),
    )
    if row is None:
        raise KeyRejected("unknown", f"{shown} is unknown: it was deleted or never existed.")
    if not client_secrets.matches(
        core.hasher,
        candidate,
        row.secret_hash,
        row.previous_secret_hash,
        row.previous_secret_expires_at,
    ):
        raise KeyRejected(
            "mismatch", f"{shown} has a wrong secret: it was rotated or mistyped; use the new key."
        )
    return _live("api_key", row, shown, "an admin can reactivate it", row.expires_at, str(row.id))


def _live(
    kind: KeyKind,
    row: Any,
    shown: str,
    after_revoke: str,
    expires_at: int | None,
    subject: str,
) -> VerifiedKey:
    """The state checks every key passes, in the order a user can act on."""
    if row.revoked_at is not None:
        raise KeyRejected("revoked", f"{shown} is revoked; {after_revoke}.")
    if expires_at is not None and expires_at <= now_ms():
        raise KeyRejected("expired", f"{shown} expired at {utc_text(expires_at)}.")
    if not row.api_access:
        raise KeyRejected(
            "plan", f"{shown} belongs to an organization whose plan lacks API access."
        )
    return VerifiedKey(
        kind=kind,
        id=row.id,
        org_id=row.org_id,
        team_id=row.team_id,
        scopes=row.scopes,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        expires_at=expires_at,
        subject=subject,
    )


def verify_user_key(
    session: DbSession, core: Core, candidate: str, view: View = UNCACHED
) -> VerifiedKey:
    """The live legacy user key ``candidate`` is, found by its keyed hash."""
    if not (MIN_TOKEN_LENGTH <= len(candidate) <= MAX_TOKEN_LENGTH and candidate.isprintable()):
        raise KeyRejected("malformed", "Not a user key.")
    token_hash = core.hasher.digest(candidate)
    row = view.get(
        ("user_key", token_hash),
        lambda: lookups.one(session, _USER_KEY_BY_HASH, token_hash=token_hash),
    )
    if row is None:
        raise KeyRejected("unknown", "Unknown key.")
    shown = f"User key {row.prefix}…"
    return _live("user_key", row, shown, "replace it with an API key", None, str(row.user_id))


def is_api_key(core: Core, candidate: str) -> bool:
    """Whether ``candidate`` claims to be an API key (its kind prefix), well-formed or not."""
    return core.prefixes.kind_of(candidate) == "api_key"


def verify(session: DbSession, core: Core, candidate: str, view: View = UNCACHED) -> VerifiedKey:
    """An API key by its kind prefix; a string with another of our kind prefixes is no key
    (and costs no lookup); anything else may be a legacy user key."""
    if is_api_key(core, candidate):
        return verify_api_key(session, core, candidate, view)
    if core.prefixes.is_ours(candidate):
        raise KeyRejected("malformed", "Not an API key or user key.")
    return verify_user_key(session, core, candidate, view)
