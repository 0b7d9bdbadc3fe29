"""Storing secrets without storing them.

Machine-generated secrets are random (190 bits), so a slow hash adds nothing but cost: they
are stored as HMAC-SHA-256 under a server-side pepper that never enters the database, and
compared in constant time. Human passwords are guessable, so they get argon2id.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

#: argon2id as OWASP's Password Storage Cheat Sheet lists it first: 19 MiB, 2 passes, one
#: lane. argon2-cffi's default (RFC 9106's 64 MiB profile) made every worker that checked a
#: password grow by about 60 MB for the rest of its life (the benchmark's peak RSS), beyond
#: the 150 MB a worker may use. Hashes made with other parameters still verify: each hash
#: carries its own.
_password_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


class SecretHasher:
    """Keyed hashing of machine secrets with the deployment's pepper."""

    __slots__ = ("_pepper",)

    def __init__(self, pepper: bytes) -> None:
        if len(pepper) < 32:
            raise ValueError("the pepper must be at least 32 bytes")
        self._pepper = pepper

    def digest(self, secret: str) -> str:
        """Hex HMAC-SHA-256 of ``secret``: what the database holds in place of it."""
        return hmac.new(self._pepper, secret.encode("utf-8"), hashlib.sha256).hexdigest()

    def matches(self, secret: str, stored: str | None) -> bool:
        if not stored:
            return False
        return hmac.compare_digest(self.digest(secret), stored)

    def derive_key(self, purpose: str) -> bytes:
        """A 32-byte key for ``purpose``, derived from the pepper (HKDF-SHA-256)."""
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
            self._pepper
        )


def fingerprint(secret: str) -> bytes:
    """A 16-byte digest that keys an in-memory cache by a secret (a client secret, a token)
    so the cache never holds the secret itself. Unkeyed and fast: what it stands for is
    random, and it never leaves the process."""
    return hashlib.blake2b(secret.encode(), digest_size=16).digest()


def hash_password(password: str) -> str:
    return _password_hasher.hash(password)


def verify_password(password: str, stored: str | None) -> bool:
    """Check a console password; a user without one can never log in."""
    if not stored:
        return False
    try:
        return _password_hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def dummy_password_check(password: str) -> None:
    """Spend the time of a real check, so unknown emails are not told apart by timing."""
    verify_password(password, _dummy_hash())


@cache
def _dummy_hash() -> str:
    return _password_hasher.hash("latchkey-timing-equaliser")
