"""Sealing and signing keys: generated, stored encrypted, rotated, and kept until unused.

Opaque access tokens are sealed with AES-256-GCM keys; JWT access tokens are signed with
RS256 (RFC 9068 §2.1 makes RS256 the algorithm every resource server supports), or with
ES256 for the apps that choose it: one RSA-2048 signature costs about 0.3 ms of CPU, three
times what a whole opaque token request costs, and a P-256 signature a tenth of that (see the
README's "Benchmark"). Each signing algorithm has a current key of its own. Each key is
stored encrypted under a key-encryption key derived from the pepper, so a copy of the
database alone cannot forge or read a token.

Each process keeps the decrypted keys in memory. It asks the database for the current key
at most every ``refresh_seconds``, and at once when it meets a key id it does not know, so a
rotation made by another process (or host) is picked up without a restart. A retired key is
deleted only after the longest-lived token it could still have made has expired.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from keys.clock import now_ms
from keys.freshness import Stamp
from keys.limits import MAX_TOKEN_TTL_SECONDS
from keys.models import CryptoKey

SEAL = "seal"
SIGN = "sign"  # RS256; the name is the one the first keys were stored under
SIGN_EC = "sign-ec"
SEAL_ALG = "A256GCM"
#: JWS algorithm (one of :data:`keys.limits.SIGNING_ALGS`) → the key use that signs with it.
SIGNING_USES: dict[str, str] = {"RS256": SIGN, "ES256": SIGN_EC}
ALGS = {SEAL: SEAL_ALG, **{use: alg for alg, use in SIGNING_USES.items()}}
#: HKDF purpose of the key-encryption key derived from the pepper.
KEK_PURPOSE = "latchkey key-encryption v1"
KID_MAX_LENGTH = 32  # the ``crypto_keys.kid`` column


@dataclass(frozen=True, slots=True)
class LoadedKey:
    kid: str
    use: str
    created_at: int
    retired_at: int | None
    alg: str
    aead: AESGCM | None = None
    jwk: RSAKey | ECKey | None = None


class KeyRing:
    """The process's view of the crypto keys, backed by the ``crypto_keys`` table."""

    def __init__(
        self,
        kek: bytes,
        session_factory: Callable[[], Session],
        refresh_seconds: float = 30.0,
        stamp: Stamp | None = None,
    ) -> None:
        self._kek = AESGCM(kek)
        self._session_factory = session_factory
        self._refresh_seconds = refresh_seconds
        self._keys: dict[str, LoadedKey] = {}
        self._current: dict[str, str] = {}
        self._loaded_at = float("-inf")
        self._stamp = stamp
        self._loaded_under: bytes | None = None
        self._lock = threading.Lock()

    # -- reading ---------------------------------------------------------------------------

    def current(self, use: str) -> LoadedKey:
        """The key new tokens are made with; creates the first one if there is none."""
        if time.monotonic() - self._loaded_at > self._refresh_seconds or use not in self._current:
            self.reload()
        if use not in self._current:
            with self._session_factory() as session:
                self.create(session, use)
                session.commit()
            self.reload()
        return self._keys[self._current[use]]

    def get(self, kid: str, seen: bytes | None = None) -> LoadedKey | None:
        """A key by id, for verification.

        An unknown id may be a key made since the last load (by a rotation, or by another
        process making the first key). Making a key changes credential state, which moves
        the :mod:`keys.freshness` stamp: while the stamp is the one this ring was loaded
        under, no key can be missing and a forged id costs no query. Otherwise the ring is
        reloaded (a handful of rows), once per change.

        ``seen``, the stamp the caller's request observed, reloads a ring loaded under
        another one even for a known id: a key deleted or retired since (by hand, say)
        stops verifying as soon as the change is announced.
        """
        key = self._keys.get(kid)
        if seen is not None and self._stamp is not None and seen != self._loaded_under:
            self.reload()
            key = self._keys.get(kid)
        elif key is None and len(kid) <= KID_MAX_LENGTH and not self._unchanged_since(seen):
            self.reload()
            key = self._keys.get(kid)
        return key

    def _unchanged_since(self, seen: bytes | None) -> bool:
        """Whether the stamp is still the one this ring was loaded under: the caller's, when
        its request observed one (no second read of the stamp), else read now."""
        if self._stamp is None or self._loaded_under is None:
            return False
        current = seen if seen is not None else self._stamp.read()
        return current == self._loaded_under

    def public_jwks(self) -> dict[str, Any]:
        """Every signing key that may still verify a live token (RFC 7517 JWK Set).

        The current signing keys are created here if no JWT was signed yet: a resource server
        that fetches (and caches) the JWKS before the first JWT must not get an empty set.
        """
        self.reload()
        for use in SIGNING_USES.values():
            if use not in self._current:
                self.current(use)
        return {
            "keys": [
                {**k.jwk.as_dict(private=False), "use": "sig", "alg": k.alg}
                for k in sorted(self._keys.values(), key=lambda k: -k.created_at)
                if k.jwk is not None
            ]
        }

    def reload(self) -> None:
        with self._lock, self._session_factory() as session:
            loaded_under = self._stamp.read() if self._stamp else None  # before the rows
            now = now_ms()
            rows = [
                row
                for row in session.scalars(select(CryptoKey))
                if row.expires_at is None or row.expires_at > now
            ]
            keys: dict[str, LoadedKey] = {}
            current: dict[str, tuple[int, str]] = {}
            for row in rows:
                key = self._keys.get(row.kid)
                if key is None or key.retired_at != row.retired_at:
                    key = self._decrypt(row)
                keys[row.kid] = key
                if row.retired_at is None:
                    best = current.get(row.use)
                    if best is None or (row.created_at, row.kid) > best:
                        current[row.use] = (row.created_at, row.kid)
            self._keys = keys
            self._current = {use: kid for use, (_, kid) in current.items()}
            self._loaded_at = time.monotonic()
            self._loaded_under = loaded_under

    # -- writing ---------------------------------------------------------------------------

    def create(self, session: Session, use: str) -> CryptoKey:
        kid = secrets.token_urlsafe(12)
        if use == SEAL:
            material = AESGCM.generate_key(bit_length=256)
            row = CryptoKey(
                kid=kid, use=SEAL, alg=SEAL_ALG, encrypted_key=self.encrypt(kid, material)
            )
        elif use in (SIGN, SIGN_EC):
            jwk: RSAKey | ECKey = (
                RSAKey.generate_key(2048, parameters={"kid": kid}, private=True)
                if use == SIGN
                else ECKey.generate_key("P-256", parameters={"kid": kid}, private=True)
            )
            row = CryptoKey(
                kid=kid,
                use=use,
                alg=ALGS[use],
                encrypted_key=self.encrypt(kid, jwk.as_pem(private=True)),
                public_jwk=dict(jwk.as_dict(private=False)),
            )
        else:
            raise ValueError(f"unknown key use {use!r}")
        session.add(row)
        return row

    def rotate(self, session: Session) -> list[str]:
        """Retire the current keys and make new ones; drop keys no live token can need.

        Old keys stay for verification for the longest token lifetime plus the refresh
        interval (during which another process may still make tokens with them).
        """
        now = now_ms()
        keep_ms = (MAX_TOKEN_TTL_SECONDS + int(self._refresh_seconds) + 60) * 1000
        session.execute(delete(CryptoKey).where(CryptoKey.expires_at < now))
        for row in session.scalars(select(CryptoKey).where(CryptoKey.retired_at.is_(None))):
            row.retired_at = now
            row.expires_at = now + keep_ms
        return [self.create(session, use).kid for use in ALGS]

    # -- at rest ---------------------------------------------------------------------------

    def encrypt(self, context: str, material: bytes) -> bytes:
        """AES-256-GCM under the key-encryption key; ``context`` (a key id, a row's name) is
        the associated data, so a blob copied to another row does not decrypt there. Also
        what other secrets that must be sent, not just compared, are kept under (the
        receivers' credentials of webhooks)."""
        nonce = os.urandom(12)
        return nonce + self._kek.encrypt(nonce, material, context.encode())

    def decrypt(self, context: str, blob: bytes) -> bytes:
        return self._kek.decrypt(blob[:12], blob[12:], context.encode())

    def _decrypt(self, row: CryptoKey) -> LoadedKey:
        material = self.decrypt(row.kid, row.encrypted_key)
        loaded = LoadedKey(row.kid, row.use, row.created_at, row.retired_at, ALGS[row.use])
        if row.use == SEAL:
            return replace(loaded, aead=AESGCM(material))
        key_type = RSAKey if row.use == SIGN else ECKey
        return replace(loaded, jwk=key_type.import_key(material, parameters={"kid": row.kid}))
