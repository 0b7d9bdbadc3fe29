"""RFC 7662 introspection, for registered resource servers only, of access tokens, API keys
and legacy user keys (told apart by their form; :mod:`keys.verification` checks keys)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from keys import verification
from keys.access_tokens import AccessTokenClaims
from keys.verification import VerifiedKey
from oauth_server.extensions import db
from oauth_server.oauth.clients import ResourceServerClient, SecretClient
from oauth_server.oauth.tokens import TokenParameter, find_access_token
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
        is not needed); anything not live is simply not found. A JWT-shaped string that is
        none of our tokens may still be a legacy user key."""
        core = services().core
        if services().tokens.looks_like_access_token(token_string):
            token = find_access_token(token_string)
            if token is not None or core.prefixes.is_ours(token_string):
                return token
        try:
            return IntrospectedKey(
                verification.verify(db.session, core, token_string, state_view())
            )
        except verification.KeyRejected:
            return None

    def authenticate_token(self, request: Any, client: Any) -> Any:
        """RFC 7662 §2.1; a live key shown to a resource server counts as used (in memory,
        written in batches)."""
        token = super().authenticate_token(request, client)
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
