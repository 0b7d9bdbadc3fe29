"""Every worker answers from its credential-state cache once warm, and a change made through
the API is seen by the very next request in every worker: caches are invalidated, not aged.

Each test first warms both workers (several fresh connections, all answered from the same
state), then changes that state once and asks again at once, with no wait, on fresh
connections. On SQLite the workers share the instance folder's stamp, on PostgreSQL the
Redis stamp (the live servers run with REDIS_URL there).
"""

from __future__ import annotations

import secrets
from typing import Any

import requests

from tests.api import Api
from tests.fixtures import unique
from tests.live.server import LiveServer
from tests.oauth_calls import introspect, issue

INACTIVE = {"active": False}
#: Fresh connections per round: enough that both workers answer, and answer again.
ROUNDS = 12


def everywhere(server: LiveServer, rs: dict[str, Any], token: str) -> list[dict[str, Any]]:
    return [introspect(server, rs, token) for _ in range(ROUNDS)]


def warm(server: LiveServer, rs: dict[str, Any], token: str) -> dict[str, Any]:
    answers = everywhere(server, rs, token)
    assert all(a == answers[0] for a in answers) and answers[0]["active"] is True
    return answers[0]


def token_status(server: LiveServer, client_id: str, secret: str) -> list[int]:
    return [
        requests.post(
            f"{server.url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, secret),
            headers={"Connection": "close"},
            timeout=10,
        ).status_code
        for _ in range(ROUNDS)
    ]


def test_api_key_revoke_edit_and_rotation_reach_every_warm_worker(
    server: LiveServer, admin: Api, make_key: Any, resource_server: dict[str, Any]
) -> None:
    key = make_key(scopes=["people:read"])
    warm(server, resource_server, key["key"])

    admin.ok("PATCH", f"/api/keys/{key['id']}", json={"scopes": ["people:read", "leads:read"]})
    assert {a["scope"] for a in everywhere(server, resource_server, key["key"])} == {
        "people:read leads:read"
    }

    rotated = admin.ok("POST", f"/api/keys/{key['id']}/rotate", json={"grace_period_seconds": 0})
    assert everywhere(server, resource_server, key["key"]) == [INACTIVE] * ROUNDS
    warm(server, resource_server, rotated["key"])

    admin.ok("POST", f"/api/keys/{key['id']}/revoke")
    assert everywhere(server, resource_server, rotated["key"]) == [INACTIVE] * ROUNDS


def test_app_revoke_and_secret_rotation_reach_every_warm_worker(
    server: LiveServer, admin: Api, make_app: Any, resource_server: dict[str, Any]
) -> None:
    app = make_app()
    token = issue(server, app)
    warm(server, resource_server, token)
    assert token_status(server, app["client_id"], app["client_secret"]) == [200] * ROUNDS

    rotated = admin.ok(
        "POST", f"/api/apps/{app['id']}/rotate-secret", json={"grace_period_seconds": 0}
    )
    assert token_status(server, app["client_id"], app["client_secret"]) == [401] * ROUNDS
    assert token_status(server, app["client_id"], rotated["client_secret"]) == [200] * ROUNDS

    admin.ok("POST", f"/api/apps/{app['id']}/revoke")
    assert everywhere(server, resource_server, token) == [INACTIVE] * ROUNDS
    assert token_status(server, app["client_id"], rotated["client_secret"]) == [401] * ROUNDS


def test_one_revoked_token_is_inactive_in_every_warm_worker(
    server: LiveServer, make_app: Any, resource_server: dict[str, Any]
) -> None:
    app = make_app()
    token, other = issue(server, app), issue(server, app)
    warm(server, resource_server, token)
    warm(server, resource_server, other)

    r = requests.post(
        f"{server.url}/oauth/revoke",
        data={"token": token},
        auth=(app["client_id"], app["client_secret"]),
        timeout=10,
    )
    assert r.status_code == 200
    assert everywhere(server, resource_server, token) == [INACTIVE] * ROUNDS
    warm(server, resource_server, other)  # its sibling is untouched


def test_plan_off_reaches_every_warm_worker_for_tokens_keys_and_the_token_endpoint(
    server: LiveServer,
    admin: Api,
    make_org: Any,
    make_app: Any,
    make_key: Any,
    resource_server: dict[str, Any],
) -> None:
    org, org_admin = make_org()
    app = make_app(api=org_admin)
    token = issue(server, app)
    key = make_key(api=org_admin)
    warm(server, resource_server, token)
    warm(server, resource_server, key["key"])

    admin.ok("PATCH", f"/api/orgs/{org['id']}", json={"api_access": False})
    assert everywhere(server, resource_server, token) == [INACTIVE] * ROUNDS
    assert everywhere(server, resource_server, key["key"]) == [INACTIVE] * ROUNDS
    assert token_status(server, app["client_id"], app["client_secret"]) == [400] * ROUNDS


def test_user_key_revoke_reaches_every_warm_worker(
    server: LiveServer,
    admin: Api,
    admin_org_id: int,
    import_user_keys: Any,
    resource_server: dict[str, Any],
) -> None:
    token = f"pat-{secrets.token_hex(20)}"
    email = f"{unique('owner')}@example.com"
    row = {
        "email": email,
        "name": "Sync",
        "token": token,
        "created_at": "2021-03-04T05:06:07Z",
        "scopes": "people:read",
    }
    assert import_user_keys(admin_org_id, [row]).returncode == 0
    answer = warm(server, resource_server, token)

    key_id = next(
        k["id"]
        for k in admin.ok("GET", "/api/user-keys", params={"limit": 100})
        if k["prefix"] == answer["key_prefix"]
    )
    admin.ok("DELETE", f"/api/user-keys/{key_id}")
    assert everywhere(server, resource_server, token) == [INACTIVE] * ROUNDS


def test_a_new_resource_server_is_a_valid_audience_at_once_in_every_worker(
    server: LiveServer, admin: Api, make_app: Any
) -> None:
    app = make_app()
    audience = f"https://{unique('new-api')}.example.com"

    def with_resource() -> list[int]:
        return [
            requests.post(
                f"{server.url}/oauth/token",
                data={"grant_type": "client_credentials", "resource": audience},
                auth=(app["client_id"], app["client_secret"]),
                headers={"Connection": "close"},
                timeout=10,
            ).status_code
            for _ in range(ROUNDS)
        ]

    assert with_resource() == [400] * ROUNDS  # invalid_target, remembered by every worker
    admin.ok("POST", "/api/resource-servers", 201, json={"name": "New", "audience": audience})
    assert with_resource() == [200] * ROUNDS


def test_a_change_made_by_hand_is_served_from_cache_until_invalidate_caches(
    server: LiveServer, make_key: Any, resource_server: dict[str, Any]
) -> None:
    """Proof that a warm worker answers from memory (the database says revoked, it does not
    ask), and that the operator's command reaches every worker."""
    from sqlalchemy import create_engine, text

    key = make_key()
    warm(server, resource_server, key["key"])
    url = server.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    with engine.begin() as db:
        db.execute(text("UPDATE api_keys SET revoked_at = 1 WHERE id = :id"), {"id": key["id"]})
    engine.dispose()
    # A worker that answered the warm-up answers from memory; which one gets a new
    # connection is the kernel's choice, so one active answer is the proof.
    assert any(a["active"] for a in everywhere(server, resource_server, key["key"]))

    assert server.flask("invalidate-caches").returncode == 0
    assert everywhere(server, resource_server, key["key"]) == [INACTIVE] * ROUNDS
