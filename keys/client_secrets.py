"""Secrets that rotate with an overlap, and the client secrets of apps and resource servers.

A rotation keeps the previous secret's hash, and its end, beside the new one: both work until
the overlap ends (a ``grace_seconds`` of 0 ends the old secret at once). API keys
(:mod:`keys.api_keys`) and client secrets share this.

A client's secret is ``<client secret kind>_<the client's public id>_<secret><checksum>``:
the public id ties the secret to its client, so a secret pasted under the wrong client ID
fails before any hash is computed.
"""

from __future__ import annotations

from typing import Any, Protocol

from keys import format as fmt
from keys.base import DbSession
from keys.clock import now_ms
from keys.errors import Conflict
from keys.hashing import SecretHasher
from keys.row_lock import hold_and_reload

#: :func:`valid_until` of a current secret: it ends only by a change (a rotation, a revoke).
FOREVER = 2**63 - 1


class HasRotatingSecret(Protocol):
    secret_hash: str
    previous_secret_hash: str | None
    previous_secret_expires_at: int | None


class HasClientSecret(HasRotatingSecret, Protocol):
    client_id: str
    secret_prefix: str
    secret_hint: str


class StoredClientSecret(Protocol):
    """What checking a client secret reads: an ORM row or a cached snapshot of one."""

    @property
    def client_id(self) -> str: ...
    @property
    def secret_hash(self) -> str: ...
    @property
    def previous_secret_hash(self) -> str | None: ...
    @property
    def previous_secret_expires_at(self) -> int | None: ...


def keep_previous(holder: HasRotatingSecret, grace_seconds: int) -> None:
    """Before a new secret replaces the current one: keep the current one ``grace_seconds``."""
    if grace_seconds > 0:
        holder.previous_secret_hash = holder.secret_hash
        holder.previous_secret_expires_at = now_ms() + grace_seconds * 1000
    else:
        holder.previous_secret_hash = None
        holder.previous_secret_expires_at = None


def hold_for_rotation(session: DbSession, holder: Any, what: str, label: str) -> None:
    """Lock ``holder``'s row for a rotation (:func:`keys.row_lock.hold_and_reload`) and make
    sure the secret it replaces is the one the caller read.

    If another rotation replaced that secret at the same moment, this one is refused (409)
    rather than made on top: its overlap would keep a secret nobody holds any more, while
    the other rotation's secret, already handed out, would stop working.
    """
    read = holder.secret_hash
    hold_and_reload(session, holder, what)
    if holder.secret_hash != read:
        raise Conflict(
            f"{label} was rotated by another request at the same moment, so this rotation "
            "was not made. That rotation's secret was shown to whoever made it; if you need "
            "a new secret of your own, rotate again."
        )


def matches(
    hasher: SecretHasher,
    candidate: str,
    secret_hash: str,
    previous_hash: str | None,
    previous_expires_at: int | None,
) -> bool:
    """The current secret, or the previous one while its overlap lasts (constant-time)."""
    until = matching_until(hasher, candidate, secret_hash, previous_hash, previous_expires_at)
    return until is not None


def matching_until(
    hasher: SecretHasher,
    candidate: str,
    secret_hash: str,
    previous_hash: str | None,
    previous_expires_at: int | None,
) -> int | None:
    """Until when (epoch ms) ``candidate`` matches: :data:`FOREVER` for the current secret,
    the overlap's end for the previous one; None if it matches neither.

    For callers that remember a match while the stored hashes stay as they are: the previous
    secret's end comes by the clock, not by a change anyone announces.
    """
    if hasher.matches(candidate, secret_hash):
        return FOREVER
    if previous_expires_at is not None and previous_expires_at > now_ms():
        if hasher.matches(candidate, previous_hash):
            return previous_expires_at
    return None


def issue(client: HasClientSecret, hasher: SecretHasher, kind: str) -> str:
    """Give ``client`` a new secret (replacing any) and return its plaintext, once."""
    new = fmt.generate(kind, fmt.public_id_of(client.client_id))
    client.secret_prefix = new.display_prefix
    client.secret_hint = new.hint
    client.secret_hash = hasher.digest(new.plaintext)
    return new.plaintext


def rotate(client: HasClientSecret, hasher: SecretHasher, kind: str, grace_seconds: int) -> str:
    """New secret; the old one keeps working for ``grace_seconds`` (0: not at all)."""
    keep_previous(client, grace_seconds)
    return issue(client, hasher, kind)


def valid_until(
    client: StoredClientSecret, hasher: SecretHasher, kind: str, candidate: str
) -> int | None:
    """:func:`matching_until` for a client secret, after its form and client are checked."""
    try:
        parsed = fmt.parse(candidate, kind)
    except fmt.MalformedCredential:
        return None
    if parsed.public_id != fmt.public_id_of(client.client_id):
        return None
    return matching_until(
        hasher,
        candidate,
        client.secret_hash,
        client.previous_secret_hash,
        client.previous_secret_expires_at,
    )
