"""The core promise, end to end over HTTP: an app's credentials become a token that a
resource server can introspect and trust, through real OAuth client libraries; a revoked
app's tokens end in every worker; and bodies sent chunked are measured whole by the real
server. (Each endpoint's rules are tests/web.)"""

from __future__ import annotations

from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session as RequestsOAuthlibSession

from tests.api import Api
from tests.live.server import LiveServer
from tests.oauth_calls import introspect_response


def introspect(
    server: LiveServer, rs: dict[str, Any], token: str, **extra: str
) -> requests.Response:
    return introspect_response(server, rs, {"token": token, **extra})


def test_authlib_client_both_auth_methods_introspect_and_revoke(
    server: LiveServer, make_app: Any, resource_server: dict[str, Any], admin_org_id: int
) -> None:
    app = make_app(scopes=["people:read", "leads:read"])
    for method in ("client_secret_basic", "client_secret_post"):
        client = OAuth2Session(
            app["client_id"],
            app["client_secret"],
            token_endpoint_auth_method=method,
            scope="people:read",
        )
        token = client.fetch_token(f"{server.url}/oauth/token", grant_type="client_credentials")
        assert token["token_type"] == "Bearer"
        assert token["scope"] == "people:read"
        assert 0 < token["expires_in"] <= 900

        answer = introspect(server, resource_server, token["access_token"]).json()
        assert answer["active"] is True
        assert answer["client_id"] == app["client_id"]
        assert answer["scope"] == "people:read"
        assert answer["org_id"] == admin_org_id and answer["team_id"] is None
        assert answer["name"] == app["name"]

        client.revoke_token(f"{server.url}/oauth/revoke", token["access_token"])
        assert introspect(server, resource_server, token["access_token"]).json() == {
            "active": False
        }


def test_requests_oauthlib_backend_application_client(
    server: LiveServer, make_app: Any, resource_server: dict[str, Any], monkeypatch: Any
) -> None:
    # oauthlib refuses plain HTTP unless told; Latchkey serves HTTP behind a TLS proxy.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    app = make_app()
    session = RequestsOAuthlibSession(client=BackendApplicationClient(client_id=app["client_id"]))
    token = session.fetch_token(
        token_url=f"{server.url}/oauth/token",
        client_id=app["client_id"],
        client_secret=app["client_secret"],
    )
    assert token["scope"] == ["people:read", "leads:read"]
    answer = introspect(server, resource_server, token["access_token"]).json()
    assert answer["active"] is True
    assert answer["scope"] == "people:read leads:read"


def test_chunked_bodies_are_measured_whole(
    server: LiveServer, admin: Api, make_app: Any, make_key: Any, resource_server: dict[str, Any]
) -> None:
    """A body without Content-Length is never read as its first 64 KiB: over the limit it
    is 413 like any other, even when its start would authenticate; under it, it is read."""

    def chunked(*parts: bytes) -> Any:
        yield from parts

    key = make_key()
    rs_auth = (resource_server["client_id"], resource_server["client_secret"])
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    pad = [b"x" * 10_000] * 10
    r = requests.post(
        f"{server.url}/oauth/introspect",
        data=chunked(b"token=" + key["key"].encode() + b"&pad=", *pad),
        auth=rs_auth,
        headers=form,
        timeout=10,
    )
    assert r.status_code == 413, r.text
    assert r.json()["error"] == "invalid_request"
    r = admin.post(
        "/api/teams",
        data=chunked(b'{"name": "', *pad, b'"}'),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")

    r = requests.post(
        f"{server.url}/oauth/introspect",
        data=chunked(b"token=", key["key"].encode()),
        auth=rs_auth,
        headers=form,
        timeout=10,
    )
    assert r.status_code == 200 and r.json()["active"] is True, r.text
    app = make_app()
    r = requests.post(
        f"{server.url}/oauth/token",
        data=chunked(b"grant_type=client_", b"credentials"),
        auth=(app["client_id"], app["client_secret"]),
        headers=form,
        timeout=10,
    )
    assert r.status_code == 200, r.text


def test_revoking_the_app_ends_its_tokens_in_every_worker(
    server: LiveServer, admin: Api, make_app: Any, resource_server: dict[str, Any]
) -> None:
    app = make_app()
    token = requests.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(app["client_id"], app["client_secret"]),
        timeout=10,
    ).json()["access_token"]
    assert introspect(server, resource_server, token).json()["active"] is True
    admin.ok("POST", f"/api/apps/{app['id']}/revoke")
    # New connections each time, so the two workers both answer.
    for _ in range(10):
        assert introspect(server, resource_server, token).json() == {"active": False}
