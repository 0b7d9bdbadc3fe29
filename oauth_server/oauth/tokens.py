"""Access tokens as introspection and revocation see them, and the ``token`` parameter both
endpoints read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError

from keys import token_state
from keys.access_tokens import AccessTokenClaims
from oauth_server.extensions import db
from oauth_server.oauth.clients import CLIENT_AUTH_METHODS, AppClient, SecretClient
from oauth_server.services import services, state_view


@dataclass
class IntrospectedToken:
    """A genuine access token (RFC 7662's view of it), and whether its state is live."""

    claims: AccessTokenClaims
    live: bool
    name: str | None = None
    key_prefix: str | None = None
    #: The claims' scopes that the app still holds (:func:`keys.token_state.token_state`).
    scope: str = ""

    def check_client(self, client: SecretClient) -> bool:
        return isinstance(client, AppClient) and client.get_client_id() == self.claims.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.claims.expires_in

    def is_expired(self) -> bool:
        return False  # the codec refuses expired tokens before this object exists

    def is_revoked(self) -> bool:
        return not self.live


def find_access_token(token_string: str) -> IntrospectedToken | None:
    """A genuine, unexpired access token and whether its state is live, or None."""
    claims = services().tokens.decode(token_string, state_view().seen)
    if claims is None:
        return None
    state = token_state.token_state(state_view(), db.session, claims)
    return IntrospectedToken(
        claims=claims,
        live=state.live,
        name=state.name,
        key_prefix=state.key_prefix,
        scope=state.scope,
    )


class TokenParameter:
    """What introspection and revocation share: client authentication and the ``token``
    parameter."""

    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def check_params(self, request: Any, client: Any) -> None:
        """RFC 7662 §2.1, RFC 7009 §2.1: ``token`` is required; the hint is only a hint
        (an unknown one widens the search, it is no error)."""
        if not request.form.get("token"):
            raise InvalidRequestError("The 'token' parameter is required.")
