"""Token-key rotation on a live server (``flask --app app rotate-token-keys``, run as an
operator runs it): tokens made before keep verifying, by introspection and against the JWKS,
and every worker moves new tokens to the new keys once it re-reads its keys."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from typing import Any

import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.api import ADMIN_EMAIL, ADMIN_PASSWORD, Api
from tests.live.server import ROOT, LiveServer
from tests.oauth_calls import introspect, issue


def kid_of(token: str) -> str:
    """The key id a token was made with: the JWT header's ``kid``, or the opaque token's
    clear-text key id (``<kind>_<kid>.<sealed>``)."""
    if token.startswith("eyJ"):
        return str(json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))["kid"])
    return token.split("_", 1)[1].split(".", 1)[0]


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
