"""RFC 6749 §4.4 client credentials, with Latchkey's ``team`` narrowing and RFC 8707
``resource`` audiences, and the token generator: self-contained tokens, no database row."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError, InvalidScopeError, UnauthorizedClientError
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6749.util import scope_to_list

from keys import client_records
from keys.validation import parse_record_id, team_in_org
from oauth_server.extensions import db
from oauth_server.oauth.clients import CLIENT_AUTH_METHODS, AppClient
from oauth_server.oauth.errors import InvalidTargetError, quoted
from oauth_server.services import services, state_view


class LatchkeyClientCredentialsGrant(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def validate_token_request(self) -> None:
        """RFC 6749 §4.4.2, plus the plan check, ``team`` and RFC 8707 ``resource``."""
        client = self.authenticate_token_endpoint_client()
        if not isinstance(client, AppClient) or not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("The client may not use the client_credentials grant.")
        self.request.client = client
        if not client.record.api_access:
            raise UnauthorizedClientError("Upgrade required")
        self.validate_requested_scope()
        client.team_id = self._requested_team(client)
        client.audience = self._requested_audience()

    def validate_requested_scope(self) -> None:
        """RFC 6749 §3.3: every requested scope must be one the app holds."""
        requested = scope_to_list(self.request.payload.scope) or []
        allowed = set(self.client.record.scope_list)
        outside = [s for s in requested if s not in allowed]
        if outside:
            raise InvalidScopeError(f"The app does not hold the scope {quoted(outside[0])}.")

    def _requested_team(self, client: AppClient) -> int | None:
        """Latchkey's ``team``: narrows an all-teams app's token to one team of its org."""
        raw = self.request.form.get("team")
        if raw is None or raw == "":
            return client.record.team_id
        team_id = parse_record_id(raw)
        if team_id is None:
            raise InvalidRequestError("'team' must be a team id.")
        if client.record.team_id is not None and client.record.team_id != team_id:
            raise InvalidRequestError("This app is bound to another team.")
        if not team_in_org(db.session, client.record.org_id, team_id):
            raise InvalidRequestError(f"No team {team_id} in this app's organization.")
        return team_id

    def _requested_audience(self) -> str | None:
        """RFC 8707 §2: one registered resource server's audience, or none (every one)."""
        resources = self.request.form.getlist("resource")
        if not resources:
            return None
        if len(resources) > 1:
            raise InvalidTargetError("Ask for one resource per token.")
        if resources[0] not in client_records.audiences(state_view(), db.session):
            raise InvalidTargetError("The resource is not a registered resource server.")
        return str(resources[0])


def generate_access_token(
    grant_type: str,
    client: AppClient,
    user: Any = None,
    scope: str | None = None,
    expires_in: int | None = None,
    include_refresh_token: bool = False,
) -> dict[str, Any]:
    """Authlib's token generator hook: a self-contained token, and no database row."""
    app = client.record
    tokens = services().tokens
    claims = tokens.claims_for(
        client_id=app.client_id,
        org_id=app.org_id,
        team_id=client.team_id,
        scope=client.get_allowed_scope(scope),
        audience=client.audience,
        ttl_seconds=app.token_ttl_seconds,
    )
    return {
        "access_token": tokens.encode(claims, app.token_format, app.jwt_signing_alg),
        "token_type": "Bearer",
        "expires_in": claims.expires_in,
        "scope": claims.scope,
    }
