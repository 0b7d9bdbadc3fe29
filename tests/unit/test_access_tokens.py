"""Self-contained access tokens: sealed or signed, unreadable and unforgeable without the
keys, and still readable after the keys rotate."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete
from sqlalchemy.orm import Session

from keys.access_tokens import AccessTokenCodec
from keys.base import Base
from keys.freshness import FileStamp
from keys.keyring import KeyRing
from keys.models import CryptoKey
from keys.state_cache import StateCache

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


def remembering_codec(
    session_factory: object, tmp_path: Path
) -> tuple[AccessTokenCodec, FileStamp]:
    """A codec as the service builds it: key ring and genuine-token cache on one stamp."""
    stamp = FileStamp(tmp_path / "state-stamp")
    ring = KeyRing(b"k" * 32, session_factory, stamp=stamp)  # type: ignore[arg-type]
    return AccessTokenCodec(ring, "lkat", ISSUER, genuine=StateCache(stamp)), stamp


@pytest.mark.parametrize(("token_format", "alg"), FORMATS)
def test_a_genuine_token_is_remembered_only_under_the_stamp_it_was_read_at(
    session_factory: object, tmp_path: Path, token_format: str, alg: str
) -> None:
    c, stamp = remembering_codec(session_factory, tmp_path)
    token = c.encode(claims(c), token_format, alg)
    verified: list[str] = []
    read = c._read
    c._read = lambda t, s: verified.append(t) or read(t, s)  # type: ignore[method-assign]
    seen = stamp.read()
    assert c.decode(token, seen) is not None
    assert c.decode(token, seen) is not None
    assert len(verified) == 1, "a second introspection under the same stamp verifies nothing"
    with session_factory() as session:  # type: ignore[operator]
        session.execute(delete(CryptoKey))  # by hand: not announced
        session.commit()
    assert c.decode(token, seen) is not None  # remembered: no key lookup, no verification
    stamp.bump()  # announced (what `flask invalidate-caches` does)
    assert c.decode(token, stamp.read()) is None  # its key is gone: no longer genuine
    assert len(verified) == 2
    assert c.decode(token, None) is None  # no stamp, nothing remembered
    assert len(verified) == 3


def test_a_remembered_token_still_expires(
    session_factory: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c, stamp = remembering_codec(session_factory, tmp_path)
    token = c.encode(claims(c, ttl=60), "opaque")
    seen = stamp.read()
    assert c.decode(token, seen) is not None
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    assert c.decode(token, seen) is None
