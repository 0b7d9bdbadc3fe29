"""The OAuth endpoints' HTTP glue: routes, limits, and RFC 6749-style error bodies."""

from __future__ import annotations

import functools
from collections.abc import Callable

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from oauth_server import throttle
from oauth_server.extensions import csrf
from oauth_server.services import services

bp = Blueprint("oauth", __name__)
csrf.exempt(bp)

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


def _server() -> AuthorizationServer:
    server: AuthorizationServer = current_app.extensions["latchkey_oauth"]
    return server


CLIENT_AUTH_LIMIT = "LATCHKEY_CLIENT_AUTH_LIMIT"


def _throttled(view: Callable[[], Response]) -> Callable[[], Response]:
    """20 failed client authentications a minute per client ID and per IP (DESIGN.md);
    past that, 429 with ``Retry-After`` until the window resets."""

    @functools.wraps(view)
    def wrapper() -> Response:
        client_id, _ = extract_basic_authorization(request.headers)
        keys = (f"ip:{request.remote_addr}", f"client:{client_id or request.form.get('client_id')}")
        exhausted = throttle.check(CLIENT_AUTH_LIMIT, *keys)
        if exhausted:
            response = jsonify(
                error="temporarily_unavailable",
                error_description="Too many failed client authentications; retry later.",
            )
            response.status_code = 429
            response.headers["Retry-After"] = str(exhausted.retry_after)
            response.headers["Cache-Control"] = "no-store"
            return response
        response = view()
        if response.status_code == 401:
            throttle.count_failure(CLIENT_AUTH_LIMIT, *keys)
        return response

    return wrapper


@bp.get("/.well-known/oauth-authorization-server")
def metadata() -> Response:
    """RFC 8414 §2 authorization server metadata."""
    issuer = services().issuer
    return jsonify(
        {
            "issuer": issuer,
            "token_endpoint": f"{issuer}/oauth/token",
            "introspection_endpoint": f"{issuer}/oauth/introspect",
            "revocation_endpoint": f"{issuer}/oauth/revoke",
            "jwks_uri": f"{issuer}/oauth/jwks",
            "grant_types_supported": ["client_credentials"],
            "response_types_supported": [],
            "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
            "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
            "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
            "scopes_supported": sorted(services().core.scope_catalog),
            "service_documentation": f"{issuer}/docs",
        }
    )


@bp.post("/oauth/token")
@_throttled
def token() -> Response:
    """RFC 6749 §4.4 client credentials."""
    response: Response = _server().create_token_response()
    return response


@bp.post("/oauth/introspect")
@_throttled
def introspect() -> Response:
    """RFC 7662 token introspection, for resource servers."""
    response: Response = _server().create_endpoint_response("introspection")
    return response


@bp.post("/oauth/revoke")
@_throttled
def revoke() -> Response:
    """RFC 7009 token revocation, by the app that owns the token."""
    response: Response = _server().create_endpoint_response("revocation")
    return response


@bp.get("/oauth/jwks")
def jwks() -> Response:
    """RFC 7517 JWK Set of every signing key a live JWT access token may carry."""
    response = jsonify(services().keyring.public_jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException) -> Response:
    """Werkzeug's errors (a body over the size limit: 413) in RFC 6749 §5.2's JSON shape."""
    response = jsonify(error="invalid_request", error_description=error.description or error.name)
    response.status_code = error.code or 400
    response.headers["Cache-Control"] = "no-store"
    return response
