"""The operator's API asking Latchkey about a credential: RFC 7662 introspection over one
pooled HTTP session, a short-lived bounded cache, and (for JWT apps, optionally) local
verification of RFC 9068 tokens.

**The cache is the revocation delay.** An answer is remembered for at most ``ttl`` seconds
(default 5), and never past the credential's own ``exp``: a key revoked in Latchkey may keep
working at this API for up to ``ttl`` seconds after the revoke returned. That is the delay
the operator accepts in exchange for one Latchkey call per credential per ``ttl``, rather
than one per request; ``ttl=0`` turns the cache off (every request asks Latchkey, and a
revoke is seen at once).

**"Not active" is remembered too**, for ``ttl`` as well: a script retrying with a revoked
key, or a flood of made-up strings, costs Latchkey one call per distinct string per ``ttl``;
a key reactivated in Latchkey works again here within ``ttl``. Active and inactive answers
are kept apart, each in an LRU of at most ``max_entries``, so that a flood of garbage cannot
push the live credentials out. An error is never remembered.

**It fails closed.** Latchkey unreachable, a timeout, a 5xx, a 401 (this resource server's
own client ID or secret refused), a redirect, or an answer that is not RFC 7662's raises
:class:`~oauth_server.resource.outage.LatchkeyUnavailable`, which the decorator and the
middleware answer with 503 and ``Retry-After``: never with access.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from typing import Any, Final, NoReturn
from urllib.parse import quote_plus

import requests
from requests.adapters import HTTPAdapter

from oauth_server.resource.cache import DeadlineLru, cache_key
from oauth_server.resource.local_jwt import (
    DEFAULT_LEEWAY,
    DEFAULT_REFRESH_INTERVAL,
    DEFER,
    JwtVerifier,
)
from oauth_server.resource.outage import LatchkeyUnavailable, OutageLog
from oauth_server.resource.principal import AnswerMalformed, Principal, from_introspection

#: Seconds an answer may be remembered: the revocation delay accepted by default.
DEFAULT_TTL: Final = 5.0
DEFAULT_MAX_ENTRIES: Final = 10_000
#: Seconds to connect, and again to wait for the answer; Latchkey answers in milliseconds.
DEFAULT_TIMEOUT: Final = 3.0
#: Connections kept open to Latchkey: about the number of threads of the API's process.
DEFAULT_POOL_SIZE: Final = 16
#: Longer strings are no credential of Latchkey's; they are refused without asking.
MAX_CREDENTIAL_LENGTH: Final = 4096


class FormEncodedBasic(requests.auth.AuthBase):
    """RFC 6749 §2.3.1 ``client_secret_basic``: the client ID and secret are form-urlencoded,
    then joined and base64-encoded. (requests' own ``auth=(id, secret)`` skips the
    encoding; and an explicit auth keeps a ``.netrc`` entry from replacing the header.)"""

    def __init__(self, client_id: str, client_secret: str) -> None:
        pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}"
        self._header = "Basic " + base64.b64encode(pair.encode()).decode("ascii")

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._header
        return request

    def __repr__(self) -> str:
        return "FormEncodedBasic(<credentials>)"


class LatchkeyClient:
    """Introspection for one registered resource server (its client ID and secret, from
    ``POST /api/resource-servers``), shared by all threads of the API's process.

    ``issuer`` is Latchkey's issuer URL (``LATCHKEY_ISSUER``); ``base_url``, when Latchkey is
    reached at another address (an internal name), replaces it for the HTTP calls only.
    ``audience`` is the resource server's registered audience: with ``verify_jwt``, a JWT
    must be for it or for every resource server (``aud`` = the issuer).
    ``verify_jwt=True`` verifies JWT access tokens locally (:mod:`.local_jwt`: no call to
    Latchkey, but no revocation seen before the token's ``exp``).
    """

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str,
        *,
        audience: str | None = None,
        base_url: str | None = None,
        ttl: float = DEFAULT_TTL,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        timeout: float = DEFAULT_TIMEOUT,
        pool_size: int = DEFAULT_POOL_SIZE,
        verify_jwt: bool = False,
        jwks_refresh_interval: float = DEFAULT_REFRESH_INTERVAL,
        leeway: int = DEFAULT_LEEWAY,
    ) -> None:
        if ttl < 0:
            raise ValueError("ttl is a number of seconds, 0 or more (0: no cache)")
        self.issuer = issuer.rstrip("/")
        base = (base_url or issuer).rstrip("/")
        self.introspection_url = f"{base}/oauth/introspect"
        self.jwks_url = f"{base}/oauth/jwks"
        self.ttl = ttl
        self.timeout = timeout
        self._auth = FormEncodedBasic(client_id, client_secret)
        self._active: DeadlineLru[Principal] = DeadlineLru(max_entries)
        self._inactive: DeadlineLru[None] = DeadlineLru(max_entries)
        self._outage = OutageLog("introspection")
        self._session = requests.Session()
        # No retries inside urllib3: one retry on a dropped connection is done here, and a
        # timeout is not retried (it would double the wait of every request in an outage).
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._jwt = (
            JwtVerifier(
                self._fetch_jwks,
                self.issuer,
                audience,
                refresh_interval=jwks_refresh_interval,
                leeway=leeway,
            )
            if verify_jwt
            else None
        )

    def check(self, credential: str) -> Principal | None:
        """The principal of an active credential, None for one that is not active; raises
        :class:`LatchkeyUnavailable` when Latchkey gives no usable answer."""
        if not credential or len(credential) > MAX_CREDENTIAL_LENGTH:
            return None
        key = cache_key(credential)
        if self.ttl > 0:
            found, principal = self._active.get(key)
            if found:
                return principal
            if self._inactive.get(key)[0]:
                return None
        if self._jwt is not None:
            verdict = self._jwt.verify(credential)
            if verdict is not DEFER:
                return verdict
        principal = self._introspect(credential)
        if principal is None:
            self._inactive.put(key, None, self.ttl)
        else:
            lifetime = self.ttl
            if principal.exp is not None:
                lifetime = min(lifetime, principal.exp - time.time())
            self._active.put(key, principal, lifetime)
        return principal

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> LatchkeyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- HTTP ------------------------------------------------------------------------------

    def _introspect(self, credential: str) -> Principal | None:
        response = self._post_once_more_on_drop({"token": credential})
        if response.status_code != 200:
            self._fail(_status_reason(response.status_code))
        try:
            principal = from_introspection(response.json())
        except ValueError as exc:  # not JSON (requests' JSONDecodeError), or AnswerMalformed
            self._fail(
                f"malformed answer: {exc}" if isinstance(exc, AnswerMalformed) else "not JSON"
            )
        self._outage.succeeded()
        return principal

    def _post_once_more_on_drop(self, data: Mapping[str, str]) -> requests.Response:
        """POST to introspection; a connection that fails (Latchkey closed a pooled one
        between requests, or a restart) is tried once more, on a new connection."""
        for attempt in (1, 2):
            try:
                return self._session.post(
                    self.introspection_url,
                    data=data,
                    auth=self._auth,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except requests.Timeout:
                self._fail(f"no answer within {self.timeout:g} s")
            except requests.ConnectionError:
                if attempt == 2:
                    self._fail("connection failed")
            except requests.RequestException as exc:
                self._fail(type(exc).__name__)
        raise AssertionError("unreachable")

    def _fetch_jwks(self) -> Mapping[str, Any]:
        try:
            response = self._session.get(self.jwks_url, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise LatchkeyUnavailable(type(exc).__name__) from None
        if response.status_code != 200:
            raise LatchkeyUnavailable(f"HTTP {response.status_code}")
        try:
            jwks = response.json()
        except ValueError:
            raise LatchkeyUnavailable("not JSON") from None
        if not isinstance(jwks, dict):
            raise LatchkeyUnavailable("not a JWK Set")
        return jwks

    def _fail(self, reason: str) -> NoReturn:
        self._outage.failed(reason)
        raise LatchkeyUnavailable(reason)


def _status_reason(status: int) -> str:
    if status == 401:
        return "HTTP 401: Latchkey refused this resource server's client ID or secret"
    if status == 429:
        return "HTTP 429: Latchkey throttles this resource server's failed authentications"
    return f"HTTP {status}"
