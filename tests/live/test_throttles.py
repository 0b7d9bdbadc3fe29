"""The failure limits across a live server's workers: counted in the shared Redis, so that
every worker refuses what one of them counted. (The lock of one account is in
tests/web/test_api_access.py and tests/web/test_console_forms.py.)"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from tests.api import ADMIN_EMAIL, ADMIN_PASSWORD, Api
from tests.console import Console, text_of
from tests.live.server import REDIS_URL, LiveServer
from tests.oauth_calls import assert_error, creds, token_request


class _FromAddress(HTTPAdapter):
    """Connect from a given loopback address, so this test's per-IP count is its own even
    in a Redis shared with earlier runs."""

    def __init__(self, address: str) -> None:
        self._address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self._address, 0)
        super().init_poolmanager(*args, **kwargs)


def _client_from(address: str) -> requests.Session:
    http = requests.Session()
    http.mount("http://", _FromAddress(address))
    return http


def _address() -> str:
    rng = random.SystemRandom()
    return f"127.{rng.randrange(1, 255)}.{rng.randrange(1, 255)}.{rng.randrange(2, 255)}"


def test_failed_client_authentications_are_throttled(server_factory: Any) -> None:
    """Failures count per source address and per (client ID, address); past the limit a
    failure is 429, while a correct secret still authenticates (DESIGN.md, "Limits")."""
    # Shared counts across the two workers need the shared store (DESIGN.md: REDIS_URL).
    live = server_factory(LATCHKEY_CLIENT_AUTH_LIMIT="3 per minute", REDIS_URL=REDIS_URL)
    admin = Api.login(live.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    app = admin.ok("POST", "/api/apps", 201, json={"name": "Throttled", "scopes": ["people:read"]})
    other = admin.ok(
        "POST", "/api/apps", 201, json={"name": "Bystander", "scopes": ["people:read"]}
    )
    here, elsewhere = _client_from(_address()), _client_from(_address())

    assert token_request(live, auth=creds(app), http=here).status_code == 200
    for _ in range(3):
        r = token_request(live, auth=(app["client_id"], "wrong"), http=here)
        assert_error(r, 401, "invalid_client")

    blocked = token_request(live, auth=(app["client_id"], "wrong"), http=here)
    assert blocked.status_code == 429, blocked.text
    assert 1 <= int(blocked.headers["Retry-After"]) <= 60
    assert blocked.headers["Cache-Control"] == "no-store"
    assert blocked.headers["Content-Type"].startswith("application/json")
    assert isinstance(blocked.json()["error"], str)

    # The right secret is never refused, from the same address or elsewhere ...
    assert token_request(live, auth=creds(app), http=here).status_code == 200
    assert token_request(live, auth=creds(other), http=here).status_code == 200
    # ... per address: another client's failure from there is refused too ...
    assert token_request(live, auth=(other["client_id"], "wrong"), http=here).status_code == 429
    # ... and the same client's failure from another address is only a failure.
    r = token_request(live, auth=(app["client_id"], "wrong"), http=elsewhere)
    assert_error(r, 401, "invalid_client")


def test_a_stranger_cannot_lock_a_resource_server_out(server_factory: Any) -> None:
    """Knowing a resource server's client ID (not a secret) and sending wrong secrets for it
    from another address leaves its own introspection working."""
    live = server_factory(LATCHKEY_CLIENT_AUTH_LIMIT="20 per minute", REDIS_URL=REDIS_URL)
    admin = Api.login(live.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    rs = admin.ok(
        "POST",
        "/api/resource-servers",
        201,
        json={"name": "People API", "audience": f"https://{uuid.uuid4().hex[:8]}.example.com"},
    )
    key = admin.ok("POST", "/api/keys", 201, json={"name": "Script", "scopes": ["people:read"]})
    stranger, resource_server = _client_from(_address()), _client_from(_address())

    attempts = [
        stranger.post(
            f"{live.url}/oauth/introspect",
            data={"token": key["key"]},
            auth=(rs["client_id"], f"wrong-{i}"),
            timeout=10,
        ).status_code
        for i in range(25)
    ]
    assert attempts[:20] == [401] * 20 and set(attempts[20:]) == {429}

    r = resource_server.post(
        f"{live.url}/oauth/introspect",
        data={"token": key["key"]},
        auth=(rs["client_id"], rs["client_secret"]),
        timeout=10,
    )
    assert r.status_code == 200 and r.json()["active"] is True
    # Even from the stranger's locked address, the correct secret authenticates.
    r = stranger.post(
        f"{live.url}/oauth/introspect",
        data={"token": key["key"]},
        auth=(rs["client_id"], rs["client_secret"]),
        timeout=10,
    )
    assert r.status_code == 200 and r.json()["active"] is True


def test_failed_sign_ins_from_one_address_lock_it_for_every_account(
    server_factory: Callable[..., LiveServer],
) -> None:
    # Redis even on SQLite: both workers must see the same count for the test to be exact.
    live = server_factory(LATCHKEY_LOGIN_IP_LIMIT="4 per 15 minutes", REDIS_URL=REDIS_URL)
    console = Console(live.url)

    def api_sign_in(email: str, password: str) -> requests.Response:
        return requests.post(
            f"{live.url}/api/sessions", json={"email": email, "password": password}, timeout=10
        )

    # Four guesses, each at another account, through either door: no account lock trips.
    for door in ("api", "console", "api", "console"):
        email = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
        if door == "api":
            assert api_sign_in(email, "guess").status_code == 401
        else:
            assert console.login(email, "guess").status_code == 422
    # Now even the right password of an account never guessed at is refused from here.
    locked = api_sign_in(ADMIN_EMAIL, ADMIN_PASSWORD)
    assert locked.status_code == 429
    assert locked.headers["Content-Type"] == "application/problem+json"
    assert 0 < int(locked.headers["Retry-After"]) <= 900
    assert "token" not in locked.json()
    r = console.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    assert r.status_code == 429
    assert 0 < int(r.headers["Retry-After"]) <= 900
    assert "Too many failed sign-ins from your network address" in text_of(r.text, "main")
    assert console.get("/settings/api-access").headers["Location"].startswith("/login")
