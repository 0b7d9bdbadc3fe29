"""The one-time secret: shown on the page right after the POST that made it, never again.

Create and rotate redirect (so a reload never re-submits the form); the secret crosses that
redirect in the member's own session cookie, sealed with AES-GCM under a key derived from the
pepper (Flask's cookie is only signed, and would otherwise carry it readable), bound to the
member, and removed by the very next page view. It never reaches the database or a log line.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import asdict, dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import session

from keys.clock import now_ms
from keys.models import ApiKey
from oauth_server.console.guards import signed_in
from oauth_server.services import services

_SESSION_KEY = "one_time_secret"
_PURPOSE = "latchkey console one-time secret"
_MAX_AGE_MS = 5 * 60 * 1000


@dataclass(frozen=True, slots=True)
class OneTimeSecret:
    """What the secret dialog shows: whose secret, the public id beside it, the secret."""

    title: str
    name: str
    secret_label: str
    secret: str
    id_label: str | None = None
    id_value: str | None = None
    at: int = 0


def one_time_key(title: str, key: ApiKey, plaintext: str) -> OneTimeSecret:
    """A new API key's secret, for the dialog titled ``title``."""
    return OneTimeSecret(title=title, name=key.name, secret_label="API key", secret=plaintext)


def _aead() -> AESGCM:
    return AESGCM(services().core.hasher.derive_key(_PURPOSE))


def _bound_to() -> bytes:
    return f"user:{signed_in().id}".encode()


def stash(secret: OneTimeSecret) -> None:
    """Keep ``secret`` for the next page view of this member."""
    nonce = os.urandom(12)
    plaintext = json.dumps({**asdict(secret), "at": now_ms()}).encode()
    sealed = nonce + _aead().encrypt(nonce, plaintext, _bound_to())
    session[_SESSION_KEY] = base64.urlsafe_b64encode(sealed).decode()


def pop() -> OneTimeSecret | None:
    """The stashed secret, removed from the session: a reload finds nothing."""
    raw = session.pop(_SESSION_KEY, None)
    if not isinstance(raw, str):
        return None
    try:
        sealed = base64.urlsafe_b64decode(raw)
        plaintext = _aead().decrypt(sealed[:12], sealed[12:], _bound_to())
        secret = OneTimeSecret(**json.loads(plaintext))
    except (ValueError, TypeError, InvalidTag):
        return None
    if secret.at < now_ms() - _MAX_AGE_MS:
        return None
    return secret
