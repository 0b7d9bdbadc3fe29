"""POST /oauth/introspect (RFC 7662): who may ask, what a genuine token answers, and that
everything not active is exactly ``{"active": false}``."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.api import Api
from tests.credentials import tampered
from tests.oauth_calls import introspect, introspect_response, issue
from tests.web.server import WebServer

INACTIVE = {"active": False}
ACTIVE_FIELDS = {
    "active",
    "scope",
    "client_id",
    "token_type",
    "exp",
    "iat",
    "sub",
    "aud",
    "iss",
    "jti",
    "org_id",
    "team_id",
    "key_prefix",
    "name",
}


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_only_resource_servers_may_introspect(
    server: WebServer, make_app: Any, resource_server: dict[str, Any]
) -> None:
    app = make_app()
    token = issue(server, app)
    bad_rs = {**resource_server, "client_secret": resource_server["client_secret"][:-2] + "xx"}
    for caller, kwargs in (
        (app, {}),  # an app's own, valid credentials
        (bad_rs, {}),
        (None, {}),
        (
            None,
            {
                "data": {
                    "token": token,
                    **{"client_id": app["client_id"], "client_secret": app["client_secret"]},
                }
            },
        ),
    ):
        data = kwargs.pop("data", {"token": token})
        r = introspect_response(server, caller, data)
        assert r.status_code == 401, r.text
        assert r.json()["error"] == "invalid_client"
        assert r.headers["WWW-Authenticate"].startswith("Basic")
        assert r.headers["Cache-Control"] == "no-store"
        assert "active" not in r.json()

    # client_secret_post works for a resource server as well.
    form = {
        "token": token,
        "client_id": resource_server["client_id"],
        "client_secret": resource_server["client_secret"],
    }
    assert introspect_response(server, None, form).json()["active"] is True


def test_missing_token_is_invalid_request(
    server: WebServer, resource_server: dict[str, Any]
) -> None:
    for data in ({}, {"token": ""}, {"token_type_hint": "access_token"}):
        r = introspect_response(server, resource_server, data)
        assert r.status_code == 400, r.text
        assert r.json()["error"] == "invalid_request"
        assert r.headers["Cache-Control"] == "no-store"


def test_unknown_garbage_tampered_and_forged_tokens_are_exactly_inactive(
    server: WebServer, make_app: Any, resource_server: dict[str, Any]
) -> None:
    opaque = issue(server, make_app())
    signed = issue(server, make_app(token_format="jwt"))
    header = json.loads(base64.urlsafe_b64decode(signed.split(".")[0] + "=="))
    claims = json.loads(base64.urlsafe_b64decode(signed.split(".")[1] + "==="))
    # The same claims, under the server's key id, signed by a key that is not the server's.
    forged = jwt.encode(
        header, claims, RSAKey.generate_key(2048, parameters={"kid": header["kid"]}, private=True)
    )
    unsigned = f"{b64({'typ': 'at+jwt', 'alg': 'none'})}.{b64(claims)}."
    prefix = opaque.split("_", 1)[0]
    for token in (
        "garbage",
        "x" * 5000,
        f"{prefix}_",
        f"{prefix}_nokid.AAAA",
        opaque.split(".")[0] + ".",
        tampered(opaque),
        opaque[:-3],
        tampered(signed),
        signed.rsplit(".", 1)[0] + ".",
        forged,
        unsigned,
        "eyJ" + "A" * 40,
    ):
        assert introspect(server, resource_server, token) == INACTIVE, token
    # The genuine ones are fine: the tampering, not the tokens, made the difference.
    assert introspect(server, resource_server, opaque)["active"] is True
    assert introspect(server, resource_server, signed)["active"] is True


def test_active_answer_carries_exactly_the_designed_fields(
    server: WebServer,
    make_app: Any,
    make_team: Any,
    resource_server: dict[str, Any],
    admin_org_id: int,
) -> None:
    team = make_team()
    for token_format in ("opaque", "jwt"):
        app = make_app(token_format=token_format, token_ttl_seconds=120, team_id=team["id"])
        before = int(time.time())
        token = issue(server, app, scope="leads:read")
        answer = introspect(server, resource_server, token)
        assert set(answer) == ACTIVE_FIELDS, answer
        assert answer["active"] is True
        assert answer["scope"] == "leads:read"
        assert answer["client_id"] == answer["sub"] == app["client_id"]
        assert answer["token_type"] == "Bearer"
        assert before - 5 <= answer["iat"] <= time.time() + 5
        assert answer["exp"] - answer["iat"] == 120
        assert answer["aud"] == answer["iss"] == server.url
        assert isinstance(answer["jti"], str) and len(answer["jti"]) >= 16
        assert answer["org_id"] == admin_org_id
        assert answer["team_id"] == team["id"]
        assert answer["key_prefix"] == app["prefix"]
        assert answer["name"] == app["name"]
        # Every token is its own.
        assert introspect(server, resource_server, issue(server, app))["jti"] != answer["jti"]


def test_token_type_hint_does_not_change_the_answer(
    server: WebServer, make_app: Any, resource_server: dict[str, Any]
) -> None:
    token = issue(server, make_app())
    plain = introspect(server, resource_server, token)
    assert plain["active"] is True
    for hint in ("access_token", "refresh_token", "api_key", "garbage"):
        assert introspect(server, resource_server, token, token_type_hint=hint) == plain, hint
        assert introspect(server, resource_server, "garbage", token_type_hint=hint) == INACTIVE


def test_a_token_for_another_audience_is_inactive_for_other_resource_servers(
    server: WebServer, admin: Api, make_app: Any, resource_server: dict[str, Any]
) -> None:
    other = admin.ok(
        "POST",
        "/api/resource-servers",
        201,
        json={"name": "Other API", "audience": f"https://other-{time.time_ns()}.example.com"},
    )
    app = make_app()
    targeted = issue(server, app, resource=resource_server["audience"])
    assert introspect(server, other, targeted) == INACTIVE
    answer = introspect(server, resource_server, targeted)
    assert answer["active"] is True and answer["aud"] == resource_server["audience"]
    # A token without ``resource`` is for every resource server.
    untargeted = issue(server, app)
    assert introspect(server, other, untargeted)["active"] is True
    assert introspect(server, resource_server, untargeted)["active"] is True


def test_revoked_reactivated_and_deleted_apps(
    server: WebServer, admin: Api, make_app: Any, resource_server: dict[str, Any]
) -> None:
    app = make_app()
    old = issue(server, app)
    assert introspect(server, resource_server, old)["active"] is True

    admin.ok("POST", f"/api/apps/{app['id']}/revoke")
    assert introspect(server, resource_server, old) == INACTIVE

    admin.ok("POST", f"/api/apps/{app['id']}/reactivate")
    assert introspect(server, resource_server, old) == INACTIVE  # a revoke is forever for a token
    new = issue(server, app)
    assert introspect(server, resource_server, new)["active"] is True

    admin.ok("DELETE", f"/api/apps/{app['id']}")
    assert introspect(server, resource_server, new) == INACTIVE


def test_an_edit_to_the_app_applies_to_its_live_tokens(
    server: WebServer,
    admin: Api,
    make_app: Any,
    make_team: Any,
    resource_server: dict[str, Any],
) -> None:
    """As an edit to an API key does: scopes taken from the app leave its tokens at once; a
    token for all teams, or another team, ends when the app is bound to one team."""
    app = make_app(scopes=["people:read", "leads:read"])
    team = make_team()
    all_teams = issue(server, app)
    admin.ok("PATCH", f"/api/apps/{app['id']}", json={"scopes": ["leads:read"]})
    assert introspect(server, resource_server, all_teams)["scope"] == "leads:read"
    narrow = issue(server, app, team=str(team["id"]))
    admin.ok("PATCH", f"/api/apps/{app['id']}", json={"team_id": team["id"]})
    assert introspect(server, resource_server, all_teams) == INACTIVE
    assert introspect(server, resource_server, narrow)["team_id"] == team["id"]
    admin.ok("PATCH", f"/api/apps/{app['id']}", json={"scopes": ["people:read"]})
    assert introspect(server, resource_server, narrow) == INACTIVE  # no scope left


def test_org_plan_off_ends_tokens_and_on_again_serves_new_ones(
    server: WebServer, admin: Api, make_org: Any, make_app: Any, resource_server: dict[str, Any]
) -> None:
    org, org_admin = make_org()
    app = make_app(api=org_admin)
    token = issue(server, app)
    answer = introspect(server, resource_server, token)
    assert answer["active"] is True and answer["org_id"] == org["id"]

    admin.ok("PATCH", f"/api/orgs/{org['id']}", json={"api_access": False})
    assert introspect(server, resource_server, token) == INACTIVE

    admin.ok("PATCH", f"/api/orgs/{org['id']}", json={"api_access": True})
    fresh = introspect(server, resource_server, issue(server, app))
    assert fresh["active"] is True and fresh["org_id"] == org["id"]


def test_token_past_its_exp_is_inactive(
    server: WebServer, make_app: Any, resource_server: dict[str, Any], admin_org_id: int
) -> None:
    """A genuine token, sealed and signed with the server's own keys, whose ``exp`` passed.

    Minted by Latchkey's own codec from outside the server (same database, same pepper),
    since waiting out the shortest TTL (60 s) would slow the suite for nothing.
    """
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from keys.access_tokens import AccessTokenCodec
    from keys.hashing import SecretHasher
    from keys.keyring import KEK_PURPOSE, KeyRing

    app = make_app()
    issue(server, app, scope="people:read")  # the server makes its keys
    url = server.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    try:
        kek = SecretHasher(server.env["LATCHKEY_PEPPER"].encode()).derive_key(KEK_PURPOSE)
        codec = AccessTokenCodec(KeyRing(kek, lambda: Session(engine)), "lkat", server.url)
        for ttl, expected in ((120, True), (-1, False)):
            claims = codec.claims_for(
                client_id=app["client_id"],
                org_id=admin_org_id,
                team_id=None,
                scope="people:read",
                audience=None,
                ttl_seconds=ttl,
            )
            for token_format in ("opaque", "jwt"):
                answer = introspect(server, resource_server, codec.encode(claims, token_format))
                assert answer.get("active") is expected, (ttl, token_format, answer)
                if not expected:
                    assert answer == {"active": False}
    finally:
        engine.dispose()
