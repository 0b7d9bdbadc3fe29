"""Secrets at rest: peppered HMAC for machine secrets, argon2id for passwords."""

from __future__ import annotations

import pytest

from keys.hashing import SecretHasher, hash_password, verify_password


def test_hmac_depends_on_the_pepper_and_matches_in_constant_time() -> None:
    a = SecretHasher(b"a" * 32)
    b = SecretHasher(b"b" * 32)
    digest = a.digest("lk_secret")
    assert digest != b.digest("lk_secret")
    assert "lk_secret" not in digest and len(digest) == 64
    assert a.matches("lk_secret", digest)
    assert not a.matches("lk_secreT", digest)
    assert not a.matches("lk_secret", None)


def test_short_pepper_is_refused() -> None:
    with pytest.raises(ValueError):
        SecretHasher(b"short")


def test_passwords_use_argon2id() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("$argon2id$")
    assert verify_password("correct horse", stored)
    assert not verify_password("wrong horse", stored)
    assert not verify_password("correct horse", None)
    assert not verify_password("correct horse", "not-a-hash")


def test_derived_keys_differ_by_purpose() -> None:
    hasher = SecretHasher(b"p" * 32)
    assert hasher.derive_key("one") != hasher.derive_key("two")
    assert len(hasher.derive_key("one")) == 32
