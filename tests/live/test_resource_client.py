"""The resource-server client (``oauth_server.resource``) against a live Latchkey: the
example people API (examples/people_api.py) is the operator's app, run in process with
Flask's test client; every credential is checked by the real server's introspection."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from werkzeug.test import Client

from examples.people_api import create_app
from keys.format import generate
from oauth_server.resource import ENVIRON_KEY, LatchkeyClient, LatchkeyMiddleware
from tests.api import ADMIN_EMAIL, ADMIN_PASSWORD, Api
from tests.credentials import tampered
from tests.live.server import LiveServer
from tests.oauth_calls import issue, revoke

PeopleApi = Callable[..., FlaskClient]


@pytest.fixture
def clients() -> Iterator[list[LatchkeyClient]]:
    made: list[LatchkeyClient] = []
    yield made
    for client in made:
        client.close()


def latchkey_client(
    server: LiveServer, rs: dict[str, Any], made: list[LatchkeyClient], **options: Any
) -> LatchkeyClient:
    client = LatchkeyClient(
        server.url, rs["client_id"], rs["client_secret"], audience=rs["audience"], **options
    )
    made.append(client)
    return client


@pytest.fixture
def people_api(
    server: LiveServer, resource_server: dict[str, Any], clients: list[LatchkeyClient]
) -> PeopleApi:
    """The example API, checking credentials as ``resource_server``; options go to its
    LatchkeyClient (``ttl=0`` unless given, so revocations show at once)."""

    def make(**options: Any) -> FlaskClient:
        options.setdefault("ttl", 0)
        client = latchkey_client(server, resource_server, clients, **options)
        return create_app(client).test_client()

    return make


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def challenge(response: Any) -> str:
    return str(response.headers["WWW-Authenticate"])


def assert_no_secret(response: Any, secret: str) -> None:
    shown = json.dumps(dict(response.headers)) + response.get_data(as_text=True)
    assert secret not in shown


def test_an_active_key_is_let_through_in_each_header_style(
    people_api: PeopleApi, make_key: Any, make_team: Any
) -> None:
    api = people_api()
    team = make_team()["id"]
    key = make_key(scopes=["people:read", "people:write"], team_id=team)
    for headers in (bearer(key["key"]), {"Authorization": key["key"]}, {"X-API-Key": key["key"]}):
        r = api.get(f"/teams/{team}/people", headers=headers)
        assert r.status_code == 200, r.text
        assert r.json == {"team_id": team, "people": []}

    r = api.post("/people", json={"name": "Ada", "team_id": team}, headers=bearer(key["key"]))
    assert r.status_code == 201, r.text
    # The view sees the credential by its display prefix, never its secret.
    assert r.json == {"name": "Ada", "added_by": key["prefix"]}
    people = api.get(f"/teams/{team}/people", headers=bearer(key["key"])).json
    assert people is not None and people["people"] == [r.json]


def test_a_revoked_key_is_refused_within_ttl_and_at_once_without_cache(
    people_api: PeopleApi, admin: Api, make_key: Any
) -> None:
    key = make_key(scopes=["people:read"], team_id=None)
    cached, uncached = people_api(ttl=1.0), people_api(ttl=0)
    for api in (cached, uncached):
        assert api.get("/teams/1/people", headers=bearer(key["key"])).status_code == 200
    remembered_at = time.monotonic()
    admin.ok("POST", f"/api/keys/{key['id']}/revoke")

    r = uncached.get("/teams/1/people", headers=bearer(key["key"]))
    assert r.status_code == 401, r.text
    assert challenge(r) == (
        f'Bearer error="invalid_token", error_description="{key["prefix"]} is not active: '
        "unknown, revoked, expired or deleted, or its organization's API access is off.\""
    )
    assert r.json is not None and r.json["error"] == "invalid_token"
    assert_no_secret(r, key["key"])

    time.sleep(max(0.0, remembered_at + 1.0 - time.monotonic()))
    r = cached.get("/teams/1/people", headers=bearer(key["key"]))
    assert r.status_code == 401, "still let through after the ttl"


def test_a_key_for_another_team_is_refused(
    people_api: PeopleApi, make_key: Any, make_team: Any
) -> None:
    api = people_api()
    team_a, team_b = make_team()["id"], make_team()["id"]
    bound = make_key(scopes=["people:read", "people:write"], team_id=team_a)
    every_team = make_key(scopes=["people:read"], team_id=None)

    assert api.get(f"/teams/{team_a}/people", headers=bearer(bound["key"])).status_code == 200
    r = api.get(f"/teams/{team_b}/people", headers=bearer(bound["key"]))
    assert r.status_code == 403, r.text
    assert challenge(r) == (
        'Bearer error="insufficient_scope", error_description='
        f'"{bound["prefix"]} is bound to team {team_a}, not to team {team_b}."'
    )
    for team in (team_a, team_b):
        r = api.get(f"/teams/{team}/people", headers=bearer(every_team["key"]))
        assert r.status_code == 200, r.text

    # The team named in a body (team_from as a function of the request) is checked alike.
    body = {"name": "Grace", "team_id": team_b}
    r = api.post("/people", json=body, headers=bearer(bound["key"]))
    assert r.status_code == 403 and r.json is not None
    assert r.json["error"] == "insufficient_scope"
    body["team_id"] = team_a
    assert api.post("/people", json=body, headers=bearer(bound["key"])).status_code == 201


def test_a_missing_scope_is_403_insufficient_scope(people_api: PeopleApi, make_key: Any) -> None:
    api = people_api()
    key = make_key(scopes=["people:read", "leads:read"], team_id=None)
    r = api.post("/people", json={"name": "Ada", "team_id": 1}, headers=bearer(key["key"]))
    assert r.status_code == 403, r.text
    assert challenge(r) == (
        'Bearer error="insufficient_scope", error_description="'
        f'{key["prefix"]} lacks the scope people:write (it holds: leads:read people:read).", '
        'scope="people:write"'
    )
    assert r.json == {
        "error": "insufficient_scope",
        "error_description": f"{key['prefix']} lacks the scope people:write "
        "(it holds: leads:read people:read).",
        "scope": "people:write",
    }
    assert_no_secret(r, key["key"])


def test_no_credential_or_one_nobody_knows_is_401(people_api: PeopleApi, make_key: Any) -> None:
    api = people_api()
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "}):
        r = api.get("/teams/1/people", headers=headers)
        assert r.status_code == 401, headers
        assert challenge(r) == "Bearer", "no error code without authentication information"

    unknown = generate("lk")  # well-formed, with a valid checksum: never issued
    r = api.get("/teams/1/people", headers=bearer(unknown.plaintext))
    assert r.status_code == 401
    assert f'error_description="{unknown.display_prefix} is not active' in challenge(r)
    assert_no_secret(r, unknown.plaintext)

    r = api.get("/teams/1/people", headers=bearer("a-legacy-token-nobody-issued-123"))
    assert r.status_code == 401
    assert 'error_description="The credential is not active' in challenge(r)
    assert_no_secret(r, "nobody-issued")

    key = make_key(scopes=["people:read"], team_id=None)
    r = api.get("/teams/1/people", headers={**bearer(key["key"]), "X-API-Key": unknown.plaintext})
    assert r.status_code == 400
    assert challenge(r).startswith('Bearer error="invalid_request"')


def test_an_oauth_access_token_is_checked_by_introspection(
    people_api: PeopleApi, server: LiveServer, admin: Api, make_app: Any, make_team: Any
) -> None:
    api = people_api()
    team = make_team()["id"]
    app = make_app(scopes=["people:read"], team_id=team)
    token = issue(server, app)
    r = api.get(f"/teams/{team}/people", headers=bearer(token))
    assert r.status_code == 200, r.text
    r = api.post("/people", json={"name": "Ada", "team_id": team}, headers=bearer(token))
    assert r.status_code == 403
    # An app's token is named by its secret's display prefix (introspection's key_prefix).
    secret_prefix = app["client_secret"].rsplit("_", 1)[0]
    assert f'error_description="{secret_prefix} lacks the scope people:write' in challenge(r)
    assert_no_secret(r, app["client_secret"])

    # A token for another resource server is not active here.
    other = admin.ok(
        "POST",
        "/api/resource-servers",
        201,
        json={"name": "Other API", "audience": "https://other.example.com"},
    )
    elsewhere = issue(server, app, resource=other["audience"])
    assert api.get(f"/teams/{team}/people", headers=bearer(elsewhere)).status_code == 401

    revoke(server, app, token)
    assert api.get(f"/teams/{team}/people", headers=bearer(token)).status_code == 401


def test_refused_resource_server_credentials_fail_closed_with_503(
    server: LiveServer,
    resource_server: dict[str, Any],
    clients: list[LatchkeyClient],
    make_key: Any,
) -> None:
    key = make_key(scopes=["people:read"], team_id=None)
    wrong = {**resource_server, "client_secret": resource_server["client_secret"][:-2] + "xx"}
    api = create_app(latchkey_client(server, wrong, clients, ttl=0)).test_client()
    r = api.get("/teams/1/people", headers=bearer(key["key"]))
    assert r.status_code == 503, r.text
    assert r.headers["Retry-After"] == "5"
    assert "WWW-Authenticate" not in r.headers
    assert r.json is not None and r.json["error"] == "temporarily_unavailable"


def test_the_wsgi_middleware_guards_a_whole_app(
    server: LiveServer,
    resource_server: dict[str, Any],
    clients: list[LatchkeyClient],
    make_key: Any,
) -> None:
    seen: list[Any] = []

    def app(environ: Any, start_response: Any) -> list[bytes]:
        seen.append(environ.get(ENVIRON_KEY))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    guarded = LatchkeyMiddleware(
        app,
        latchkey_client(server, resource_server, clients, ttl=0),
        scopes=("leads:read",),
        exempt=lambda environ: environ["PATH_INFO"] == "/healthz",
    )
    http = Client(guarded)
    reader = make_key(scopes=["leads:read"], team_id=None)
    r = http.get("/leads", headers={"X-API-Key": reader["key"]})
    assert r.status_code == 200 and r.get_data() == b"ok"
    assert seen[-1].key_prefix == reader["prefix"] and seen[-1].token_type == "api_key"

    other = make_key(scopes=["people:read"], team_id=None)
    r = http.get("/leads", headers={"X-API-Key": other["key"]})
    assert r.status_code == 403
    assert 'scope="leads:read"' in r.headers["WWW-Authenticate"]
    assert http.get("/leads").status_code == 401
    assert http.get("/healthz").status_code == 200
    assert len(seen) == 2, "the app ran only for the allowed and the exempt request"


# -- JWT access tokens verified locally --------------------------------------------------------


def kid_of(token: str) -> str:
    header = token.split(".", 1)[0]
    return str(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"])


def test_jwt_tokens_are_verified_locally_and_new_keys_are_fetched_on_an_unknown_kid(
    server_factory: Callable[..., LiveServer], clients: list[LatchkeyClient]
) -> None:
    # A server of its own: its token keys rotate.
    live = server_factory()
    admin = Api.login(live.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    rs = admin.ok(
        "POST", "/api/resource-servers", 201, json={"name": "API", "audience": "https://api.test"}
    )
    app = admin.ok(
        "POST",
        "/api/apps",
        201,
        json={"name": "J", "scopes": ["people:read"], "team_id": None, "token_format": "jwt"},
    )
    other = admin.ok(
        "POST", "/api/resource-servers", 201, json={"name": "B", "audience": "https://b.test"}
    )

    def people_api(**options: Any) -> FlaskClient:
        return create_app(latchkey_client(live, rs, clients, ttl=0, **options)).test_client()

    introspecting = people_api()
    local = people_api(verify_jwt=True, jwks_refresh_interval=0)
    rate_limited = people_api(verify_jwt=True, jwks_refresh_interval=3600)

    def status(api: FlaskClient, token: str) -> int:
        return api.get("/teams/1/people", headers=bearer(token)).status_code

    before = issue(live, app)
    for api in (introspecting, local, rate_limited):
        assert status(api, before) == 200
    # Local verification sees no revocation before the token's exp (as documented).
    revoke(live, app, before)
    assert (status(introspecting, before), status(local, before)) == (401, 200)
    assert status(rate_limited, before) == 200

    assert status(local, issue(live, app, resource=rs["audience"])) == 200
    assert status(local, issue(live, app, resource=other["audience"])) == 401
    assert status(local, tampered(issue(live, app))) == 401

    old_kids = {kid_of(before)}
    done = live.flask("rotate-token-keys")
    assert done.returncode == 0, done.stderr
    # New tokens move to the new key once the answering worker re-reads its keys (at once
    # when it serves the JWKS, else within 30 s).
    deadline = time.monotonic() + 40
    after = issue(live, app)
    while kid_of(after) in old_kids:
        assert time.monotonic() < deadline, "new tokens still use the retired key"
        requests.get(f"{live.url}/oauth/jwks", headers={"Connection": "close"}, timeout=10)
        after = issue(live, app)
    revoke(live, app, after)
    # An unknown kid: `local` fetches the JWKS again and verifies the token itself (so the
    # revocation is not seen); `rate_limited` fetched it too recently and asks introspection.
    assert status(local, after) == 200
    assert status(rate_limited, after) == 401
    assert status(introspecting, after) == 401
