"""Introspection of API keys and legacy user keys against a live server: the exact active
answer, everything not live as exactly ``{"active": false}`` in every worker, and usage
counts that rise with every successful introspection and survive a graceful restart."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from keys import format as fmt
from tests.live.conftest import unique
from tests.live.oauth_calls import introspect
from tests.live.server import ADMIN_EMAIL, ADMIN_PASSWORD, Api, LiveServer

INACTIVE = {"active": False}
#: Enough fresh connections that both gunicorn workers answer.
ACROSS_WORKERS = 10
USAGE_WAIT_SECONDS = 5.0


def now_ms() -> int:
    return int(time.time() * 1000)


def legacy_token() -> str:
    """A token of the old system: no format of ours."""
    return f"pat-{secrets.token_hex(20)}"


def changed(key: str, index: int) -> str:
    """``key`` with the base62 character at ``index`` replaced by another one."""
    return key[:index] + ("A" if key[index] != "A" else "B") + key[index + 1 :]


def with_wrong_secret(key: str) -> str:
    """The same public id, another secret, and a checksum that fits: only the stored hash
    can tell it apart."""
    body = changed(key[: -fmt.CHECKSUM_LENGTH], len(key) - fmt.CHECKSUM_LENGTH - 10)
    return body + fmt.checksum(body)


def key_answer(server: LiveServer, key: dict[str, Any], org_id: int) -> dict[str, Any]:
    """The active introspection answer DESIGN.md gives for the API key ``key``."""
    answer = {
        "active": True,
        "scope": " ".join(key["scopes"]),
        "token_type": "api_key",
        "iat": key["created_at"] // 1000,
        "sub": str(key["id"]),
        "aud": server.url,
        "iss": server.url,
        "jti": key["prefix"],
        "org_id": org_id,
        "team_id": key["team_id"],
        "key_prefix": key["prefix"],
        "name": key["name"],
    }
    if key["expires_at"] is not None:
        answer["exp"] = key["expires_at"] // 1000
    return answer


def same_answer(got: dict[str, Any], expected: dict[str, Any]) -> bool:
    """Equal, except that the order of the space-separated scopes is free."""

    def normal(a: dict[str, Any]) -> dict[str, Any]:
        return {**a, "scope": sorted(a["scope"].split())} if "scope" in a else a

    return normal(got) == normal(expected)


def inactive_everywhere(server: LiveServer, rs: dict[str, Any], token: str, **extra: str) -> None:
    for _ in range(ACROSS_WORKERS):
        assert introspect(server, rs, token, **extra) == INACTIVE


def poll_key(api: Api, key_id: int, until: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The key as the API shows it once ``until`` holds (or after the wait, to assert on)."""
    deadline = time.monotonic() + USAGE_WAIT_SECONDS
    while True:
        item: dict[str, Any] = api.ok("GET", f"/api/keys/{key_id}")
        if until(item) or time.monotonic() > deadline:
            return item
        time.sleep(0.1)


# -- the active answer ------------------------------------------------------------------------


@pytest.mark.parametrize("bound_to_team", [False, True], ids=["all-teams", "one-team"])
def test_active_api_key_answer_has_exactly_the_designed_members(
    server: LiveServer,
    make_org: Any,
    make_key: Any,
    make_team: Any,
    resource_server: dict[str, Any],
    bound_to_team: bool,
) -> None:
    org, api = make_org()
    team_id = make_team(api)["id"] if bound_to_team else None
    key = make_key(api, scopes=["people:read", "leads:read"], team_id=team_id)
    assert key["team_id"] == team_id
    answer = introspect(server, resource_server, key["key"])
    assert "exp" not in answer
    assert same_answer(answer, key_answer(server, key, org["id"])), answer
    assert sorted(answer["scope"].split()) == ["leads:read", "people:read"]


def test_a_key_with_expiry_answers_exp_in_seconds(
    server: LiveServer, make_org: Any, make_key: Any, resource_server: dict[str, Any]
) -> None:
    org, api = make_org()
    expires_at = now_ms() + 3_600_000 + 789  # milliseconds that do not round away
    key = make_key(api, scopes=["interviews:read"], expires_at=expires_at)
    answer = introspect(server, resource_server, key["key"])
    assert answer["exp"] == expires_at // 1000
    assert same_answer(answer, key_answer(server, key, org["id"])), answer


def test_every_worker_gives_the_same_active_answer(
    server: LiveServer, make_key: Any, resource_server: dict[str, Any]
) -> None:
    key = make_key()
    answers = [introspect(server, resource_server, key["key"]) for _ in range(ACROSS_WORKERS)]
    assert answers[0]["active"] is True
    assert all(a == answers[0] for a in answers), answers


# -- everything not live is exactly {"active": false} -----------------------------------------


def test_revoked_key_is_inactive_in_every_worker_and_back_on_reactivation(
    server: LiveServer, admin: Api, make_key: Any, resource_server: dict[str, Any]
) -> None:
    key = make_key()
    assert introspect(server, resource_server, key["key"])["active"] is True
    admin.ok("POST", f"/api/keys/{key['id']}/revoke")
    inactive_everywhere(server, resource_server, key["key"])
    admin.ok("POST", f"/api/keys/{key['id']}/reactivate")
    assert introspect(server, resource_server, key["key"])["active"] is True


def test_deleted_key_is_inactive_in_every_worker(
    server: LiveServer, admin: Api, make_key: Any, resource_server: dict[str, Any]
) -> None:
    key = make_key()
    assert introspect(server, resource_server, key["key"])["active"] is True
    assert admin.ok("DELETE", f"/api/keys/{key['id']}") == {"ok": True}
    inactive_everywhere(server, resource_server, key["key"])


def test_key_is_inactive_once_it_expires(
    server: LiveServer, admin: Api, make_key: Any, resource_server: dict[str, Any]
) -> None:
    key = make_key(expires_at=now_ms() + 3_000)  # margin for a slow create
    assert introspect(server, resource_server, key["key"])["active"] is True
    deadline = time.monotonic() + 10
    answer = introspect(server, resource_server, key["key"])
    while answer.get("active") and time.monotonic() < deadline:
        time.sleep(0.2)
        answer = introspect(server, resource_server, key["key"])
    assert answer == INACTIVE
    inactive_everywhere(server, resource_server, key["key"])
    assert admin.ok("GET", f"/api/keys/{key['id']}")["status"] == "expired"


def test_changed_characters_unknown_and_random_strings_are_inactive(
    server: LiveServer, make_key: Any, resource_server: dict[str, Any]
) -> None:
    key: str = make_key()["key"]
    public_id_at = key.index("_") + 5
    secret_at = key.rindex("_") + 10
    checksum_at = len(key) - 2
    for candidate in (
        changed(key, public_id_at),
        changed(key, secret_at),
        changed(key, checksum_at),
        with_wrong_secret(key),  # a valid checksum: only the secret's hash refuses it
        key[:-1],
        key + "A",
        fmt.generate("lk").plaintext,  # well-formed, unknown
        "lk_" + secrets.token_urlsafe(30),
        secrets.token_urlsafe(32),
    ):
        assert candidate != key
        assert introspect(server, resource_server, candidate) == INACTIVE, candidate
    assert introspect(server, resource_server, key)["active"] is True


def test_org_plan_off_makes_its_keys_inactive_and_on_again_active(
    server: LiveServer,
    admin: Api,
    make_org: Any,
    make_key: Any,
    resource_server: dict[str, Any],
) -> None:
    org, api = make_org()
    key = make_key(api)
    assert introspect(server, resource_server, key["key"])["org_id"] == org["id"]
    admin.ok("PATCH", f"/api/orgs/{org['id']}", json={"api_access": False})
    inactive_everywhere(server, resource_server, key["key"])
    admin.ok("PATCH", f"/api/orgs/{org['id']}", json={"api_access": True})
    answer = introspect(server, resource_server, key["key"])
    assert same_answer(answer, key_answer(server, key, org["id"])), answer


@pytest.mark.parametrize("hint", ["api_key", "access_token", "refresh_token", "garbage"])
def test_token_type_hint_does_not_change_the_answer(
    server: LiveServer, admin: Api, make_key: Any, resource_server: dict[str, Any], hint: str
) -> None:
    key = make_key()
    revoked = make_key()
    admin.ok("POST", f"/api/keys/{revoked['id']}/revoke")
    plain = introspect(server, resource_server, key["key"])
    assert plain["active"] is True
    assert introspect(server, resource_server, key["key"], token_type_hint=hint) == plain
    assert introspect(server, resource_server, revoked["key"], token_type_hint=hint) == INACTIVE
    assert introspect(server, resource_server, "garbage", token_type_hint=hint) == INACTIVE


# -- user keys ---------------------------------------------------------------------------------


def test_user_key_answers_as_its_owner(
    server: LiveServer, make_org: Any, import_user_keys: Any, resource_server: dict[str, Any]
) -> None:
    org, api = make_org()
    token = legacy_token()
    created = datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)
    result = import_user_keys(
        org["id"],
        [
            {
                "email": f"{unique('owner')}@example.com",
                "name": "Old CRM sync",
                "token": token,
                "created_at": "2021-03-04T05:06:07Z",
                "scopes": "people:read leads:read",
            }
        ],
    )
    assert result.returncode == 0, result.stderr
    [user_key] = api.ok("GET", "/api/user-keys")
    expected = {
        "active": True,
        "scope": "people:read leads:read",
        "token_type": "user_key",
        "iat": int(created.timestamp()),
        "sub": str(user_key["owner"]["id"]),
        "aud": server.url,
        "iss": server.url,
        "jti": user_key["prefix"],
        "org_id": org["id"],
        "team_id": None,
        "key_prefix": user_key["prefix"],
        "name": "Old CRM sync",
    }
    answer = introspect(server, resource_server, token)
    assert same_answer(answer, expected), answer
    assert introspect(server, resource_server, token[:-1] + "!") == INACTIVE


# -- usage -------------------------------------------------------------------------------------


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


def _import_on(live: LiveServer, org_id: int, workdir: Path, rows: list[dict[str, str]]) -> None:
    columns = ["email", "name", "token", "created_at", "scopes"]
    path = workdir / f"{unique('user-keys')}.csv"
    path.write_text(
        "\n".join([",".join(columns), *(",".join(r[c] for c in columns) for r in rows)]) + "\n"
    )
    result = live.flask("import-user-keys", "--org", str(org_id), str(path))
    assert result.returncode == 0, result.stderr


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
    _import_on(
        live,
        org_id,
        tmp_path,
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
