"""The OAuth endpoints as HTTP: POST only, parameters in the body only, bodies in every shape
the form parser reads, size limits in each interface's shape, and the headers every answer
carries. (Real client libraries end to end, and chunked bodies through a real server, are
tests/live/test_oauth_flow.py.)"""

from __future__ import annotations

from typing import Any

import requests

from tests import transport
from tests.api import Api
from tests.oauth_calls import introspect_response
from tests.web.server import WebServer


def introspect(
    server: WebServer, rs: dict[str, Any], token: str, **extra: str
) -> requests.Response:
    return introspect_response(server, rs, {"token": token, **extra})


def test_oversized_bodies_are_refused_with_413_in_each_interfaces_shape(
    server: WebServer, admin: Api
) -> None:
    big = "x" * (100 * 1024)
    r = transport.post(f"{server.url}/oauth/token", data={"grant_type": big}, timeout=10)
    assert r.status_code == 413
    assert r.json()["error"] == "invalid_request"
    r = admin.post("/api/teams", json={"name": big})
    assert r.status_code == 413
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert r.json()["status"] == 413


def test_oauth_post_endpoints_answer_only_post_in_rfc_6749_shape(server: WebServer) -> None:
    for path in ("/oauth/token", "/oauth/introspect", "/oauth/revoke"):
        r = transport.get(f"{server.url}{path}", timeout=10)
        assert r.status_code == 405
        assert r.headers["Allow"] == "POST"
        assert r.headers["Cache-Control"] == "no-store"
        assert r.json()["error"] == "invalid_request"


def test_token_responses_carry_no_store_and_the_security_headers(
    server: WebServer, make_app: Any, resource_server: dict[str, Any]
) -> None:
    app = make_app(scopes=["people:read"])
    token = transport.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(app["client_id"], app["client_secret"]),
        timeout=10,
    )
    failed = transport.post(
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


def test_a_plain_http_host_that_is_not_loopback_is_served(server: WebServer, make_app: Any) -> None:
    """Behind the operator's TLS proxy the Host is the proxy's name over plain HTTP; that is
    the proxy's transport to secure, not a reason to refuse the request."""
    app = make_app(scopes=["people:read"])
    r = transport.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(app["client_id"], app["client_secret"]),
        headers={"Host": "latchkey.internal:8080"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "Bearer"


def test_parameters_in_the_query_string_are_refused(server: WebServer, make_app: Any) -> None:
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
        r = transport.post(
            server.url + url,
            data=data,
            auth=(app["client_id"], app["client_secret"]),
            timeout=10,
        )
        assert r.status_code == 400, (url, r.text)
        assert r.json()["error"] == "invalid_request"
        assert "body" in r.json()["error_description"]


def test_form_bodies_in_every_shape_the_parser_took_are_read_as_before(
    server: WebServer, make_app: Any
) -> None:
    """The common urlencoded body is read on a short path; the rest still reaches Werkzeug's
    form parser: a multipart body, and a urlencoded one with a charset parameter. A body that
    is not UTF-8 is an empty form (the client's 400), never a server error."""
    app = make_app(scopes=["people:read", "leads:read"])
    auth = (app["client_id"], app["client_secret"])
    url = f"{server.url}/oauth/token"

    def urlencoded(body: bytes, content_type: str) -> requests.Response:
        headers = {"Content-Type": content_type}
        return transport.post(url, data=body, headers=headers, auth=auth, timeout=10)

    fields = {"grant_type": (None, "client_credentials"), "scope": (None, "leads:read")}
    multipart = transport.post(url, files=fields, auth=auth, timeout=10)
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
