"""RFC 7009 revocation and RFC 8414 metadata. (Token-key rotation, which every worker of a
live server must take up, is tests/live/test_token_key_rotation.py.)"""

from __future__ import annotations

from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session

from tests import transport
from tests.api import Api
from tests.oauth_calls import introspect, issue
from tests.web.server import WebServer

INACTIVE = {"active": False}


def revoke(server: WebServer, caller: dict[str, Any], data: dict[str, str]) -> requests.Response:
    return transport.post(
        f"{server.url}/oauth/revoke",
        data=data,
        auth=(caller["client_id"], caller["client_secret"]),
        timeout=10,
    )


# -- revocation (RFC 7009) ----------------------------------------------------------------------


def test_owner_revokes_its_token_everywhere(
    server: WebServer, make_app: Any, resource_server: dict[str, Any]
) -> None:
    for token_format in ("opaque", "jwt"):
        app = make_app(token_format=token_format)
        token, sibling = issue(server, app), issue(server, app)
        assert introspect(server, resource_server, token)["active"] is True

        r = revoke(server, app, {"token": token, "token_type_hint": "access_token"})
        assert r.status_code == 200, r.text
        assert r.headers["Cache-Control"] == "no-store"
        for _ in range(10):  # and stays so: nothing remembered from before serves it
            assert introspect(server, resource_server, token) == INACTIVE
        # Only that token: the app and its other tokens are untouched.
        assert introspect(server, resource_server, sibling)["active"] is True
        # Revoking again, or with an odd hint, is still fine (RFC 7009 §2.2).
        assert (
            revoke(server, app, {"token": token, "token_type_hint": "refresh_token"}).status_code
            == 200
        )


def test_another_app_cannot_revoke_a_token(
    server: WebServer, make_app: Any, resource_server: dict[str, Any]
) -> None:
    owner, intruder = make_app(), make_app()
    token = issue(server, owner)
    r = revoke(server, intruder, {"token": token})
    # Authlib's answer (RFC 7009 §2.2.1 allows any RFC 6749 §5.2 error): invalid_grant.
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_grant"
    assert r.headers["Cache-Control"] == "no-store"
    assert introspect(server, resource_server, token)["active"] is True

    # A resource server is no client of the revocation endpoint.
    r = revoke(server, resource_server, {"token": token})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    assert r.headers["WWW-Authenticate"].startswith("Basic")
    assert introspect(server, resource_server, token)["active"] is True


def test_api_keys_are_not_revoked_here_and_the_app_is_told_without_a_lookup(
    server: WebServer,
    admin_org_id: int,
    make_app: Any,
    make_key: Any,
    import_user_keys: Any,
    resource_server: dict[str, Any],
) -> None:
    """RFC 7009 §2.2.1 ``unsupported_token_type``: a 200 would say the key was revoked; it
    was not, and it keeps working (admins revoke keys). The answer comes from the key's
    form alone, so an app learns nothing about whether a key is live, its own org's or not;
    a legacy user key, which has no form, is one of the strings not found (200)."""
    app, key = make_app(), make_key()
    user_key = "legacy-" + "k" * 30
    import_user_keys(
        admin_org_id,
        [
            {
                "email": "revoke-here@example.com",
                "name": "R",
                "token": user_key,
                "created_at": "2024-01-01T00:00:00Z",
                "scopes": "people:read",
            }
        ],
    )
    answers = []
    for candidate in (key["key"], key["key"][:-3] + "AAA"):  # live, and a wrong checksum
        r = revoke(server, app, {"token": candidate})
        assert r.status_code == 400, r.text
        assert r.json()["error"] == "unsupported_token_type"
        assert candidate not in r.text
        answers.append(r.json())
    assert answers[0] == answers[1]
    assert revoke(server, app, {"token": user_key}).status_code == 200
    for credential in (key["key"], user_key):
        assert introspect(server, resource_server, credential)["active"] is True


def test_revocation_of_garbage_succeeds_and_a_missing_token_is_invalid_request(
    server: WebServer, make_app: Any
) -> None:
    app = make_app()
    for garbage in ("garbage", "lkat_nokid.AAAA", "eyJhbGciOiJub25lIn0.e30."):
        r = revoke(server, app, {"token": garbage})
        assert r.status_code == 200, r.text  # RFC 7009 §2.2: invalid tokens are no error
    for data in ({}, {"token": ""}, {"token_type_hint": "access_token"}):
        r = revoke(server, app, data)
        assert r.status_code == 400, r.text
        assert r.json()["error"] == "invalid_request"
    bad = {**app, "client_secret": "wrong"}
    r = revoke(server, bad, {"token": "garbage"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


# -- metadata (RFC 8414) and JWKS ---------------------------------------------------------------


def test_metadata_describes_this_server(
    server: WebServer, admin: Api, make_app: Any, resource_server: dict[str, Any]
) -> None:
    r = transport.get(f"{server.url}/.well-known/oauth-authorization-server", timeout=10)
    assert r.status_code == 200
    meta = r.json()
    assert meta["issuer"] == server.url
    assert meta["token_endpoint"] == f"{server.url}/oauth/token"
    assert meta["introspection_endpoint"] == f"{server.url}/oauth/introspect"
    assert meta["revocation_endpoint"] == f"{server.url}/oauth/revoke"
    assert meta["jwks_uri"] == f"{server.url}/oauth/jwks"
    assert meta["grant_types_supported"] == ["client_credentials"]
    methods = {"client_secret_basic", "client_secret_post"}
    assert set(meta["token_endpoint_auth_methods_supported"]) == methods
    assert set(meta["introspection_endpoint_auth_methods_supported"]) == methods
    assert set(meta["revocation_endpoint_auth_methods_supported"]) == methods
    catalog = {s["name"] for s in admin.ok("GET", "/api/scopes")}
    assert set(meta["scopes_supported"]) == catalog and "people:read" in catalog

    # The advertised endpoints are the working ones: a client driven by the metadata alone.
    app = make_app(scopes=["people:read"])
    client = OAuth2Session(app["client_id"], app["client_secret"], scope="people:read")
    transport.route(client)
    token = client.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
    assert token["scope"] == "people:read"
    client.revoke_token(meta["revocation_endpoint"], token["access_token"])
    r = transport.post(
        meta["introspection_endpoint"],
        data={"token": token["access_token"]},
        auth=(resource_server["client_id"], resource_server["client_secret"]),
        timeout=10,
    )
    assert r.json() == INACTIVE
