"""Self-contained access tokens: sealed or signed, unreadable and unforgeable without the
keys, and still readable after the keys rotate."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from keys.access_tokens import AccessTokenCodec
from keys.base import Base
from keys.keyring import KeyRing

ISSUER = "https://auth.example.com"


@pytest.fixture
def session_factory(tmp_path: Path) -> Iterator[object]:
    engine = create_engine(f"sqlite:///{tmp_path / 'keys.db'}")
    Base.metadata.create_all(engine)
    yield lambda: Session(engine, expire_on_commit=False)
    engine.dispose()


def codec(session_factory: object, kek: bytes = b"k" * 32) -> AccessTokenCodec:
    return AccessTokenCodec(KeyRing(kek, session_factory), "lkat", ISSUER)  # type: ignore[arg-type]


def claims(c: AccessTokenCodec, ttl: int = 900, audience: str | None = None):  # type: ignore[no-untyped-def]
    return c.claims_for(
        client_id="lkci_abc",
        org_id=7,
        team_id=3,
        scope="people:read",
        audience=audience,
        ttl_seconds=ttl,
    )


FORMATS = [("opaque", "RS256"), ("jwt", "RS256"), ("jwt", "ES256")]


@pytest.mark.parametrize(("token_format", "alg"), FORMATS)
def test_round_trip(session_factory: object, token_format: str, alg: str) -> None:
    c = codec(session_factory)
    original = claims(c, audience="https://api.example.com")
    token = c.encode(original, token_format, alg)
    assert c.decode(token) == original
    if token_format == "opaque":
        assert token.startswith("lkat_")
        assert "people" not in token and "lkci_abc" not in token  # sealed, not merely encoded
    else:
        header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
        assert header["alg"] == alg and header["typ"] == "at+jwt"


@pytest.mark.parametrize(("token_format", "alg"), FORMATS)
def test_any_changed_character_is_refused(
    session_factory: object, token_format: str, alg: str
) -> None:
    c = codec(session_factory)
    token = c.encode(claims(c), token_format, alg)
    for i in range(5, len(token), 7):
        replacement = "A" if token[i] != "A" else "B"
        assert c.decode(token[:i] + replacement + token[i + 1 :]) is None


def test_a_jwt_verifies_only_with_the_algorithm_of_its_key(session_factory: object) -> None:
    """A header that names another algorithm than its key's is a forgery, even when the
    rest of the token is genuine (RFC 8725 §3.1)."""
    c = codec(session_factory)
    for alg, other in (("ES256", "RS256"), ("RS256", "ES256"), ("RS256", "HS256")):
        header, payload, signature = c.encode(claims(c), "jwt", alg).split(".")
        fields = json.loads(base64.urlsafe_b64decode(header + "=="))
        forged = base64.urlsafe_b64encode(json.dumps({**fields, "alg": other}).encode())
        assert c.decode(f"{forged.decode().rstrip('=')}.{payload}.{signature}") is None


def test_another_deployments_keys_cannot_read_it(session_factory: object, tmp_path: Path) -> None:
    token = codec(session_factory).encode(claims(codec(session_factory)), "opaque")
    engine = create_engine(f"sqlite:///{tmp_path / 'other.db'}")
    Base.metadata.create_all(engine)
    other = AccessTokenCodec(KeyRing(b"k" * 32, lambda: Session(engine)), "lkat", ISSUER)
    assert other.decode(token) is None
    engine.dispose()


def test_expired_token_is_refused(session_factory: object) -> None:
    c = codec(session_factory)
    old = claims(c, ttl=-1)
    assert c.decode(c.encode(old, "opaque")) is None


def test_keys_are_encrypted_at_rest(session_factory: object) -> None:
    c = codec(session_factory)
    c.encode(claims(c), "opaque")
    ring = KeyRing(b"x" * 32, session_factory)  # type: ignore[arg-type]
    with pytest.raises(Exception):  # noqa: B017 - wrong key-encryption key: cannot decrypt
        ring.reload()


def test_rotation_keeps_old_tokens_readable(session_factory: object) -> None:
    c = codec(session_factory)
    before = {(f, alg): c.encode(claims(c), f, alg) for f, alg in FORMATS}
    ring = KeyRing(b"k" * 32, session_factory)  # type: ignore[arg-type]
    with session_factory() as session:  # type: ignore[operator]
        ring.rotate(session)
        session.commit()
    fresh = codec(session_factory)
    for token in before.values():
        assert fresh.decode(token) is not None
    after = fresh.encode(claims(fresh), "opaque")
    assert after.split(".")[0] != before[("opaque", "RS256")].split(".")[0]  # a new key id
    # Old and new key of each signing algorithm, newest first.
    algs = [k["alg"] for k in fresh._keyring.public_jwks()["keys"]]
    assert sorted(algs[:2]) == ["ES256", "RS256"] and sorted(algs[2:]) == ["ES256", "RS256"]
