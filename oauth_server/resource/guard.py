"""RFC 6750 at the operator's API: where the credential is read from, and every refusal —
shared by the Flask decorator and the WSGI middleware, which only render it.

* The credential: ``Authorization: Bearer <x>``, a bare ``Authorization: <x>`` (how API keys
  are often sent), or ``X-API-Key: <x>``. Two different ones in one request is 400
  ``invalid_request`` (§3.1: "more than one method").
* None: 401 with a bare ``Bearer`` challenge (§3.1: no error code when the request has no
  authentication information). Not active: 401 ``invalid_token``.
* A scope missing: 403 ``insufficient_scope`` with the ``scope`` attribute (§3). A credential
  bound to another team than the resource's: 403 ``insufficient_scope`` as well ("a key
  issued for questionnaire A will be rejected for questionnaire B"); bound to every team
  (``team_id`` null): allowed.
* Latchkey gives no usable answer: 503 with ``Retry-After``, never access.

Descriptions name the credential by its display prefix (Latchkey's ``key_prefix``, or the
part before the secret of a well-formed string nobody recognised), never by its secret.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Final

from keys.format import display_prefix_of
from oauth_server.resource.client import LatchkeyClient
from oauth_server.resource.outage import LatchkeyUnavailable
from oauth_server.resource.principal import Principal

#: Seconds a client is asked to wait after a 503.
RETRY_AFTER_SECONDS: Final = 5
#: What RFC 6750 §3 forbids inside ``error_description`` and ``scope`` (``"``, ``\``, and
#: anything outside printable ASCII).
_UNQUOTABLE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")
_HOW_TO_SEND = "send it as 'Authorization: Bearer <credential>' or 'X-API-Key: <credential>'"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refused request: its status, RFC 6750 error code and description."""

    status: int
    error: str | None
    description: str
    #: The scopes the resource needs (403 ``insufficient_scope`` for a missing scope).
    scope: str | None = None

    @property
    def headers(self) -> list[tuple[str, str]]:
        headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]
        if self.status == 503:
            return [*headers, ("Retry-After", str(RETRY_AFTER_SECONDS))]
        challenge = "Bearer"
        if self.error is not None:
            params = [f'error="{self.error}"', f'error_description="{_quotable(self.description)}"']
            if self.scope is not None:
                params.append(f'scope="{_quotable(self.scope)}"')
            challenge += " " + ", ".join(params)
        return [*headers, ("WWW-Authenticate", challenge)]

    @property
    def body(self) -> bytes:
        answer = {"error": self.error, "error_description": self.description}
        if self.scope is not None:
            answer["scope"] = self.scope
        return json.dumps({k: v for k, v in answer.items() if v is not None}).encode()


def authenticate(
    client: LatchkeyClient, authorization: str | None, api_key: str | None
) -> Principal | Refusal:
    """The principal of the request's credential, or the refusal to answer with."""
    credential = _credential(authorization, api_key)
    if isinstance(credential, Refusal):
        return credential
    try:
        principal = client.check(credential)
    except LatchkeyUnavailable:
        return Refusal(
            503,
            "temporarily_unavailable",
            "Credentials cannot be checked right now; try again in a few seconds.",
        )
    if principal is None:
        named = display_prefix_of(credential)
        return Refusal(
            401,
            "invalid_token",
            f"{named or 'The credential'} is not active: unknown, "
            "revoked, expired or deleted, or its organization's API access is off.",
        )
    return principal


def check_access(
    principal: Principal, scopes: tuple[str, ...], team: object | None
) -> Refusal | None:
    """The refusal of a credential without all of ``scopes``, or bound to another team than
    ``team`` (the resource's team id; None for a resource of no team); None to go on."""
    who = principal.display
    missing = principal.missing_scopes(scopes)
    if missing:
        held = " ".join(sorted(principal.scopes)) or "none"
        return Refusal(
            403,
            "insufficient_scope",
            f"{who} lacks the scope {' '.join(missing)} (it holds: {held}).",
            scope=" ".join(scopes),
        )
    if team is not None and not principal.may_use_team(team):
        return Refusal(
            403,
            "insufficient_scope",
            f"{who} is bound to team {principal.team_id}, not to team {str(team)[:40]}.",
        )
    return None


def _credential(authorization: str | None, api_key: str | None) -> str | Refusal:
    bearer = _from_authorization(authorization) if authorization else None
    api_key = api_key.strip() if api_key else None
    if bearer and api_key and bearer != api_key:
        return Refusal(
            400,
            "invalid_request",
            "Two credentials: send one, in Authorization or in X-API-Key, not both.",
        )
    credential = bearer or api_key
    if not credential:
        return Refusal(401, None, f"No credential: {_HOW_TO_SEND}.")
    return credential


def _from_authorization(value: str) -> str | None:
    """``Bearer <x>`` or a bare ``<x>``; None for another scheme (``Basic …``)."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() == "bearer":
        return rest.strip() or None
    return None if rest else (scheme or None)


def _quotable(text: str) -> str:
    """``text`` without the characters a challenge's quoted string may not hold."""
    return _UNQUOTABLE.sub("", text)
