"""RFC 7009 revocation, RFC 8414 metadata, the JWKS, and token-key rotation, against a live
server."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.live.oauth_calls import introspect, issue
from tests.live.server import ADMIN_EMAIL, ADMIN_PASSWORD, ROOT, Api, LiveServer

INACTIVE = {"active": False}


def revoke(server: LiveServer, caller: dict[str, Any], data: dict[str, str]) -> requests.Response:
    return requests.post(
        f"{server.url}/oauth/revoke",
        data=data,
        auth=(caller["client_id"], caller["client_secret"]),
        timeout=10,
    )


def kid_of(token: str) -> str:
    """The key id a token was made with: the JWT header's ``kid``, or the opaque token's
    clear-text key id (``<kind>_<kid>.<sealed>``)."""
    if token.startswith("eyJ"):
        return str(json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))["kid"])
    return token.split("_", 1)[1].split(".", 1)[0]


# -- revocation (RFC 7009) ----------------------------------------------------------------------


def test_owner_revokes_its_token_everywhere(
    server: LiveServer, make_app: Any, resource_server: dict[str, Any]
) -> None:
    for token_format in ("opaque", "jwt"):
        app = make_app(token_format=token_format)
        token, sibling = issue(server, app), issue(server, app)
        assert introspect(server, resource_server, token)["active"] is True

        r = revoke(server, app, {"token": token, "token_type_hint": "access_token"})
        assert r.status_code == 200, r.text
        assert r.headers["Cache-Control"] == "no-store"
        for _ in range(10):  # new connections: both workers answer
            assert introspect(server, resource_server, token) == INACTIVE
        # Only that token: the app and its other tokens are untouched.
        assert introspect(server, resource_server, sibling)["active"] is True
        # Revoking again, or with an odd hint, is still fine (RFC 7009 §2.2).
        assert (
            revoke(server, app, {"token": token, "token_type_hint": "refresh_token"}).status_code
            == 200
        )


def test_another_app_cannot_revoke_a_token(
    server: LiveServer, make_app: Any, resource_server: dict[str, Any]
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
    server: LiveServer,
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
    server: LiveServer, make_app: Any
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
    server: LiveServer, admin: Api, make_app: Any, resource_server: dict[str, Any]
) -> None:
    r = requests.get(f"{server.url}/.well-known/oauth-authorization-server", timeout=10)
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
    token = client.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
    assert token["scope"] == "people:read"
    client.revoke_token(meta["revocation_endpoint"], token["access_token"])
    r = requests.post(
        meta["introspection_endpoint"],
        data={"token": token["access_token"]},
        auth=(resource_server["client_id"], resource_server["client_secret"]),
        timeout=10,
    )
    assert r.json() == INACTIVE


def _jwks(server: LiveServer) -> list[dict[str, Any]]:
    r = requests.get(f"{server.url}/oauth/jwks", headers={"Connection": "close"}, timeout=10)
    assert r.status_code == 200
    keys: list[dict[str, Any]] = r.json()["keys"]
    for key in keys:
        assert key["use"] == "sig" and key["kid"]
        if key["kty"] == "RSA":
            assert key["alg"] == "RS256" and key["n"] and key["e"]
        else:
            assert (key["kty"], key["crv"], key["alg"]) == ("EC", "P-256", "ES256")
            assert key["x"] and key["y"]
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key), "private key material published"
    return keys


def _by_alg(keys: list[dict[str, Any]]) -> dict[str, str]:
    return {k["alg"]: k["kid"] for k in keys}


def test_token_key_rotation_keeps_old_tokens_and_moves_new_ones(server_factory: Any) -> None:
    # A server of its own: the JWKS is looked at before any JWT exists, and its keys rotate.
    live = server_factory()
    initial = _jwks(live)
    assert len(initial) == 2, "a signing key of each algorithm before the first JWT"
    assert set(_by_alg(initial)) == {"RS256", "ES256"}
    admin = Api.login(live.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    rs = admin.ok(
        "POST",
        "/api/resource-servers",
        201,
        json={"name": "API", "audience": "https://api.example.com"},
    )
    jwt_app = admin.ok(
        "POST",
        "/api/apps",
        201,
        json={"name": "J", "scopes": ["people:read"], "token_format": "jwt"},
    )
    opaque_app = admin.ok("POST", "/api/apps", 201, json={"name": "O", "scopes": ["people:read"]})
    old_jwt, old_opaque = issue(live, jwt_app), issue(live, opaque_app)
    assert kid_of(old_jwt) == _by_alg(initial)["RS256"]

    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "rotate-token-keys"],
        cwd=ROOT,
        env=live.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "New token keys" in done.stdout

    after = _jwks(live)
    new = _by_alg(after[:2])  # the newest keys are listed first
    assert set(new) == {"RS256", "ES256"}
    assert {k["kid"] for k in after} == {k["kid"] for k in initial} | set(new.values())
    assert len(after) == 4
    new_sign_kid = new["RS256"]

    # Tokens made before the rotation stay good, in every worker, by introspection and JWKS.
    for _ in range(6):
        assert introspect(live, rs, old_jwt)["active"] is True
        assert introspect(live, rs, old_opaque)["active"] is True
    jwt.decode(old_jwt, KeySet.import_key_set({"keys": after}), algorithms=["RS256"])

    # New tokens move to the new keys once each worker re-reads its keys (at most every
    # 30 s; the JWKS request above made the workers that answered it re-read at once).
    deadline = time.monotonic() + 40
    fresh: list[tuple[str, str]] = []
    while len(fresh) < 6:
        assert time.monotonic() < deadline, "new tokens still use the retired keys"
        new_jwt, new_opaque = issue(live, jwt_app), issue(live, opaque_app)
        if kid_of(new_jwt) == kid_of(old_jwt) or kid_of(new_opaque) == kid_of(old_opaque):
            _jwks(live)  # the answering worker re-reads its keys
            fresh.clear()
            continue
        fresh.append((new_jwt, new_opaque))
    keys = KeySet.import_key_set({"keys": _jwks(live)})
    for new_jwt, new_opaque in fresh:
        assert kid_of(new_jwt) == new_sign_kid
        assert jwt.decode(new_jwt, keys, algorithms=["RS256"]).header["typ"] == "at+jwt"
        assert introspect(live, rs, new_jwt)["active"] is True
        assert introspect(live, rs, new_opaque)["active"] is True
