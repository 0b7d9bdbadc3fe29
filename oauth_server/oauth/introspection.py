"""RFC 7662 introspection, for registered resource servers only, of access tokens, API keys
and legacy user keys (told apart by their form; :mod:`keys.verification` checks keys)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from keys import verification
from keys.access_tokens import AccessTokenClaims
from keys.verification import VerifiedKey
from oauth_server import metrics
from oauth_server.extensions import db
from oauth_server.oauth.clients import ResourceServerClient, SecretClient
from oauth_server.oauth.tokens import IntrospectedToken, TokenParameter, find_access_token
from oauth_server.services import services, state_view


@dataclass
class IntrospectedKey:
    """A live API key or user key, as introspection sees it (it is nobody's token to revoke)."""

    key: VerifiedKey

    def check_client(self, client: SecretClient) -> bool:
        return False

    def is_expired(self) -> bool:
        return False  # verification refuses expired keys before this object exists

    def is_revoked(self) -> bool:
        return False


class LatchkeyIntrospectionEndpoint(TokenParameter, IntrospectionEndpoint):
    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        """RFC 7662 §2.1: an access token, API key or user key, told apart by form (the hint
        is not needed); anything not live is simply not found."""
        return _find(token_string)[0]

    def authenticate_token(self, request: Any, client: Any) -> Any:
        """RFC 7662 §2.1, as Authlib's, also saying why a token is not active: each answer
        is counted by outcome (:mod:`oauth_server.metrics`). A live key shown to a resource
        server counts as used (in memory, written in batches)."""
        self.check_params(request, client)
        token, reason = _find(request.form["token"])
        if token is not None and not self.check_permission(token, client, request):
            token, reason = None, "wrong_audience"
        elif token is not None and token.is_revoked():
            reason = "revoked"  # a genuine token whose app, org or jti no longer allows it
        metrics.introspected(reason)
        if isinstance(token, IntrospectedKey):
            services().usage.hit(token.key.kind, token.key.id, request.remote_addr)
        return token

    def check_permission(self, token: Any, client: Any, request: Any) -> bool:
        """RFC 7662 §4: a token for another audience is not active for this caller. Keys
        are for every resource server."""
        assert isinstance(client, ResourceServerClient)
        if isinstance(token, IntrospectedKey):
            return True
        return bool(token.claims.aud in (services().issuer, client.record.audience))

    def introspect_token(self, token: Any) -> dict[str, Any]:
        """RFC 7662 §2.2, with Latchkey's org, team, prefix and name members."""
        if isinstance(token, IntrospectedKey):
            return _key_introspection(token.key)
        c: AccessTokenClaims = token.claims
        return {
            "active": True,
            "scope": token.scope,
            "client_id": c.client_id,
            "token_type": "Bearer",
            "exp": c.exp,
            "iat": c.iat,
            "sub": c.client_id,
            "aud": c.aud,
            "iss": c.iss,
            "jti": c.jti,
            "org_id": c.org_id,
            "team_id": c.team_id,
            "key_prefix": token.key_prefix,
            "name": token.name,
        }


#: Why verification refused a key, as the introspection metrics name it: a key that is not
#: one (malformed, unknown, wrong secret) is ``unknown``, as a token that is none of ours.
_KEY_REASONS = {"revoked": "revoked", "expired": "expired", "plan": "plan_off"}


def _find(token_string: str) -> tuple[IntrospectedToken | IntrospectedKey | None, str | None]:
    """The token or key ``token_string`` is, or None and why not. A JWT-shaped string that
    is none of our tokens may still be a legacy user key."""
    core = services().core
    if services().tokens.looks_like_access_token(token_string):
        token = find_access_token(token_string)
        if token is not None:
            return token, None
        if core.prefixes.is_ours(token_string):
            return None, "unknown"  # forged, expired, or sealed by a retired key
    try:
        return IntrospectedKey(
            verification.verify(db.session, core, token_string, state_view())
        ), None
    except verification.KeyRejected as rejected:
        return None, _KEY_REASONS.get(rejected.reason, "unknown")


def _key_introspection(key: VerifiedKey) -> dict[str, Any]:
    """An active key, described: ``exp`` only when the key expires; ``jti`` is the key's
    display prefix."""
    issuer = services().issuer
    answer: dict[str, Any] = {
        "active": True,
        "scope": key.scopes,
        "token_type": key.kind,
        "iat": key.created_at // 1000,
        "sub": key.subject,
        "aud": issuer,
        "iss": issuer,
        "jti": key.prefix,
        "org_id": key.org_id,
        "team_id": key.team_id,
        "key_prefix": key.prefix,
        "name": key.name,
    }
    if key.expires_at is not None:
        answer["exp"] = key.expires_at // 1000
    return answer
