"""An endpoint's secrets: its signing secret(s) and the receiver's credential, encrypted.

Both must be *used*, not just compared (the signing secret keys an HMAC, the receiver's API
key or client secret is sent), so a peppered hash cannot hold them: they are sealed with the
key ring's AES-256-GCM under the key-encryption key (:meth:`keys.keyring.KeyRing.encrypt`),
with the endpoint's row as associated data. They are decrypted only to sign and send; no
response, log line or error ever carries them, except the signing secret in the response
that makes it (once).
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, replace
from typing import Protocol

from keys.webhooks.models import WebhookEndpoint

SIGNING_PREFIX = "whsec_"
#: Random bytes of a signing secret (Standard Webhooks: 24 to 64).
SIGNING_BYTES = 32


class Sealer(Protocol):
    """The key ring's encryption, as far as webhooks need it."""

    def encrypt(self, context: str, material: bytes) -> bytes: ...

    def decrypt(self, context: str, blob: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class EndpointSecrets:
    signing: str
    previous_signing: str | None = None
    #: The receiver's API key value or OAuth client secret (None for ``auth.type: none``).
    receiver: str | None = None

    def rotated(self) -> EndpointSecrets:
        """A new signing secret; the current one becomes the previous one."""
        return replace(self, signing=new_signing_secret(), previous_signing=self.signing)


def new_signing_secret() -> str:
    """``whsec_<base64>``, as Standard Webhooks' libraries take it."""
    return SIGNING_PREFIX + base64.b64encode(secrets.token_bytes(SIGNING_BYTES)).decode()


def _context(endpoint: WebhookEndpoint) -> str:
    assert endpoint.id is not None, "flush the endpoint first: its id binds the ciphertext"
    return f"webhook_endpoints:{endpoint.id}"


def store(sealer: Sealer, endpoint: WebhookEndpoint, value: EndpointSecrets) -> None:
    plain = json.dumps(
        {"signing": value.signing, "previous": value.previous_signing, "receiver": value.receiver}
    ).encode()
    endpoint.encrypted_secrets = sealer.encrypt(_context(endpoint), plain)


def load(sealer: Sealer, endpoint: WebhookEndpoint) -> EndpointSecrets:
    data = json.loads(sealer.decrypt(_context(endpoint), endpoint.encrypted_secrets))
    return EndpointSecrets(data["signing"], data["previous"], data["receiver"])
