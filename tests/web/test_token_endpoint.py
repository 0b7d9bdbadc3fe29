"""POST /oauth/token: the success answer, every RFC 6749 §5.2 error path with its exact
status, ``error`` and headers, Latchkey's ``team`` and RFC 8707 ``resource`` parameters, plan
gating, JWT access tokens (RFC 9068) and secret rotation. (The client-authentication throttle,
shared by a live server's workers, is tests/live/test_throttles.py.)"""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from tests import transport
from tests.api import Api
from tests.oauth_calls import assert_error, creds, introspect, token_request
from tests.web.server import WebServer

ALL_SCOPES = "people:read leads:read"


def issue(server: WebServer, app: dict[str, Any], **data: Any) -> dict[str, Any]:
    r = token_request(server, data, auth=creds(app))
    assert r.status_code == 200, r.text
    assert r.headers["Cache-Control"] == "no-store"
    return r.json()  # type: ignore[no-any-return]


# -- success ----------------------------------------------------------------------------------


def test_success_is_a_bearer_token_with_the_app_ttl_and_all_its_scopes(
    server: WebServer, make_app: Any, resource_server: dict[str, Any]
) -> None:
    app = make_app(token_ttl_seconds=300)
    for auth, data in (
        (creds(app), {}),  # client_secret_basic
        (None, {"client_id": app["client_id"], "client_secret": app["client_secret"]}),  # _post
    ):
        r = token_request(server, data, auth=auth)
        assert r.status_code == 200, r.text
        assert r.headers["Cache-Control"] == "no-store"
        body = r.json()
        assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 300
        assert body["scope"] == ALL_SCOPES
        assert introspect(server, resource_server, body["access_token"])["active"] is True

    narrowed = issue(server, app, scope="leads:read")
    assert narrowed["scope"] == "leads:read"
    assert introspect(server, resource_server, narrowed["access_token"])["scope"] == "leads:read"


# -- invalid_client ---------------------------------------------------------------------------


def test_every_failed_client_authentication_is_401_invalid_client(
    server: WebServer, make_app: Any, resource_server: dict[str, Any]
) -> None:
    app, other = make_app(), make_app()
    cid, secret = creds(app)
    rs_cid, rs_secret = resource_server["client_id"], resource_server["client_secret"]
    cases: dict[str, tuple[tuple[str, str] | None, dict[str, str]]] = {
        "unknown client id, basic": (("lkci_doesNotExist1", secret), {}),
        "unknown client id, post": (
            None,
            {"client_id": "lkci_doesNotExist1", "client_secret": secret},
        ),
        "wrong secret, basic": ((cid, secret[:-1] + ("A" if secret[-1] != "A" else "B")), {}),
        "wrong secret, post": (None, {"client_id": cid, "client_secret": "not-the-secret"}),
        "another app's secret, basic": ((cid, other["client_secret"]), {}),
        "no credentials": (None, {}),
        "client id without secret, post": (None, {"client_id": cid}),
        # Never sent to the database (PostgreSQL refuses a NUL: it would be a 500).
        "client id with a NUL, post": (None, {"client_id": cid + "\x00", "client_secret": secret}),
        "client id with a NUL, basic": ((cid[:5] + "\x00" + cid[5:], secret), {}),
        "empty secret, basic": ((cid, ""), {}),
        "resource server, basic": ((rs_cid, rs_secret), {}),
        "resource server, post": (None, {"client_id": rs_cid, "client_secret": rs_secret}),
    }
    for label, (auth, data) in cases.items():
        r = token_request(server, data, auth=auth)
        assert r.status_code == 401, label
        assert_error(r, 401, "invalid_client")
    # The right credentials still work: none of the above was about the app itself.
    assert issue(server, app)["token_type"] == "Bearer"


def test_two_authentication_methods_in_one_request_are_invalid_request(
    server: WebServer, make_app: Any
) -> None:
    """RFC 6749 §2.3: one method per request. Were the working one chosen, a client with
    good credentials in the body could test guesses at another client's secret in the
    Authorization header, never failing, so never throttled."""
    app, victim = make_app(), make_app()
    cid, secret = creds(app)
    for guess in ("wrong", victim["client_secret"]):
        r = token_request(
            server, {"client_id": cid, "client_secret": secret}, (victim["client_id"], guess)
        )
        assert_error(r, 400, "invalid_request")
    # The right Basic credentials with any secret in the body: still two methods.
    r = token_request(server, {"client_id": cid, "client_secret": "wrong"}, creds(app))
    assert_error(r, 400, "invalid_request")
    # Basic with a different client_id in the body is a contradiction, not a choice.
    r = token_request(server, {"client_id": victim["client_id"]}, creds(app))
    assert_error(r, 400, "invalid_request")
    # Basic with the same client_id in the body (requests-oauthlib's include_client_id) is one.
    assert token_request(server, {"client_id": cid}, creds(app)).status_code == 200
    # However the Basic header is spelled (a tab, a space inside the base64, which Authlib
    # still reads), a wrong guess there fails as Basic: the body is never tried instead.
    pair = base64.b64encode(f"{victim['client_id']}:wrong".encode()).decode()
    for header in (f"Basic\t{pair}", f"Basic {pair[:8]} {pair[8:]}", "Basic"):
        r = transport.post(
            f"{server.url}/oauth/token",
            data={"grant_type": "client_credentials", "client_id": cid, "client_secret": secret},
            headers={"Authorization": header},
            timeout=10,
        )
        assert r.status_code in (400, 401), (header, r.text)


def test_a_scope_of_only_spaces_is_every_scope_of_the_app(
    server: WebServer, make_app: Any, resource_server: dict[str, Any]
) -> None:
    """Never a token with no scope, which every resource server would refuse."""
    app = make_app()
    body = issue(server, app, scope="  ")
    assert body["scope"] == ALL_SCOPES
    assert introspect(server, resource_server, body["access_token"])["active"] is True


def test_a_repeated_parameter_is_invalid_request(server: WebServer, make_app: Any) -> None:
    """RFC 6749 §3.2: parameters MUST NOT be included more than once. The first value is not
    silently taken: a client that sent two scopes learns it."""
    app = make_app()
    for repeated in (
        [("grant_type", "client_credentials"), ("grant_type", "password")],
        [("grant_type", "client_credentials"), ("scope", "people:read"), ("scope", "leads:read")],
        [("grant_type", "client_credentials"), ("team", "1"), ("team", "2")],
    ):
        r = transport.post(f"{server.url}/oauth/token", data=repeated, auth=creds(app), timeout=10)
        body = assert_error(r, 400, "invalid_request")
        assert "more than once" in body["error_description"]


def test_revoked_and_deleted_apps_are_invalid_client(
    server: WebServer, admin: Api, make_app: Any
) -> None:
    revoked, deleted = make_app(), make_app()
    issue(server, revoked)
    issue(server, deleted)
    admin.ok("POST", f"/api/apps/{revoked['id']}/revoke")
    assert admin.ok("DELETE", f"/api/apps/{deleted['id']}") == {"ok": True}
    for app in (revoked, deleted):
        assert_error(token_request(server, auth=creds(app)), 401, "invalid_client")
        post = {"client_id": app["client_id"], "client_secret": app["client_secret"]}
        assert_error(token_request(server, post), 401, "invalid_client")

    admin.ok("POST", f"/api/apps/{revoked['id']}/reactivate")
    assert issue(server, revoked)["token_type"] == "Bearer"


# -- grant type and scope ---------------------------------------------------------------------


def test_grant_types_other_than_client_credentials(server: WebServer, make_app: Any) -> None:
    app = make_app()
    for grant in ("password", "authorization_code", "refresh_token", "urn:example:nope"):
        r = token_request(server, {"grant_type": grant}, auth=creds(app))
        assert_error(r, 400, "unsupported_grant_type")
    # RFC 6749 §5.2: a missing required parameter is invalid_request.
    r = transport.post(f"{server.url}/oauth/token", data={}, auth=creds(app), timeout=10)
    assert_error(r, 400, "invalid_request")


def test_scope_outside_the_app_is_invalid_scope(server: WebServer, make_app: Any) -> None:
    app = make_app(scopes=["people:read"])
    for scope in (
        "people:write",  # in the catalog, not the app's
        "people:read leads:read",  # one of them outside
        "nonexistent:scope",
        'people:read"',  # not even a well-formed scope token (RFC 6749 §3.3)
        "people:réad",
    ):
        body = assert_error(
            token_request(server, {"scope": scope}, auth=creds(app)), 400, "invalid_scope"
        )
        assert body.get("error_description"), body
    assert issue(server, app, scope="people:read")["scope"] == "people:read"


# -- team ---------------------------------------------------------------------------------------


def test_team_narrows_an_all_teams_app(
    server: WebServer, make_app: Any, make_team: Any, resource_server: dict[str, Any]
) -> None:
    team = make_team()
    app = make_app(team_id=None)
    token = issue(server, app, team=str(team["id"]))["access_token"]
    assert introspect(server, resource_server, token)["team_id"] == team["id"]
    unnarrowed = issue(server, app)["access_token"]
    assert introspect(server, resource_server, unnarrowed)["team_id"] is None


def test_team_bound_app_cannot_ask_for_another_team(
    server: WebServer, make_app: Any, make_team: Any, resource_server: dict[str, Any]
) -> None:
    mine, theirs = make_team(), make_team()
    app = make_app(team_id=mine["id"])
    token = issue(server, app)["access_token"]
    assert introspect(server, resource_server, token)["team_id"] == mine["id"]
    same = issue(server, app, team=str(mine["id"]))["access_token"]
    assert introspect(server, resource_server, same)["team_id"] == mine["id"]

    r = token_request(server, {"team": str(theirs["id"])}, auth=creds(app))
    assert_error(r, 400, "invalid_request")


def test_unknown_or_foreign_or_malformed_team_is_invalid_request(
    server: WebServer, make_app: Any, make_org: Any, make_team: Any
) -> None:
    _, other_admin = make_org()
    foreign = make_team(api=other_admin)
    app = make_app(team_id=None)
    for team in (
        "987654321",  # no such team
        str(foreign["id"]),  # another org's team
        "0",
        "abc",
        "-1",
        "1.5",
        " 1",
        "1e3",
        "\u00b2",
        "\u0661",  # Unicode digits are not team ids
        "99999999999999999999999",  # beyond any database integer
    ):
        r = token_request(server, {"team": team}, auth=creds(app))
        assert_error(r, 400, "invalid_request")


# -- resource (RFC 8707) ------------------------------------------------------------------------


def test_resource_sets_the_audience(
    server: WebServer, make_app: Any, resource_server: dict[str, Any]
) -> None:
    app = make_app()
    audience = resource_server["audience"]
    targeted = issue(server, app, resource=audience)["access_token"]
    assert introspect(server, resource_server, targeted)["aud"] == audience

    untargeted = issue(server, app)["access_token"]
    assert introspect(server, resource_server, untargeted)["aud"] == server.url

    for bad in ("https://unknown.example.com", audience + "/", "not a uri"):
        r = token_request(server, {"resource": bad}, auth=creds(app))
        assert_error(r, 400, "invalid_target")


# -- plan gating --------------------------------------------------------------------------------


def test_org_plan_off_is_unauthorized_client_upgrade_required(
    server: WebServer, admin: Api, make_org: Any, make_app: Any
) -> None:
    org, org_admin = make_org()
    app = make_app(api=org_admin)
    issue(server, app)
    admin.ok("PATCH", f"/api/orgs/{org['id']}", json={"api_access": False})
    for auth, data in (
        (creds(app), {}),
        (None, {"client_id": app["client_id"], "client_secret": app["client_secret"]}),
    ):
        body = assert_error(token_request(server, data, auth=auth), 400, "unauthorized_client")
        assert body["error_description"] == "Upgrade required"
    admin.ok("PATCH", f"/api/orgs/{org['id']}", json={"api_access": True})
    assert issue(server, app)["token_type"] == "Bearer"


# -- JWT access tokens (RFC 9068) ---------------------------------------------------------------


@pytest.mark.parametrize(("alg", "kty"), [("RS256", "RSA"), ("ES256", "EC")])
def test_jwt_access_token_verifies_against_the_jwks(
    server: WebServer, make_app: Any, resource_server: dict[str, Any], alg: str, kty: str
) -> None:
    app = make_app(
        token_format="jwt",
        jwt_signing_alg=alg,
        token_ttl_seconds=600,
        scopes=["people:read", "leads:read"],
    )
    assert app["jwt_signing_alg"] == alg
    before = int(time.time())
    body = issue(server, app, scope="people:read", resource=resource_server["audience"])
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600

    metadata = transport.get(
        f"{server.url}/.well-known/oauth-authorization-server", timeout=10
    ).json()
    jwks = transport.get(metadata["jwks_uri"], timeout=10).json()
    keys = KeySet.import_key_set(jwks)
    token = jwt.decode(body["access_token"], keys, algorithms=[alg])

    assert token.header["typ"] == "at+jwt"
    assert token.header["alg"] == alg
    published = {k["kid"]: k for k in jwks["keys"]}
    assert published[token.header["kid"]]["kty"] == kty
    assert published[token.header["kid"]]["alg"] == alg
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": server.url},
        aud={"essential": True, "value": resource_server["audience"]},
        sub={"essential": True, "value": app["client_id"]},
        client_id={"essential": True, "value": app["client_id"]},
        scope={"essential": True, "value": "people:read"},
        exp={"essential": True},
        iat={"essential": True},
        jti={"essential": True},
    ).validate(token.claims)
    claims = token.claims
    assert before - 5 <= claims["iat"] <= time.time() + 5
    assert claims["exp"] - claims["iat"] == 600

    answer = introspect(server, resource_server, body["access_token"])
    assert answer["active"] is True
    assert answer["jti"] == claims["jti"] and answer["exp"] == claims["exp"]

    # Without ``resource`` the audience is the issuer (DESIGN.md).
    default = jwt.decode(issue(server, app)["access_token"], keys, algorithms=[alg])
    assert default.claims["aud"] == server.url
    assert default.claims["scope"] == ALL_SCOPES


def test_switching_the_signing_algorithm_moves_new_tokens_only(
    server: WebServer, admin: Api, make_app: Any, resource_server: dict[str, Any]
) -> None:
    app = make_app(token_format="jwt")
    assert app["jwt_signing_alg"] == "RS256"  # RFC 9068's baseline is the default
    before = issue(server, app)["access_token"]
    admin.ok("PATCH", f"/api/apps/{app['id']}", json={"jwt_signing_alg": "ES256"})
    after = issue(server, app)["access_token"]

    def alg(token: str) -> str:
        return str(jwt.decode(token, KeySet.import_key_set(jwks(server))).header["alg"])

    assert (alg(before), alg(after)) == ("RS256", "ES256")
    for token in (before, after):
        assert introspect(server, resource_server, token)["active"] is True


def jwks(server: WebServer) -> dict[str, Any]:
    return transport.get(f"{server.url}/oauth/jwks", timeout=10).json()  # type: ignore[no-any-return]


# -- secret rotation ----------------------------------------------------------------------------


def test_secret_rotation_overlap_and_immediate_cutover(
    server: WebServer, admin: Api, make_app: Any
) -> None:
    app = make_app()
    first = app["client_secret"]
    rotated = admin.ok(
        "POST", f"/api/apps/{app['id']}/rotate-secret", json={"grace_period_seconds": 3600}
    )
    second = rotated["client_secret"]
    assert second != first and rotated["previous_secret_expires_at"] is not None
    for secret in (first, second):  # both work during the overlap, basic and post
        assert issue(server, {"client_id": app["client_id"], "client_secret": secret})
        form = {"client_id": app["client_id"], "client_secret": secret}
        assert token_request(server, form).status_code == 200

    third = admin.ok(
        "POST", f"/api/apps/{app['id']}/rotate-secret", json={"grace_period_seconds": 0}
    )
    assert third["previous_secret_expires_at"] is None
    for old in (first, second):
        assert_error(token_request(server, auth=(app["client_id"], old)), 401, "invalid_client")
    assert issue(server, {"client_id": app["client_id"], "client_secret": third["client_secret"]})


def test_reactivation_does_not_revive_a_rotated_out_secret(
    server: WebServer, admin: Api, make_app: Any
) -> None:
    """Revoking ends a rotation's overlap for good, as it does for API keys."""
    app = make_app()
    old = creds(app)
    rotated = admin.ok(
        "POST", f"/api/apps/{app['id']}/rotate-secret", json={"grace_period_seconds": 600}
    )
    assert issue(server, {"client_id": app["client_id"], "client_secret": old[1]})
    admin.ok("POST", f"/api/apps/{app['id']}/revoke")
    reactivated = admin.ok("POST", f"/api/apps/{app['id']}/reactivate")
    assert (reactivated["status"], reactivated["previous_secret_expires_at"]) == ("active", None)
    # Asked again and again: no match remembered before the revoke lets it back in.
    assert [token_request(server, auth=old).status_code for _ in range(4)] == [401] * 4
    assert issue(server, {"client_id": app["client_id"], "client_secret": rotated["client_secret"]})


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/introspect", "/oauth/revoke"])
@pytest.mark.parametrize(
    "raw",
    [
        "é:secret".encode("latin-1"),  # latin-1, not UTF-8
        b"\xff\xfe\xfa:\xc3(",  # invalid UTF-8
        b"lkci_\x00abc:secret",  # a NUL in the client ID
        b"\xc0\xaf" * 2000 + b":x",  # overlong encodings, and long
    ],
    ids=["latin-1", "invalid-utf-8", "nul", "overlong"],
)
def test_basic_credentials_that_are_not_utf8_are_a_failed_authentication(
    server: WebServer, path: str, raw: bytes
) -> None:
    """RFC 6749 §2.3.1: whatever the bytes of the Basic header, a bad credential is 401
    ``invalid_client`` (never a server error)."""
    r = transport.post(
        f"{server.url}{path}",
        data={"grant_type": "client_credentials", "token": "x" * 24},
        headers={"Authorization": "Basic " + base64.b64encode(raw).decode()},
        timeout=10,
    )
    assert_error(r, 401, "invalid_client")


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/introspect", "/oauth/revoke"])
@pytest.mark.parametrize("value", ["\xe9t\xe9", "\x80\xff=="], ids=["latin-1", "high-bytes"])
def test_basic_headers_that_are_not_base64_text_are_a_failed_authentication(
    server: WebServer, path: str, value: str
) -> None:
    """The header's own bytes, not base64 at all (sent as latin-1, as HTTP allows): Authlib's
    ``b64decode`` refused the text with a ValueError, a 500 (found by tests/fuzz)."""
    r = transport.post(
        f"{server.url}{path}",
        data={"grant_type": "client_credentials", "token": "x" * 24},
        headers={"Authorization": f"Basic {value}"},
        timeout=10,
    )
    assert_error(r, 401, "invalid_client")
