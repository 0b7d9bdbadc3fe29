"""Authlib's authorization server, extended through its hooks only.

* RFC 6749 §4.4 client credentials, with Latchkey's ``team`` narrowing and RFC 8707
  ``resource`` audiences;
* RFC 7662 introspection, for registered resource servers only, of access tokens, API keys
  and legacy user keys (told apart by their form; :mod:`keys.verification` checks keys);
* RFC 7009 revocation of access tokens, by the app that owns the token;
* RFC 6749 §3.2 and §2.3 for every endpoint: each parameter at most once, and one client
  authentication method per request.

OAuth apps authenticate at the token and revocation endpoints, resource servers at the
introspection endpoint; any other combination is ``invalid_client`` (401).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc6749 import (
    ClientMixin,
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import Flask

from keys import client_secrets, verification
from keys.access_tokens import AccessTokenClaims
from keys.base import now_ms
from keys.hashing import fingerprint
from keys.models import Team
from keys.verification import VerifiedKey
from oauth_server.extensions import db
from oauth_server.oauth import storage
from oauth_server.services import services, state_view

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

#: Client IDs are ``<kind>_<public id>``: URL-safe characters (DESIGN.md, "Credential formats").
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")

#: Team ids are database integers; a larger number cannot name a team (and would make the
#: database driver raise instead of finding nothing).
MAX_TEAM_ID = 2**31 - 1


class InvalidTargetError(OAuth2Error):
    """RFC 8707 §2: the requested resource is invalid, unknown, or malformed."""

    error = "invalid_target"
    status_code = 400


class UnsupportedTokenTypeError(OAuth2Error):
    """RFC 7009 §2.2.1: this server does not revoke the presented kind of token here.

    Authlib's own class is a 401 with a challenge; RFC 7009 answers it as RFC 6749 §5.2 does
    every error of a client that did authenticate: 400."""

    error = "unsupported_token_type"
    status_code = 400


class ClientAuthenticationFailed(InvalidClientError):
    """RFC 6749 §5.2 ``invalid_client`` as a 401 whose Basic challenge carries the ``realm``
    that RFC 7617 §2 requires (Authlib's challenge has none)."""

    status_code = 401

    def __init__(self, realm: str) -> None:
        super().__init__(
            description="Client authentication failed: unknown client ID, wrong secret, or a "
            "revoked client. Send the client ID and secret with HTTP Basic or in the body."
        )
        self.realm = realm

    def get_headers(self) -> list[tuple[str, str]]:
        challenge = (
            f'Basic realm="{self.realm}", error="{self.error}", '
            f'error_description="{self.get_error_description()}"'
        )
        return [*OAuth2Error.get_headers(self), ("WWW-Authenticate", challenge)]


# -- clients ----------------------------------------------------------------------------------


class _SecretClient(ClientMixin):
    """What apps and resource servers share: a client ID and a rotatable secret."""

    endpoints: frozenset[str] = frozenset()

    def __init__(self, record: storage.ClientRecord) -> None:
        self.record = record

    def get_client_id(self) -> str:
        return self.record.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        """RFC 6749 §2.3.1: the current secret, or the previous one during a rotation.

        A secret that matched is remembered, by a digest, under the request's stamp (a
        rotation or a revoke moves it) until the end :func:`client_secrets.valid_until`
        gives, so a client that authenticates on every request pays the parse, checksum and
        HMAC once. Failures are not remembered: guesses must not fill the cache.
        """
        core = services().core
        until = state_view().get(
            ("client secret", self.record.client_id, fingerprint(client_secret)),
            lambda: client_secrets.valid_until(
                self.record, core.hasher, core.prefixes.client_secret, client_secret
            ),
            keep=lambda matched: matched is not None,
        )
        return until is not None and until > now_ms()

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """RFC 7591 §2: which endpoints this kind of client may authenticate at."""
        return method in CLIENT_AUTH_METHODS and endpoint in self.endpoints

    def check_grant_type(self, grant_type: str) -> bool:
        return False


class AppClient(_SecretClient):
    record: storage.AppRecord
    endpoints = frozenset({"token", "revocation"})

    def __init__(self, record: storage.AppRecord) -> None:
        super().__init__(record)
        self.team_id: int | None = record.team_id
        self.audience: str | None = None

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"

    def get_allowed_scope(self, scope: str | None) -> str:
        """RFC 6749 §3.3: no scope asked (absent, empty or only spaces) means all of the app's
        scopes; a token with none would be refused everywhere."""
        requested = scope_to_list(scope) if scope else None
        if not requested:
            return self.record.scopes
        return " ".join(dict.fromkeys(requested))


class ResourceServerClient(_SecretClient):
    record: storage.ResourceServerRecord
    endpoints = frozenset({"introspection"})


def query_client(client_id: str) -> _SecretClient | None:
    """The live app or resource server with this client ID. An ID that is not URL-safe
    characters is none of ours, and is never sent to the database (PostgreSQL refuses a
    NUL in a query: a 500 instead of the client's 401)."""
    if not _CLIENT_ID.fullmatch(client_id):
        return None
    prefixes = services().core.prefixes
    kind = client_id.partition("_")[0]
    if kind == prefixes.app_client_id:
        app = storage.app_record(state_view(), db.session, client_id)
        return AppClient(app) if app and app.revoked_at is None else None
    if kind == prefixes.resource_server_client_id:
        server = storage.resource_server_record(state_view(), db.session, client_id)
        return ResourceServerClient(server) if server and server.revoked_at is None else None
    return None


def _authenticate(client_id: str | None, secret: str | None) -> _SecretClient | None:
    if not client_id or not secret:
        return None
    client = query_client(client_id)
    return client if client and client.check_client_secret(secret) else None


def authenticate_basic(_query_client: Any, request: Any) -> _SecretClient | None:
    """RFC 6749 §2.3.1 HTTP Basic (form-urlencoded id and secret, then base64)."""
    return _authenticate(*request.basic_credentials)


def authenticate_post(_query_client: Any, request: Any) -> _SecretClient | None:
    """RFC 6749 §2.3.1 credentials in the request body.

    Unlike Authlib's default, an unknown client is not answered with a 400 here: every
    failed client authentication is the same 401 ``invalid_client``.
    """
    return _authenticate(request.form.get("client_id"), request.form.get("client_secret"))


def _quoted(value: str) -> str:
    """``value`` quoted for an ``error_description``, or a placeholder when it holds characters
    RFC 6749 §5.2 forbids there (Authlib refuses to build such an error: a 500 instead of
    the 400 the client's typo deserves)."""
    if len(value) > 100 or invalid_error_characters(value):
        return "(a malformed value)"
    return f"'{value}'"


# -- tokens -----------------------------------------------------------------------------------


@dataclass
class IntrospectedToken:
    """A genuine access token (RFC 7662's view of it), and whether its state is live."""

    claims: AccessTokenClaims
    live: bool
    name: str | None = None
    key_prefix: str | None = None
    #: The claims' scopes that the app still holds (:func:`storage.token_state`).
    scope: str = ""

    def check_client(self, client: _SecretClient) -> bool:
        return isinstance(client, AppClient) and client.get_client_id() == self.claims.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.claims.expires_in

    def is_expired(self) -> bool:
        return False  # the codec refuses expired tokens before this object exists

    def is_revoked(self) -> bool:
        return not self.live


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
            raise InvalidScopeError(f"The app does not hold the scope {_quoted(outside[0])}.")

    def _requested_team(self, client: AppClient) -> int | None:
        raw = self.request.form.get("team")
        if raw is None or raw == "":
            return client.record.team_id
        # ASCII digits only: str.isdigit() also accepts superscripts and other scripts'
        # digits, which int() refuses or reads as another number.
        if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_TEAM_ID:
            raise InvalidRequestError("'team' must be a team id.")
        team_id = int(raw)
        if client.record.team_id is not None and client.record.team_id != team_id:
            raise InvalidRequestError("This app is bound to another team.")
        team = db.session.get(Team, team_id)
        if team is None or team.org_id != client.record.org_id:
            raise InvalidRequestError(f"No team {team_id} in this app's organization.")
        return team_id

    def _requested_audience(self) -> str | None:
        resources = self.request.form.getlist("resource")
        if not resources:
            return None
        if len(resources) > 1:
            raise InvalidTargetError("Ask for one resource per token.")
        if resources[0] not in storage.audiences(state_view(), db.session):
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


@dataclass
class IntrospectedKey:
    """A live API key or user key, as introspection sees it (it is nobody's token to revoke)."""

    key: VerifiedKey

    def check_client(self, client: _SecretClient) -> bool:
        return False

    def is_expired(self) -> bool:
        return False  # verification refuses expired keys before this object exists

    def is_revoked(self) -> bool:
        return False


class _TokenParameter:
    """What introspection and revocation share: client authentication and the ``token``
    parameter."""

    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def check_params(self, request: Any, client: Any) -> None:
        """RFC 7662 §2.1, RFC 7009 §2.1: ``token`` is required; the hint is only a hint
        (an unknown one widens the search, it is no error)."""
        if not request.form.get("token"):
            raise InvalidRequestError("The 'token' parameter is required.")


class LatchkeyIntrospectionEndpoint(_TokenParameter, IntrospectionEndpoint):
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


class LatchkeyRevocationEndpoint(_TokenParameter, RevocationEndpoint):
    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        """RFC 7009 §2.1: only access tokens are revoked here. An API key is refused with
        ``unsupported_token_type`` (RFC 7009 §2.2.1): a 200 would tell the app it was revoked
        when it was not; admins revoke keys in the console or the management API. The key is
        told by its form alone, never looked up: any app may call this endpoint, and a lookup
        would tell it whether another org's key is live. (A legacy user key has no form of its
        own, so it is one of the strings that are not found, which RFC 7009 §2.2 answers with
        200.)"""
        if token_string.partition("_")[0] == services().core.prefixes.api_key:
            raise UnsupportedTokenTypeError(
                "API keys are not revoked here: an admin revokes them in the console (Admin "
                "settings, API access) or through the management API."
            )
        return find_access_token(token_string)

    def revoke_token(self, token: Any, request: Any) -> None:
        """RFC 7009 §2.2: remember the jti until the token would have expired anyway."""
        storage.revoke_jti(db.session, token.claims.jti, token.claims.exp)


def find_access_token(token_string: str) -> IntrospectedToken | None:
    """A genuine, unexpired access token and whether its state is live, or None."""
    claims = services().tokens.decode(token_string, state_view().seen)
    if claims is None:
        return None
    state = storage.token_state(state_view(), db.session, claims)
    return IntrospectedToken(
        claims=claims,
        live=state.live,
        name=state.name,
        key_prefix=state.key_prefix,
        scope=state.scope,
    )


class LatchkeyAuthorizationServer(AuthorizationServer):
    """Authlib's framework-neutral server: :mod:`oauth_server.oauth.wsgi` hands it requests
    already read from the WSGI environ and sends the ``(status, body, headers)`` it returns."""

    def query_client(self, client_id: str) -> _SecretClient | None:
        return query_client(client_id)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """Tokens are self-contained: nothing to save (DESIGN.md, "Credential formats")."""

    def create_oauth2_request(self, request: Any) -> Any:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, Any]:
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No one listens to Authlib's signals here."""

    def create_token_response(self, request: Any = None) -> Any:
        """RFC 6749 §5.2: a request without ``grant_type`` is missing a required parameter
        (``invalid_request``); ``unsupported_grant_type`` is for a grant type we do not serve,
        which is all Authlib would answer."""
        error = _repeated_parameter(request)
        if error is None and not request.payload.data.get("grant_type"):
            error = InvalidRequestError("The 'grant_type' parameter is required.")
        if error is not None:
            return self.handle_error_response(request, error)
        return super().create_token_response(request)

    def create_endpoint_response(self, name: str, request: Any = None) -> Any:
        error = _repeated_parameter(request)
        if error is not None:
            return self.handle_error_response(request, error)
        return super().create_endpoint_response(name, request)

    def authenticate_client(self, request: Any, methods: list[str], endpoint: str = "token") -> Any:
        """RFC 6749 §2.3: one authentication method per request. Were HTTP Basic and a body
        secret both accepted, whichever worked would win, and a client holding any good
        credentials could test guesses at another client's secret without ever failing (so
        without ever being throttled).

        RFC 6749 §5.2: every failed client authentication is the same 401 ``invalid_client``,
        whatever the reason, so it tells a guesser nothing."""
        authorization = request.headers.get("Authorization", "").split(None, 1)
        if authorization and authorization[0].lower() == "basic":  # as Authlib reads it
            body_id = request.form.get("client_id")
            if request.form.get("client_secret") is not None:
                raise InvalidRequestError(
                    "Use one client authentication method: HTTP Basic or 'client_secret' in "
                    "the body, not both (RFC 6749, section 2.3)."
                )
            if body_id is not None and body_id != request.basic_credentials[0]:
                raise InvalidRequestError(
                    "The body's 'client_id' is not the client ID in the Authorization header."
                )
            # A malformed Basic header fails as Basic; it never falls back to the body.
            methods = [m for m in methods if m == "client_secret_basic"]
        try:
            return super().authenticate_client(request, methods, endpoint)
        except InvalidClientError:
            raise ClientAuthenticationFailed(realm=services().issuer) from None


def _repeated_parameter(request: Any) -> InvalidRequestError | None:
    """RFC 6749 §3.2: "Request and response parameters MUST NOT be included more than once".
    ``resource`` is RFC 8707's, which allows several; the grant answers that itself."""
    for name, values in request.form.lists():
        if len(values) > 1 and name != "resource":
            return InvalidRequestError(
                f"The parameter {_quoted(name)} appears more than once; send each parameter "
                "once (RFC 6749, section 3.2)."
            )
    return None


def create_authorization_server(app: Flask) -> LatchkeyAuthorizationServer:
    server = LatchkeyAuthorizationServer()
    server.register_token_generator("client_credentials", generate_access_token)
    server.register_client_auth_method("client_secret_basic", authenticate_basic)
    server.register_client_auth_method("client_secret_post", authenticate_post)
    server.register_grant(LatchkeyClientCredentialsGrant)
    server.register_endpoint(LatchkeyIntrospectionEndpoint)
    server.register_endpoint(LatchkeyRevocationEndpoint)
    server.scopes_supported = sorted(services().core.scope_catalog)
    app.extensions["latchkey_oauth"] = server
    return server
