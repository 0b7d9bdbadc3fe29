"""Self-contained access tokens: no database row per token.

* Opaque (default): ``<kind>_<kid>.<base64url(nonce | AES-256-GCM(claims))>``. Clients can
  neither read nor forge the claims; the key id rides in the clear (and in the AEAD's
  associated data) so the right key is found without trying them all.
* JWT (per app): RFC 9068 ``at+jwt``, RS256 or (per app) ES256, key id in the header, public
  keys at the JWKS. A token verifies only with the algorithm of the key its id names.

Reading a token checks integrity, issuer and expiry only. Whether its app, org and plan are
still good, and whether its jti was revoked (RFC 7009), is the caller's business: that is
state, and state lives in the database.

Resource servers introspect the same token on every request they serve for as long as it
lives, so a codec given a cache remembers which token strings proved genuine (by a digest of
the string, never the string) and their claims. An entry is trusted only under the
credential-state stamp it was read at (:mod:`keys.state_cache`): deleting or retiring a key
moves the stamp, and expiry is checked on every read.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import time
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jws import JWSRegistry

from keys.hashing import fingerprint
from keys.keyring import SEAL, SIGNING_USES, KeyRing
from keys.limits import DEFAULT_SIGNING_ALG, SIGNING_ALGS
from keys.state_cache import StateCache, View

_OPAQUE_VERSION = 1
_MAX_TOKEN_LENGTH = 4096


@dataclass(frozen=True, slots=True)
class AccessTokenClaims:
    jti: str
    client_id: str
    org_id: int
    team_id: int | None
    scope: str
    aud: str
    iss: str
    iat: int
    exp: int

    @property
    def expires_in(self) -> int:
        return self.exp - self.iat


def new_jti() -> str:
    return secrets.token_urlsafe(16)


class AccessTokenCodec:
    """Makes and reads access tokens with the keys of a :class:`KeyRing`."""

    def __init__(
        self, keyring: KeyRing, kind: str, issuer: str, genuine: StateCache | None = None
    ) -> None:
        self._keyring = keyring
        self._kind = kind
        self._prefix = f"{kind}_"
        self._issuer = issuer
        self._genuine = genuine

    @property
    def issuer(self) -> str:
        return self._issuer

    def claims_for(
        self,
        *,
        client_id: str,
        org_id: int,
        team_id: int | None,
        scope: str,
        audience: str | None,
        ttl_seconds: int,
    ) -> AccessTokenClaims:
        now = int(time.time())
        return AccessTokenClaims(
            jti=new_jti(),
            client_id=client_id,
            org_id=org_id,
            team_id=team_id,
            scope=scope,
            aud=audience or self._issuer,
            iss=self._issuer,
            iat=now,
            exp=now + ttl_seconds,
        )

    def encode(
        self, claims: AccessTokenClaims, token_format: str, signing_alg: str = DEFAULT_SIGNING_ALG
    ) -> str:
        """The token: sealed (``opaque``), or a JWT signed with ``signing_alg``."""
        if token_format == "jwt":
            return self._sign(claims, signing_alg)
        return self._seal(claims)

    def decode(self, token: str, seen: bytes | None = None) -> AccessTokenClaims | None:
        """The claims of a genuine, unexpired token of this issuer, else None.

        ``seen`` is the credential-state stamp the request observed: a key ring loaded under
        another one reloads first, so a key deleted from the database stops verifying.
        """
        if not isinstance(token, str) or len(token) > _MAX_TOKEN_LENGTH:
            return None
        if not self.looks_like_access_token(token):
            return None
        if self._genuine is None:
            claims = self._read(token, seen)
        else:
            claims = View(self._genuine, seen).get(
                fingerprint(token), lambda: self._read(token, seen)
            )
        if claims is None or claims.iss != self._issuer or claims.exp <= time.time():
            return None
        return claims

    def _read(self, token: str, seen: bytes | None) -> AccessTokenClaims | None:
        """The claims of a token whose seal or signature holds (expired or not), else None."""
        if token.startswith(self._prefix):
            return self._unseal(token, seen)
        return self._verify(token, seen)

    def looks_like_access_token(self, token: str) -> bool:
        return token.startswith(self._prefix) or token.startswith("eyJ")

    # -- opaque ----------------------------------------------------------------------------

    def _seal(self, claims: AccessTokenClaims) -> str:
        key = self._keyring.current(SEAL)
        assert key.aead is not None
        aud = None if claims.aud == self._issuer else claims.aud
        body = [
            _OPAQUE_VERSION,
            claims.jti,
            claims.client_id,
            claims.org_id,
            claims.team_id,
            claims.scope,
            aud,
            claims.iat,
            claims.exp,
        ]
        plaintext = json.dumps(body, separators=(",", ":")).encode()
        nonce = os.urandom(12)
        sealed = key.aead.encrypt(nonce, plaintext, self._aad(key.kid))
        return f"{self._prefix}{key.kid}.{_b64encode(nonce + sealed)}"

    def _unseal(self, token: str, seen: bytes | None) -> AccessTokenClaims | None:
        kid, dot, payload = token[len(self._prefix) :].partition(".")
        if not dot:
            return None
        key = self._keyring.get(kid, seen)
        if key is None or key.aead is None:
            return None
        try:
            blob = _b64decode(payload)
            plaintext = key.aead.decrypt(blob[:12], blob[12:], self._aad(kid))
            version, jti, client_id, org_id, team_id, scope, aud, iat, exp = json.loads(plaintext)
        except (InvalidTag, ValueError, TypeError, binascii.Error):
            return None
        if version != _OPAQUE_VERSION:
            return None
        return AccessTokenClaims(
            jti=jti,
            client_id=client_id,
            org_id=org_id,
            team_id=team_id,
            scope=scope,
            aud=aud or self._issuer,
            iss=self._issuer,
            iat=iat,
            exp=exp,
        )

    def _aad(self, kid: str) -> bytes:
        return f"{self._kind}.{kid}".encode()

    # -- JWT (RFC 9068) --------------------------------------------------------------------

    def _sign(self, claims: AccessTokenClaims, alg: str) -> str:
        """RFC 7515 §7.1 compact serialization, signed by joserfc's implementation of ``alg``.

        The three segments are joined here rather than by ``joserfc.jwt.encode``: its generic
        work (claims conversion, header registry checks, a JSON and base64 pass per segment)
        cost more than the ES256 signature itself, on every token issued. What could go wrong
        in JOSE, the signature (and all of verification), stays joserfc's.
        """
        key = self._keyring.current(SIGNING_USES[alg])
        assert key.jwk is not None
        payload: dict[str, Any] = {name: getattr(claims, name) for name in _CLAIM_NAMES}
        payload["sub"] = claims.client_id
        body = json.dumps(payload, separators=(",", ":")).encode()
        signing_input = _jws_header(alg, key.kid) + b"." + _b64encode(body).encode("ascii")
        signature = _b64encode(JWSRegistry.algorithms[alg].sign(signing_input, key.jwk))
        return f"{signing_input.decode('ascii')}.{signature}"

    def _verify(self, token: str, seen: bytes | None) -> AccessTokenClaims | None:
        def find_key(obj: Any) -> Any:
            headers = obj.headers()
            kid = headers.get("kid")
            key = self._keyring.get(kid, seen) if isinstance(kid, str) else None
            # The key decides the algorithm: a header naming another one is a forgery.
            if key is None or key.jwk is None or headers.get("alg") != key.alg:
                raise JoseError("unknown key id")
            return key.jwk

        try:
            decoded = jwt.decode(token, find_key, algorithms=list(SIGNING_ALGS))
            if decoded.header.get("typ", "").lower() not in ("at+jwt", "application/at+jwt"):
                return None
            c = decoded.claims
            return AccessTokenClaims(
                jti=str(c["jti"]),
                client_id=str(c["client_id"]),
                org_id=int(c["org_id"]),
                team_id=None if c.get("team_id") is None else int(c["team_id"]),
                scope=str(c.get("scope", "")),
                aud=str(c["aud"]),
                iss=str(c["iss"]),
                iat=int(c["iat"]),
                exp=int(c["exp"]),
            )
        except (JoseError, KeyError, ValueError, TypeError):
            return None


_CLAIM_NAMES = tuple(f.name for f in fields(AccessTokenClaims))


@lru_cache(maxsize=64)
def _jws_header(alg: str, kid: str) -> bytes:
    """The protected header segment: the same for every token a key signs."""
    header = {"alg": alg, "typ": "at+jwt", "kid": kid}
    return _b64encode(json.dumps(header, separators=(",", ":")).encode()).encode("ascii")


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
