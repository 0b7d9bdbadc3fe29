"""One delivery attempt over HTTP: signed (Standard Webhooks), authenticated to the
receiver as its endpoint says, to the checked address only, 10 s at most, no redirects.

The ``standardwebhooks`` package (the reference implementation) makes the signatures, so
every official verifier accepts them. During a signing-secret rotation's overlap each
request carries two signatures, one per secret (space-separated, as the specification
allows), and receivers still on the old secret keep verifying.

OAuth receivers: a token is fetched from the endpoint's ``token_url`` (client_secret_basic,
``grant_type=client_credentials``), cached until 30 s before it expires, and fetched again
once if the receiver answers 401 (it may have revoked it early).
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

import requests
from requests.adapters import HTTPAdapter
from standardwebhooks import Webhook

from keys.webhooks.addresses import AddressRefused, Pinned, pin
from keys.webhooks.schedule import TIMEOUT_SECONDS

USER_AGENT = "Latchkey-Webhooks/1"
#: A token is used until this long before its ``expires_in`` ends.
TOKEN_MARGIN_SECONDS = 30
#: How much of a receiver's answer is read (the rest is not wanted).
MAX_ANSWER_BYTES = 64 * 1024
#: Sessions (connection pools) kept per sender, one per (scheme, host, port, address).
MAX_POOLS = 64


@dataclass(frozen=True, slots=True)
class Receiver:
    """What an attempt needs to know of an endpoint (secrets decrypted for this attempt)."""

    endpoint_id: int
    url: str
    auth_type: str
    signing_secrets: tuple[str, ...]
    auth_header: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    scope: str | None = None
    secret: str | None = None  # the API key value or the OAuth client secret


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an attempt came to: the receiver's status code (None: no answer), how long the
    request took, and what went wrong, in words that hold no secret."""

    status_code: int | None
    latency_ms: int
    error: str | None = None


class TokenError(Exception):
    """The receiver's token endpoint gave no token; the message holds no secret."""


class _PinnedAdapter(HTTPAdapter):
    """Connects to the checked address while the URL (and so ``Host``, TLS SNI and the
    certificate check) keeps the host's name."""

    def __init__(self, address: str) -> None:
        self._address = address
        super().__init__(max_retries=0)

    def get_connection_with_tls_context(
        self, request: Any, verify: Any, proxies: Any = None, cert: Any = None
    ) -> Any:
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        name = host_params["host"]
        if host_params["scheme"] == "https":
            pool_kwargs = {**pool_kwargs, "server_hostname": name, "assert_hostname": name}
        host_params = {**host_params, "host": self._address}
        return self.poolmanager.connection_from_host(**host_params, pool_kwargs=pool_kwargs)


def signature_header(secrets: tuple[str, ...], msg_id: str, timestamp: int, body: str) -> str:
    """``v1,<base64>`` per secret, space-separated."""
    at = datetime.fromtimestamp(timestamp, UTC)
    return " ".join(Webhook(secret).sign(msg_id, at, body) for secret in secrets)


class TokenCache:
    """OAuth receivers' access tokens, per endpoint and credentials, in this process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tokens: dict[tuple[Any, ...], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> str | None:
        with self._lock:
            found = self._tokens.get(key)
        if found is None or found[1] <= self._clock():
            return None
        return found[0]

    def put(self, key: tuple[Any, ...], token: str, expires_in: float) -> None:
        with self._lock:
            self._tokens[key] = (token, self._clock() + expires_in - TOKEN_MARGIN_SECONDS)

    def drop(self, key: tuple[Any, ...]) -> None:
        with self._lock:
            self._tokens.pop(key, None)


class Sender:
    """Makes attempts; one per worker thread (its sessions are not shared across threads)."""

    def __init__(
        self,
        allow_private: bool,
        tokens: TokenCache | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.allow_private = allow_private
        self.tokens = tokens or TokenCache()
        self.timeout = timeout
        self._sessions: dict[Pinned, requests.Session] = {}

    def _session(self, pinned: Pinned) -> requests.Session:
        session = self._sessions.get(pinned)
        if session is None:
            if len(self._sessions) >= MAX_POOLS:
                for old in self._sessions.values():
                    old.close()
                self._sessions.clear()
            session = requests.Session()
            session.trust_env = False  # a proxy from the environment would skip the pin
            adapter = _PinnedAdapter(pinned.address)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            session.headers["User-Agent"] = USER_AGENT
            self._sessions[pinned] = session
        return session

    def _post(self, url: str, field: str, **kwargs: Any) -> requests.Response:
        """POST to ``url`` at its checked address (the rule is applied again here)."""
        pinned = pin(url, self.allow_private, field)
        host = pinned.host if ":" not in pinned.host else f"[{pinned.host}]"
        default_port = 443 if pinned.scheme == "https" else 80
        headers = {**kwargs.pop("headers", {})}
        headers["Host"] = host if pinned.port == default_port else f"{host}:{pinned.port}"
        response = self._session(pinned).post(
            url, headers=headers, timeout=self.timeout, allow_redirects=False, **kwargs
        )
        if kwargs.get("stream"):
            # Only the status matters; a short answer is read so the connection can be
            # reused, a long one is cut off (and its connection closed).
            response.raw.read(MAX_ANSWER_BYTES, decode_content=False)
        response.close()
        return response

    # -- OAuth receivers -------------------------------------------------------------------

    def _token_key(self, receiver: Receiver) -> tuple[Any, ...]:
        return (receiver.endpoint_id, receiver.token_url, receiver.client_id, receiver.scope)

    def _token(self, receiver: Receiver, fresh: bool = False) -> str:
        key = self._token_key(receiver)
        if not fresh:
            cached = self.tokens.get(key)
            if cached is not None:
                return cached
        assert receiver.token_url and receiver.client_id is not None
        basic = f"{quote_plus(receiver.client_id)}:{quote_plus(receiver.secret or '')}"
        form = {"grant_type": "client_credentials"}
        if receiver.scope:
            form["scope"] = receiver.scope
        try:
            response = self._post(
                receiver.token_url,
                "auth.token_url",
                data=form,
                headers={
                    "Authorization": "Basic " + base64.b64encode(basic.encode()).decode(),
                    "Accept": "application/json",
                },
                stream=False,
            )
        except requests.Timeout:
            raise TokenError(
                f"token request timed out after {self.timeout:g} s (auth.token_url)"
            ) from None
        except requests.RequestException as exc:
            raise TokenError(f"token request failed: {type(exc).__name__}") from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code != 200 or not isinstance(answer, dict):
            code = answer.get("error") if isinstance(answer, dict) else None
            said = f" ({code})" if isinstance(code, str) and code.isascii() else ""
            raise TokenError(f"token request answered {response.status_code}{said}")
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise TokenError("token response has no access_token")
        expires_in = answer.get("expires_in")
        if isinstance(expires_in, int | float) and expires_in > TOKEN_MARGIN_SECONDS:
            self.tokens.put(key, token, float(expires_in))
        return token

    # -- the attempt -----------------------------------------------------------------------

    def _auth_headers(self, receiver: Receiver, fresh_token: bool = False) -> dict[str, str]:
        if receiver.auth_type == "api_key":
            assert receiver.auth_header and receiver.secret is not None
            return {receiver.auth_header: receiver.secret}
        if receiver.auth_type == "oauth2_client_credentials":
            return {"Authorization": f"Bearer {self._token(receiver, fresh_token)}"}
        return {}

    def send(self, receiver: Receiver, msg_id: str, body: str, now_s: int) -> Outcome:
        """One attempt; never raises for what the receiver (or its network) does."""
        headers = {
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(now_s),
            "webhook-signature": signature_header(receiver.signing_secrets, msg_id, now_s, body),
        }
        started = time.monotonic()

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            response = self._post(
                receiver.url,
                "url",
                data=body.encode(),
                headers={**headers, **self._auth_headers(receiver)},
                stream=True,
            )
            if response.status_code == 401 and receiver.auth_type == "oauth2_client_credentials":
                self.tokens.drop(self._token_key(receiver))
                started = time.monotonic()
                response = self._post(
                    receiver.url,
                    "url",
                    data=body.encode(),
                    headers={**headers, **self._auth_headers(receiver, fresh_token=True)},
                    stream=True,
                )
        except AddressRefused as exc:
            return Outcome(None, elapsed(), str(exc))
        except TokenError as exc:
            return Outcome(None, elapsed(), str(exc))
        except requests.Timeout:
            return Outcome(None, elapsed(), f"timed out after {self.timeout:g} s")
        except requests.RequestException as exc:
            return Outcome(None, elapsed(), f"connection failed ({type(exc).__name__})")
        error = None
        if 300 <= response.status_code < 400:
            error = "redirects are not followed; register the final URL"
        elif not 200 <= response.status_code < 300:
            error = f"answered {response.status_code}"
        return Outcome(response.status_code, elapsed(), error)
