"""Authlib's authorization server, extended through its hooks only, and the rules of RFC 6749
§3.2 and §2.3 that hold at every endpoint: each parameter at most once, and one client
authentication method per request.

The roles it serves are one module each, as Authlib's own are: :mod:`.grant` (RFC 6749 §4.4),
:mod:`.introspection` (RFC 7662), :mod:`.revocation` (RFC 7009); clients and their
authentication are :mod:`.clients`.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import InvalidClientError, InvalidRequestError
from flask import Flask

from oauth_server.oauth.clients import (
    SecretClient,
    authenticate_basic,
    authenticate_post,
    query_client,
)
from oauth_server.oauth.errors import ClientAuthenticationFailed, quoted
from oauth_server.oauth.grant import LatchkeyClientCredentialsGrant, generate_access_token
from oauth_server.oauth.introspection import LatchkeyIntrospectionEndpoint
from oauth_server.oauth.revocation import LatchkeyRevocationEndpoint
from oauth_server.services import services


class LatchkeyAuthorizationServer(AuthorizationServer):
    """Authlib's framework-neutral server: :mod:`oauth_server.oauth.wsgi` hands it requests
    already read from the WSGI environ and sends the ``(status, body, headers)`` it returns."""

    def query_client(self, client_id: str) -> SecretClient | None:
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
                f"The parameter {quoted(name)} appears more than once; send each parameter "
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
