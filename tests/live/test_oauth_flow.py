"""The core promise, end to end: an app's credentials become a token that a resource server
can introspect and trust, through real OAuth client libraries."""

from __future__ import annotations

from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session as RequestsOAuthlibSession

from tests.live.server import Api, LiveServer


def introspect(
    server: LiveServer, rs: dict[str, Any], token: str, **extra: str
) -> requests.Response:
    return requests.post(
        f"{server.url}/oauth/introspect",
        data={"token": token, **extra},
        auth=(rs["client_id"], rs["client_secret"]),
        timeout=10,
    )


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


def test_oversized_bodies_are_refused_with_413_in_each_interfaces_shape(
    server: LiveServer, admin: Api
) -> None:
    big = "x" * (100 * 1024)
    r = requests.post(f"{server.url}/oauth/token", data={"grant_type": big}, timeout=10)
    assert r.status_code == 413
    assert r.json()["error"] == "invalid_request"
    r = admin.post("/api/teams", json={"name": big})
    assert r.status_code == 413
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert r.json()["status"] == 413


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


def test_oauth_post_endpoints_answer_only_post_in_rfc_6749_shape(server: LiveServer) -> None:
    for path in ("/oauth/token", "/oauth/introspect", "/oauth/revoke"):
        r = requests.get(f"{server.url}{path}", timeout=10)
        assert r.status_code == 405
        assert r.headers["Allow"] == "POST"
        assert r.headers["Cache-Control"] == "no-store"
        assert r.json()["error"] == "invalid_request"


def test_token_responses_carry_no_store_and_the_security_headers(
    server: LiveServer, make_app: Any, resource_server: dict[str, Any]
) -> None:
    app = make_app(scopes=["people:read"])
    token = requests.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(app["client_id"], app["client_secret"]),
        timeout=10,
    )
    failed = requests.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(app["client_id"], "not-the-secret"),
        timeout=10,
    )
    answer = introspect(server, resource_server, token.json()["access_token"])
    for r in (token, failed, answer):
        assert r.headers["Content-Type"] == "application/json"
        assert r.headers["Cache-Control"] == "no-store"
        assert r.headers["Pragma"] == "no-cache"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert failed.status_code == 401
    assert failed.headers["WWW-Authenticate"].startswith("Basic")


def test_a_plain_http_host_that_is_not_loopback_is_served(
    server: LiveServer, make_app: Any
) -> None:
    """Behind the operator's TLS proxy the Host is the proxy's name over plain HTTP; that is
    the proxy's transport to secure, not a reason to refuse the request."""
    app = make_app(scopes=["people:read"])
    r = requests.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(app["client_id"], app["client_secret"]),
        headers={"Host": "latchkey.internal:8080"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "Bearer"


def test_parameters_in_the_query_string_are_refused(server: LiveServer, make_app: Any) -> None:
    """RFC 6749 §2.3.1 and §4.4.2: parameters travel in the body. A client that puts ``scope``
    (or its secret) in the URL learns so at once: it never silently gets every scope of its
    app, nor a scope the URL overrode."""
    app = make_app(scopes=["people:read", "leads:read"])
    for url, data in (
        ("/oauth/token?scope=leads:read", {"grant_type": "client_credentials"}),
        ("/oauth/token?grant_type=client_credentials", {}),
        ("/oauth/introspect?token=x", {"token": "y"}),
        ("/oauth/revoke?token_type_hint=access_token", {"token": "y"}),
    ):
        r = requests.post(
            server.url + url,
            data=data,
            auth=(app["client_id"], app["client_secret"]),
            timeout=10,
        )
        assert r.status_code == 400, (url, r.text)
        assert r.json()["error"] == "invalid_request"
        assert "body" in r.json()["error_description"]


def test_form_bodies_in_every_shape_the_parser_took_are_read_as_before(
    server: LiveServer, make_app: Any
) -> None:
    """The common urlencoded body is read on a short path; the rest still reaches Werkzeug's
    form parser: a multipart body, and a urlencoded one with a charset parameter. A body that
    is not UTF-8 is an empty form (the client's 400), never a server error."""
    app = make_app(scopes=["people:read", "leads:read"])
    auth = (app["client_id"], app["client_secret"])
    url = f"{server.url}/oauth/token"

    def urlencoded(body: bytes, content_type: str) -> requests.Response:
        headers = {"Content-Type": content_type}
        return requests.post(url, data=body, headers=headers, auth=auth, timeout=10)

    fields = {"grant_type": (None, "client_credentials"), "scope": (None, "leads:read")}
    multipart = requests.post(url, files=fields, auth=auth, timeout=10)
    assert multipart.status_code == 200, multipart.text
    assert multipart.json()["scope"] == "leads:read"
    charset = urlencoded(
        b"grant_type=client_credentials&scope=people%3Aread",
        "application/x-www-form-urlencoded; charset=UTF-8",
    )
    assert charset.status_code == 200, charset.text
    assert charset.json()["scope"] == "people:read"
    garbled = urlencoded(
        b"grant_type=client_credentials&scope=\xff\xfe", "application/x-www-form-urlencoded"
    )
    assert garbled.status_code == 400, garbled.text
    assert garbled.json()["error"] == "invalid_request"  # no grant_type read
