"""Usage counts, written in batches by each worker of a live server: they rise with every
successful introspection and management call of a key (and not with refused ones), survive a
graceful restart, and keep the client's address (the proxy's forwarded one only behind a
declared proxy)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.api import ADMIN_EMAIL, ADMIN_PASSWORD, Api
from tests.credentials import legacy_token, with_wrong_secret
from tests.fixtures import import_rows, unique
from tests.live.server import LiveServer
from tests.oauth_calls import inactive_everywhere, introspect

INACTIVE = {"active": False}
USAGE_WAIT_SECONDS = 5.0


def now_ms() -> int:
    return int(time.time() * 1000)


def poll_key(api: Api, key_id: int, until: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The key as the API shows it once ``until`` holds (or after the wait, to assert on)."""
    deadline = time.monotonic() + USAGE_WAIT_SECONDS
    while True:
        item: dict[str, Any] = api.ok("GET", f"/api/keys/{key_id}")
        if until(item) or time.monotonic() > deadline:
            return item
        time.sleep(0.1)


def test_successful_introspections_count_and_inactive_ones_do_not(
    server: LiveServer, make_org: Any, make_key: Any, resource_server: dict[str, Any]
) -> None:
    _, api = make_org()
    key = make_key(api)
    assert key["usage_count"] == 0 and key["last_used_at"] is None
    since = now_ms()

    # Refused attempts on the same key, then successful ones: when the successful ones have
    # been written, any counted refusal of the same worker has been written with them.
    for _ in range(5):
        assert introspect(server, resource_server, with_wrong_secret(key["key"])) == INACTIVE
    n = 10
    for _ in range(n):
        assert introspect(server, resource_server, key["key"])["active"] is True
    item = poll_key(api, key["id"], lambda k: k["usage_count"] >= n)
    assert item["usage_count"] == n
    assert item["last_used_ip"] == "127.0.0.1"
    assert since - 1_000 <= item["last_used_at"] <= now_ms() + 1_000

    api.ok("POST", f"/api/keys/{key['id']}/revoke")
    inactive_everywhere(server, resource_server, key["key"])
    api.ok("POST", f"/api/keys/{key['id']}/reactivate")
    for _ in range(n):
        assert introspect(server, resource_server, key["key"])["active"] is True
    item = poll_key(api, key["id"], lambda k: k["usage_count"] >= 2 * n)
    assert item["usage_count"] == 2 * n


def test_usage_counts_survive_a_graceful_restart(
    server_factory: Callable[..., LiveServer], tmp_path: Path
) -> None:
    """With batches that never come in time, only the shutdown's flush can write the uses."""
    live = server_factory(LATCHKEY_USAGE_FLUSH_SECONDS="3600")
    api = Api.login(live.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    org_id = int(api.ok("GET", "/api/users")[0]["org_id"])
    rs = api.ok(
        "POST",
        "/api/resource-servers",
        201,
        json={"name": unique("API"), "audience": f"https://{unique('api')}.example.com"},
    )
    key = api.ok("POST", "/api/keys", 201, json={"name": "Sync", "scopes": ["people:read"]})
    token = legacy_token()
    email = f"{unique('legacy')}@example.com"
    result = import_rows(
        live,
        tmp_path,
        org_id,
        [
            {
                "email": email,
                "name": "Legacy sync",
                "token": token,
                "created_at": "2020-01-02T03:04:05",
                "scopes": "people:read",
            }
        ],
    )
    assert result.returncode == 0, result.stderr
    [user_key] = api.ok("GET", "/api/user-keys")
    assert user_key["owner"]["email"] == email

    for _ in range(7):
        assert introspect(live, rs, key["key"])["token_type"] == "api_key"
    for _ in range(3):
        answer = introspect(live, rs, token)
        assert answer["active"] is True and answer["token_type"] == "user_key"
        assert answer["sub"] == str(user_key["owner"]["id"])
    assert api.ok("GET", f"/api/keys/{key['id']}")["usage_count"] == 0  # not flushed yet

    live.restart()

    api = Api.login(live.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    item = api.ok("GET", f"/api/keys/{key['id']}")
    assert item["usage_count"] == 7
    assert item["last_used_ip"] == "127.0.0.1" and item["last_used_at"] is not None
    [user_key] = api.ok("GET", "/api/user-keys")
    assert user_key["usage_count"] == 3
    assert user_key["last_used_ip"] == "127.0.0.1" and user_key["last_used_at"] is not None


@pytest.mark.parametrize("hops", ["0", "1"])
def test_last_used_address_trusts_forwarded_for_only_behind_a_declared_proxy(
    server_factory: Callable[..., LiveServer], hops: str
) -> None:
    live = server_factory(LATCHKEY_PROXY_HOPS=hops)
    admin = Api.login(live.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    key = admin.ok("POST", "/api/keys", 201, json={"name": "Proxied", "scopes": ["keys:write"]})
    caller = Api.with_key(live.url, key["key"], style="x-api-key")
    caller.ok("GET", "/api/keys", headers={"X-Forwarded-For": "203.0.113.7"})
    seen = poll_key(admin, key["id"], lambda k: k["usage_count"] >= 1)
    assert seen["last_used_ip"] == ("203.0.113.7" if hops == "1" else "127.0.0.1")


@pytest.mark.parametrize("style", ["bearer", "bare", "x-api-key"])
def test_management_calls_count_as_uses_of_the_key(
    server: LiveServer, make_org: Any, make_key: Any, style: str
) -> None:
    _, admin = make_org()
    key = make_key(admin, scopes=["keys:write", "people:read"])
    caller = Api.with_key(server.url, key["key"], style)
    for _ in range(3):
        caller.ok("GET", "/api/keys")
    deadline = time.monotonic() + 5
    item = admin.ok("GET", f"/api/keys/{key['id']}")
    while item["usage_count"] < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
        item = admin.ok("GET", f"/api/keys/{key['id']}")
    assert item["usage_count"] >= 1
    assert item["usage_count"] == 3
    assert item["last_used_ip"] == "127.0.0.1" and item["last_used_at"] is not None
