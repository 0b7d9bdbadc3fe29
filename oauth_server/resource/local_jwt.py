"""Local verification of Latchkey's RFC 9068 JWT access tokens, from its JWKS.

A JWT app's token carries its own claims, signed: an API may check it without a call to
Latchkey. What it cannot see that way is state: a token revoked (RFC 7009), its app revoked
or narrowed, its org's plan switched off. Those keep working here until the token's ``exp``
(an app's token lifetime, 15 minutes by default), where introspection ends them at once (or
within the client's ``ttl``). Choose it for throughput, with short token lifetimes.

Only what is surely Latchkey's JWT is judged here: a compact JWS whose header says
``typ: at+jwt`` and names a key id the JWKS holds. Anything else — API keys, opaque tokens,
a legacy user key shaped like a JWT, a token signed by a key published since the last fetch
(while refreshes are rate-limited) — is left to introspection (:data:`DEFER`), so local
verification never refuses what introspection would accept.

The key decides the algorithm: a header naming another algorithm than the JWKS entry of its
key id is a forgery; only :data:`keys.limits.SIGNING_ALGS` are accepted at all.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal

from joserfc import jwk, jwt
from joserfc.errors import JoseError

from keys.limits import SIGNING_ALGS
from oauth_server.resource.outage import LatchkeyUnavailable, OutageLog
from oauth_server.resource.principal import AnswerMalformed, Principal, from_jwt_claims

#: Clock skew tolerated on ``exp``, ``nbf`` and ``iat``, in seconds.
DEFAULT_LEEWAY: Final = 30
#: At most one JWKS fetch per this many seconds, however many unknown key ids arrive: a
#: stream of forged key ids must not become a stream of requests to Latchkey.
DEFAULT_REFRESH_INTERVAL: Final = 30.0
#: A JWKS older than this is fetched again at the next token (Latchkey serves it with
#: ``max-age=300``), so a key deleted from Latchkey stops verifying here too.
DEFAULT_MAX_AGE: Final = 300.0
_TYPES = ("at+jwt", "application/at+jwt")  # RFC 9068 §2.1, §4


class Local(enum.Enum):
    DEFER = "defer"


#: "Not for local verification: ask introspection."
DEFER: Final = Local.DEFER
LocalVerdict = Principal | None | Literal[Local.DEFER]


class JwtVerifier:
    """Verifies Latchkey's JWT access tokens for one resource server.

    ``fetch_jwks`` returns the JWK Set, or raises :class:`LatchkeyUnavailable`.
    ``audience`` is the resource server's registered audience: a token is for it, or (issued
    without ``resource``) for every resource server, its ``aud`` then being the issuer.
    """

    def __init__(
        self,
        fetch_jwks: Callable[[], Mapping[str, Any]],
        issuer: str,
        audience: str | None,
        *,
        refresh_interval: float = DEFAULT_REFRESH_INTERVAL,
        max_age: float = DEFAULT_MAX_AGE,
        leeway: int = DEFAULT_LEEWAY,
    ) -> None:
        self._fetch = fetch_jwks
        self._issuer = issuer
        self._audiences: list[str] = [issuer] if audience is None else [audience, issuer]
        self._refresh_interval = refresh_interval
        self._max_age = max_age
        self._leeway = leeway
        self._keys: dict[str, tuple[str, jwk.Key]] = {}
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._lock = threading.Lock()
        self._outage = OutageLog("JWKS")

    def verify(self, token: str) -> LocalVerdict:
        """The token's principal; None for a token of ours that does not verify (forged,
        expired, not for this audience); :data:`DEFER` for anything else."""
        header = _header(token)
        if header is None or str(header.get("typ", "")).lower() not in _TYPES:
            return DEFER
        kid = header.get("kid")
        known = self._key(kid) if isinstance(kid, str) else None
        if known is None:
            return DEFER
        alg, key = known
        try:
            claims = jwt.decode(token, key, algorithms=[alg]).claims  # the key's one alg
            jwt.JWTClaimsRegistry(
                leeway=self._leeway,
                iss={"essential": True, "value": self._issuer},
                aud={"essential": True, "values": self._audiences},
                exp={"essential": True},
                iat={"essential": True},
                jti={"essential": True},
            ).validate(claims)
            return from_jwt_claims(claims)
        except (JoseError, AnswerMalformed, ValueError, TypeError):
            return None

    def _key(self, kid: str) -> tuple[str, jwk.Key] | None:
        """The key of ``kid``, fetching the JWKS first when the id is unknown or the set is
        old, at most once per ``refresh_interval``. Other threads do not wait for a fetch:
        they use the keys at hand (an unknown id then goes to introspection)."""
        now = time.monotonic()
        with self._lock:
            key = self._keys.get(kid)
            wanted = key is None or now - self._fetched_at >= self._max_age
            if not wanted or now - self._attempted_at < self._refresh_interval:
                return key
            self._attempted_at = now
        self._refresh()
        with self._lock:
            return self._keys.get(kid)

    def _refresh(self) -> None:
        try:
            keys = _usable_keys(self._fetch())
        except (LatchkeyUnavailable, ValueError) as exc:  # the keys at hand stay
            self._outage.failed(str(exc))
            return
        self._outage.succeeded()
        with self._lock:
            self._keys = keys
            self._fetched_at = time.monotonic()


def _usable_keys(jwks: Mapping[str, Any]) -> dict[str, tuple[str, jwk.Key]]:
    """The signing keys of a JWK Set by key id, each with its one algorithm; entries of
    another use or algorithm, or that do not import, are skipped (RFC 7517 §5)."""
    entries = jwks.get("keys")
    if not isinstance(entries, list):
        raise ValueError("the JWK Set has no 'keys' array")
    keys: dict[str, tuple[str, jwk.Key]] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        kid, alg = entry.get("kid"), entry.get("alg")
        if not isinstance(kid, str) or alg not in SIGNING_ALGS or entry.get("use", "sig") != "sig":
            continue
        try:
            keys[kid] = (str(alg), jwk.import_key(entry))
        except (JoseError, ValueError, TypeError):
            continue
    return keys


def _header(token: str) -> dict[str, Any] | None:
    """The protected header of a compact JWS, read only to choose a key; None otherwise."""
    if token.count(".") != 2 or not token.startswith("eyJ") or len(token) > 8192:
        return None
    segment = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error):
        return None
    return header if isinstance(header, dict) else None
