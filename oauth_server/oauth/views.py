"""The OAuth endpoints read with GET: RFC 8414 metadata and the JWKS. The POST endpoints
(token, introspection, revocation) are served in front of Flask: :mod:`oauth_server.oauth.wsgi`."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from oauth_server.oauth.clients import CLIENT_AUTH_METHODS
from oauth_server.services import services

bp = Blueprint("oauth", __name__)


@bp.get("/.well-known/oauth-authorization-server")
def metadata() -> Response:
    """RFC 8414 §2 authorization server metadata.

    ``response_types_supported`` is an empty array: §2 makes the member REQUIRED, §3.2 says
    members with zero elements are omitted, and there is no authorization endpoint, so no
    response type, to list (erratum 7793 proposes "REQUIRED unless no grant types are
    supported that use the authorization endpoint"). The member is kept, empty, so that a
    client checking for it finds the truth; listing "code" would invite a flow this server
    does not serve. (Authlib's metadata validator treats the empty array as missing; clients
    do not run it when they fetch tokens.)"""
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


@bp.get("/oauth/jwks")
def jwks() -> Response:
    """RFC 7517 JWK Set of every signing key a live JWT access token may carry."""
    response = jsonify(services().keyring.public_jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
