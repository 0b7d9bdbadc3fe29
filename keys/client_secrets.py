"""Client secrets of OAuth apps and resource servers: issue, check, rotate with overlap.

A client's secret is ``<client secret kind>_<the client's public id>_<secret><checksum>``:
the public id ties the secret to its client, so a secret pasted under the wrong client ID
fails before any hash is computed.
"""

from __future__ import annotations

from typing import Protocol

from keys import format as fmt
from keys.base import now_ms
from keys.hashing import SecretHasher

MAX_GRACE_SECONDS = 30 * 24 * 3600


class HasClientSecret(Protocol):
    client_id: str
    secret_prefix: str
    secret_hint: str
    secret_hash: str
    previous_secret_hash: str | None
    previous_secret_expires_at: int | None


def public_id_of(client_id: str) -> str:
    return client_id.partition("_")[2]


def issue(client: HasClientSecret, hasher: SecretHasher, kind: str) -> str:
    """Give ``client`` a new secret (replacing any) and return its plaintext, once."""
    new = fmt.generate(kind, public_id_of(client.client_id))
    client.secret_prefix = new.display_prefix
    client.secret_hint = new.hint
    client.secret_hash = hasher.digest(new.plaintext)
    return new.plaintext


def rotate(client: HasClientSecret, hasher: SecretHasher, kind: str, grace_seconds: int) -> str:
    """New secret; the old one keeps working for ``grace_seconds`` (0: not at all)."""
    if grace_seconds > 0:
        client.previous_secret_hash = client.secret_hash
        client.previous_secret_expires_at = now_ms() + grace_seconds * 1000
    else:
        client.previous_secret_hash = None
        client.previous_secret_expires_at = None
    return issue(client, hasher, kind)


def check(client: HasClientSecret, hasher: SecretHasher, kind: str, candidate: str) -> bool:
    """True when ``candidate`` is the client's secret, or its previous one within the overlap."""
    try:
        parsed = fmt.parse(candidate, kind)
    except fmt.MalformedCredential:
        return False
    if parsed.public_id != public_id_of(client.client_id):
        return False
    if hasher.matches(candidate, client.secret_hash):
        return True
    expires = client.previous_secret_expires_at
    return (
        expires is not None
        and expires > now_ms()
        and hasher.matches(candidate, client.previous_secret_hash)
    )
