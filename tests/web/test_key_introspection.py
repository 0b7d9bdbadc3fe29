"""Introspection of API keys and legacy user keys: the exact active answer, and everything
not live as exactly ``{"active": false}``. (The same answer from every worker of a live
server is tests/live/test_every_worker.py; usage counts are tests/live/test_usage.py.)"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from keys import format as fmt
from tests.api import Api
from tests.credentials import changed, legacy_token, with_wrong_secret
from tests.fixtures import unique
from tests.oauth_calls import inactive_everywhere, introspect
from tests.web.server import WebServer

INACTIVE = {"active": False}


def now_ms() -> int:
    return int(time.time() * 1000)


def key_answer(server: WebServer, key: dict[str, Any], org_id: int) -> dict[str, Any]:
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


# -- the active answer ------------------------------------------------------------------------


@pytest.mark.parametrize("bound_to_team", [False, True], ids=["all-teams", "one-team"])
def test_active_api_key_answer_has_exactly_the_designed_members(
    server: WebServer,
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
    server: WebServer, make_org: Any, make_key: Any, resource_server: dict[str, Any]
) -> None:
    org, api = make_org()
    expires_at = now_ms() + 3_600_000 + 789  # milliseconds that do not round away
    key = make_key(api, scopes=["interviews:read"], expires_at=expires_at)
    answer = introspect(server, resource_server, key["key"])
    assert answer["exp"] == expires_at // 1000
    assert same_answer(answer, key_answer(server, key, org["id"])), answer


# -- everything not live is exactly {"active": false} -----------------------------------------


def test_key_is_inactive_once_it_expires(
    server: WebServer, admin: Api, make_key: Any, resource_server: dict[str, Any]
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
    server: WebServer, make_key: Any, resource_server: dict[str, Any]
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
    server: WebServer,
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
    server: WebServer, admin: Api, make_key: Any, resource_server: dict[str, Any], hint: str
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
    server: WebServer, make_org: Any, import_user_keys: Any, resource_server: dict[str, Any]
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
