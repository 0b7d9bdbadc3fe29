"""RFC 7009 revocation of access tokens, by the app that owns the token."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc7009 import RevocationEndpoint

from keys import token_state
from oauth_server.extensions import db
from oauth_server.oauth.errors import UnsupportedTokenTypeError
from oauth_server.oauth.tokens import TokenParameter, find_access_token
from oauth_server.services import services


class LatchkeyRevocationEndpoint(TokenParameter, RevocationEndpoint):
    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        """RFC 7009 §2.1: only access tokens are revoked here. An API key is refused with
        ``unsupported_token_type`` (RFC 7009 §2.2.1): a 200 would tell the app it was revoked
        when it was not; admins revoke keys in the console or the management API. The key is
        told by its form alone, never looked up: any app may call this endpoint, and a lookup
        would tell it whether another org's key is live. (A legacy user key has no form of its
        own, so it is one of the strings that are not found, which RFC 7009 §2.2 answers with
        200.)"""
        if services().core.prefixes.kind_of(token_string) == "api_key":
            raise UnsupportedTokenTypeError(
                "API keys are not revoked here: an admin revokes them in the console (Admin "
                "settings, API access) or through the management API."
            )
        return find_access_token(token_string)

    def revoke_token(self, token: Any, request: Any) -> None:
        """RFC 7009 §2.2: remember the jti until the token would have expired anyway."""
        token_state.revoke_jti(db.session, token.claims.jti, token.claims.exp)
