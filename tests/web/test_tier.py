"""The in-process tier itself: Flask's test client goes through the OAuth endpoints that sit
in front of Flask as WSGI middleware, and the CLI runner works on the same app's database,
so every test of this tier exercises what a server would."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient, FlaskCliRunner

from tests.web.server import WebServer


def test_the_test_client_goes_through_the_oauth_endpoints(
    client: FlaskClient, server: WebServer
) -> None:
    r = client.post("/oauth/token", data={"grant_type": "client_credentials"})
    assert r.status_code == 401, r.text
    assert r.json is not None and r.json["error"] == "invalid_client"
    assert r.headers["WWW-Authenticate"].startswith('Basic realm="')
    assert r.headers["Cache-Control"] == "no-store"
    r = client.get("/oauth/introspect")
    assert (r.status_code, r.headers["Allow"]) == (405, "POST")
    metadata = client.get("/.well-known/oauth-authorization-server").json
    assert metadata is not None and metadata["issuer"] == server.url


def test_the_cli_runner_works_on_the_apps_own_database(
    runner: FlaskCliRunner, make_org: Any
) -> None:
    org, _ = make_org()
    result = runner.invoke(args=["import-user-keys", "--org", str(org["id"] + 1000), "-"])
    assert result.exit_code != 0 and str(org["id"] + 1000) in result.stderr
    result = runner.invoke(args=["invalidate-caches"])
    assert result.exit_code == 0, result.output
    assert "read credential state from the database again" in result.stdout
