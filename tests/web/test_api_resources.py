"""Happy paths of the management API as DESIGN.md states them: status codes, fields, times,
lists and pagination, secrets shown once, the audit trail, and the OpenAPI document."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import pytest
from openapi_spec_validator import validate

from tests import transport
from tests.api import ADMIN_PASSWORD, Api
from tests.web.server import WebServer

APP_FIELDS = {
    "id",
    "name",
    "client_id",
    "prefix",
    "hint",
    "scopes",
    "team_id",
    "token_ttl_seconds",
    "token_format",
    "jwt_signing_alg",
    "status",
    "created_at",
    "created_by",
    "previous_secret_expires_at",
}
UA = "latchkey-tests/1.0"


def now_ms() -> int:
    return int(time.time() * 1000)


def assert_ms(value: Any, since: int) -> None:
    assert isinstance(value, int) and not isinstance(value, bool)
    assert since - 5_000 <= value <= now_ms() + 5_000


def events(api: Api, **params: Any) -> list[dict[str, Any]]:
    return api.ok("GET", "/api/audit-events", params={"limit": 200, **params})  # type: ignore[no-any-return]


def test_app_lifecycle_status_codes_fields_and_audit(make_org: Any, make_team: Any) -> None:
    org, api = make_org()
    api.http.headers["User-Agent"] = UA
    team = make_team(api)
    since = now_ms()

    created = api.ok(
        "POST",
        "/api/apps",
        201,
        json={
            "name": "Zapier",
            "scopes": ["people:read", "leads:read"],
            "team_id": team["id"],
            "token_ttl_seconds": 600,
            "token_format": "jwt",
        },
    )
    assert set(created) >= APP_FIELDS | {"client_secret"}
    secrets = [created["client_secret"]]
    assert created["client_secret"].startswith(created["prefix"] + "_")
    assert created["client_secret"].endswith(created["hint"]) and len(created["hint"]) == 4
    assert {
        k: created[k]
        for k in ("name", "scopes", "team_id", "token_ttl_seconds", "token_format", "status")
    } == {
        "name": "Zapier",
        "scopes": ["people:read", "leads:read"],
        "team_id": team["id"],
        "token_ttl_seconds": 600,
        "token_format": "jwt",
        "status": "active",
    }
    assert created["previous_secret_expires_at"] is None
    assert isinstance(created["created_by"], int)
    assert_ms(created["created_at"], since)
    app_id = created["id"]
    without_secret = {k: v for k, v in created.items() if k != "client_secret"}
    assert api.ok("GET", f"/api/apps/{app_id}") == without_secret
    assert api.ok("GET", "/api/apps") == [without_secret]

    updated = api.ok(
        "PATCH",
        f"/api/apps/{app_id}",
        json={"name": "Zapier prod", "team_id": None, "scopes": ["people:read"]},
    )
    assert (updated["name"], updated["team_id"], updated["scopes"]) == (
        "Zapier prod",
        None,
        ["people:read"],
    )
    assert "client_secret" not in updated

    rotated = api.ok(
        "POST", f"/api/apps/{app_id}/rotate-secret", json={"grace_period_seconds": 3600}
    )
    secrets.append(rotated["client_secret"])
    assert rotated["id"] == app_id and rotated["client_id"] == created["client_id"]
    assert rotated["prefix"] == created["prefix"] and rotated["hint"] != created["hint"]
    assert rotated["client_secret"] != created["client_secret"]
    assert 3_590_000 <= rotated["previous_secret_expires_at"] - now_ms() <= 3_600_000
    assert "client_secret" not in api.ok("GET", f"/api/apps/{app_id}")

    revoked = api.ok("POST", f"/api/apps/{app_id}/revoke")
    assert revoked["status"] == "revoked" and "client_secret" not in revoked
    other = api.ok("POST", "/api/apps", 201, json={"name": "Still on", "scopes": ["people:read"]})
    secrets.append(other["client_secret"])
    assert [a["id"] for a in api.ok("GET", "/api/apps?status=revoked")] == [app_id]
    assert [a["id"] for a in api.ok("GET", "/api/apps?status=active")] == [other["id"]]
    assert [a["id"] for a in api.ok("GET", "/api/apps?status=all")] == [other["id"], app_id]
    assert api.ok("POST", f"/api/apps/{app_id}/reactivate")["status"] == "active"
    assert api.ok("DELETE", f"/api/apps/{app_id}") == {"ok": True}
    r = api.get(f"/api/apps/{app_id}")
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("application/problem+json")
    assert [a["id"] for a in api.ok("GET", "/api/apps")] == [other["id"]]

    log = events(api)
    mine = [e for e in log if e["target"]["type"] == "app" and e["target"]["id"] == app_id]
    assert [e["action"] for e in mine] == [
        "app.deleted",
        "app.reactivated",
        "app.revoked",
        "app.rotated",
        "app.updated",
        "app.created",
    ]  # newest first, and still there after the delete
    me = mine[0]["actor"]
    for event in mine:
        assert set(event) >= {
            "id",
            "at",
            "action",
            "actor",
            "target",
            "ip",
            "user_agent",
            "details",
        }
        assert event["actor"] == me and me["type"] == "user" and me["id"] and me["email"]
        assert set(event["target"]) >= {"type", "id", "name", "prefix"}
        assert event["target"]["prefix"] == created["client_id"]
        assert (event["ip"], event["user_agent"]) == ("127.0.0.1", UA)
        assert_ms(event["at"], since)
    assert mine[-1]["target"]["name"] == "Zapier"
    assert [e["id"] for e in log] == sorted((e["id"] for e in log), reverse=True)
    assert {"team.created", "user.created", "session.created", "org.created"} <= {
        e["action"] for e in log
    }
    assert next(e for e in log if e["action"] == "org.created")["target"]["id"] == org["id"]

    # No secret anywhere but in the create and rotate responses.
    for body in (
        api.get("/api/audit-events?limit=200").text,
        api.get("/api/apps?status=all").text,
        api.get(f"/api/apps/{other['id']}").text,
    ):
        for secret in secrets:
            assert secret not in body


@pytest.mark.parametrize("action", ["app.created", "team.created", "session.created"])
def test_audit_action_filter_matches_exactly(
    make_org: Any, make_app: Any, make_team: Any, action: str
) -> None:
    _, api = make_org()
    make_team(api)
    make_app(api)
    found = events(api, action=action)
    assert found and {e["action"] for e in found} == {action}
    assert events(api, action=action.split(".")[0]) == []
    assert events(api, action=action[:-1]) == []
    # No action, actor or target holds a control character (nor can a query hold NUL).
    for field in ("action", "actor", "target"):
        assert events(api, **{field: action + "\x00"}) == []


def test_lists_are_newest_first_and_paginated_with_link_next(make_org: Any, make_app: Any) -> None:
    _, api = make_org()
    ids = [make_app(api, name=f"P{i}")["id"] for i in range(5)]
    pages = []
    r = api.get("/api/apps", params={"limit": 2})
    while True:
        assert r.status_code == 200 and isinstance(r.json(), list)
        pages.append([a["id"] for a in r.json()])
        if "next" not in r.links:
            assert "Link" not in r.headers
            break
        assert r.headers["Link"].endswith('>; rel="next"')
        r = api.http.get(r.links["next"]["url"], timeout=10)
    assert pages == [ids[4:2:-1], ids[2:0:-1], ids[0:1]]
    whole = api.get("/api/apps", params={"limit": 5})
    assert [a["id"] for a in whole.json()] == ids[::-1] and "Link" not in whole.headers


def test_team_deletion_is_409_while_an_app_uses_it(make_org: Any, make_app: Any) -> None:
    _, api = make_org()
    since = now_ms()
    team = api.ok("POST", "/api/teams", 201, json={"name": "Interviews"})
    assert set(team) >= {"id", "name", "created_at"} and team["name"] == "Interviews"
    assert_ms(team["created_at"], since)
    app = make_app(api, team_id=team["id"])
    r = api.delete(f"/api/teams/{team['id']}")
    assert r.status_code == 409 and r.headers["Content-Type"].startswith("application/problem+json")
    assert app["name"] in r.json()["detail"]
    assert [t["id"] for t in api.ok("GET", "/api/teams")] == [team["id"]]
    api.ok("DELETE", f"/api/apps/{app['id']}")
    assert api.ok("DELETE", f"/api/teams/{team['id']}") == {"ok": True}
    assert api.ok("GET", "/api/teams") == []
    assert [
        e["action"] for e in events(api, target=str(team["id"])) if e["target"]["type"] == "team"
    ] == [
        "team.deleted",
        "team.created",
    ]


def test_orgs_create_and_plan_switch(admin: Api, make_org: Any) -> None:
    since = now_ms()
    org = admin.ok("POST", "/api/orgs", 201, json={"name": "Acme", "api_access": False})
    assert set(org) >= {"id", "name", "api_access", "created_at"}
    assert (org["name"], org["api_access"]) == ("Acme", False)
    assert_ms(org["created_at"], since)
    assert admin.ok("GET", f"/api/orgs/{org['id']}")["api_access"] is False
    assert admin.ok("GET", "/api/orgs?limit=1")[0]["id"] == org["id"]  # newest first
    assert admin.ok("POST", "/api/orgs", 201, json={"name": "Defaults on"})["api_access"] is True

    other, org_admin = make_org()
    switched = admin.ok("PATCH", f"/api/orgs/{other['id']}", json={"api_access": False})
    assert switched["api_access"] is False and switched["name"] == other["name"]
    assert org_admin.get("/api/audit-events").status_code == 403  # the log is plan-gated too
    admin.ok("PATCH", f"/api/orgs/{other['id']}", json={"api_access": True})
    event, _ = reversed(events(org_admin, action="org.updated"))
    assert event["details"]["changes"]["api_access"] == {"from": True, "to": False}
    assert event["actor"]["type"] == "user" and event["target"]["id"] == other["id"]


def test_users_created_with_and_without_password(
    admin: Api, make_org: Any, server: WebServer, admin_org_id: int
) -> None:
    org, org_admin = make_org()
    since = now_ms()
    # Unique per run: failed sign-ins are counted per account (in Redis, on a live server).
    ghost = f"ghost-{uuid.uuid4().hex[:8]}@example.com"
    dev_email = f"dev-{uuid.uuid4().hex[:8]}@acme.example.com"
    no_password = org_admin.ok(
        "POST",
        "/api/users",
        201,
        json={"email": ghost.replace("ghost", "Ghost"), "name": "Ghost", "role": "member"},
    )
    assert set(no_password) >= {"id", "org_id", "email", "name", "role", "created_at"}
    assert (no_password["email"], no_password["org_id"], no_password["can_log_in"]) == (
        ghost,
        org["id"],
        False,
    )
    assert_ms(no_password["created_at"], since)
    for password in ("", "anything at all", ADMIN_PASSWORD):
        r = transport.post(
            f"{server.url}/api/sessions",
            json={"email": ghost, "password": password or "x"},
            timeout=10,
        )
        assert r.status_code == 401
    # The platform admin may add a member to any org; an org admin only to their own.
    dev = admin.ok(
        "POST",
        "/api/users",
        201,
        json={
            "email": dev_email,
            "name": "Dev",
            "role": "developer",
            "org_id": org["id"],
            "password": ADMIN_PASSWORD,
        },
    )
    assert dev["org_id"] == org["id"] and dev["can_log_in"] is True
    Api.login(server.url, dev_email, ADMIN_PASSWORD)
    r = org_admin.post(
        "/api/users",
        json={"email": "spy@example.com", "name": "Spy", "role": "admin", "org_id": admin_org_id},
    )
    assert r.status_code == 403 and r.headers["Content-Type"].startswith("application/problem+json")
    assert "spy@example.com" not in [u["email"] for u in admin.ok("GET", "/api/users?limit=200")]
    listed = [u["email"] for u in org_admin.ok("GET", "/api/users")]
    assert listed[:2] == [dev_email, ghost]
    assert {e["target"]["name"] for e in events(org_admin, action="user.created")} >= {
        ghost,
        dev_email,
    }


def test_resource_servers_secret_once_and_audited(admin: Api) -> None:
    since = now_ms()
    audience = f"https://people-{since}.example.com"
    rs = admin.ok(
        "POST", "/api/resource-servers", 201, json={"name": "People API", "audience": audience}
    )
    assert set(rs) >= {
        "id",
        "name",
        "audience",
        "client_id",
        "client_secret",
        "prefix",
        "hint",
        "status",
        "created_at",
    }
    assert (rs["audience"], rs["status"]) == (audience, "active")
    assert_ms(rs["created_at"], since)
    listed = admin.ok("GET", "/api/resource-servers?limit=1")
    assert listed == [{k: v for k, v in rs.items() if k != "client_secret"}]
    (event,) = events(admin, action="resource_server.created", target=rs["client_id"])
    assert event["target"] == {
        "type": "resource_server",
        "id": rs["id"],
        "name": "People API",
        "prefix": rs["client_id"],
    }
    assert rs["client_secret"] not in admin.get("/api/audit-events?limit=200").text


def test_session_created_event_holds_no_token(server: WebServer, admin: Api) -> None:
    r = transport.post(
        f"{server.url}/api/sessions",
        json={"email": "admin@example.com", "password": ADMIN_PASSWORD},
        timeout=10,
    )
    assert r.status_code == 201 and set(r.json()) == {"token", "expires_at"}
    token = r.json()["token"]
    assert r.json()["expires_at"] > now_ms()
    latest = events(admin, action="session.created")[0]
    assert latest["target"]["type"] == "session" and token.startswith(
        latest["target"]["prefix"] + "_"
    )
    assert token not in admin.get("/api/audit-events?limit=200").text


def test_scope_catalog_has_the_13_default_scopes(admin: Api) -> None:
    scopes = admin.ok("GET", "/api/scopes")
    assert [s["name"] for s in scopes] == [
        "people:read",
        "people:write",
        "interviews:read",
        "interviews:write",
        "leads:read",
        "leads:create",
        "leads:update",
        "leads:delete",
        "participants:read",
        "participants:write",
        "participants:delete",
        "keys:write",
        "keys:delete",
    ]
    assert all(
        s["resource"] == s["name"].split(":")[0] and isinstance(s["description"], str)
        for s in scopes
    )


OPERATIONS = {
    ("post", "/api/sessions"): "SessionCreate",
    ("delete", "/api/sessions/current"): None,
    ("get", "/api/orgs"): None,
    ("post", "/api/orgs"): "OrgCreate",
    ("get", "/api/orgs/{org_id}"): None,
    ("patch", "/api/orgs/{org_id}"): "OrgUpdate",
    ("get", "/api/users"): None,
    ("post", "/api/users"): "UserCreate",
    ("get", "/api/teams"): None,
    ("post", "/api/teams"): "TeamCreate",
    ("delete", "/api/teams/{team_id}"): None,
    ("get", "/api/apps"): None,
    ("post", "/api/apps"): "AppCreate",
    ("get", "/api/apps/{app_id}"): None,
    ("patch", "/api/apps/{app_id}"): "AppUpdate",
    ("delete", "/api/apps/{app_id}"): None,
    ("post", "/api/apps/{app_id}/rotate-secret"): "RotateSecret",
    ("post", "/api/apps/{app_id}/revoke"): None,
    ("post", "/api/apps/{app_id}/reactivate"): None,
    ("get", "/api/keys"): None,
    ("post", "/api/keys"): "KeyCreate",
    ("post", "/api/keys/temporary"): "TemporaryKeyCreate",
    ("get", "/api/keys/{key_id}"): None,
    ("patch", "/api/keys/{key_id}"): "KeyUpdate",
    ("delete", "/api/keys/{key_id}"): None,
    ("post", "/api/keys/{key_id}/rotate"): "RotateSecret",
    ("post", "/api/keys/{key_id}/revoke"): None,
    ("post", "/api/keys/{key_id}/reactivate"): None,
    ("get", "/api/user-keys"): None,
    ("post", "/api/user-keys"): None,
    ("delete", "/api/user-keys/{key_id}"): None,
    ("post", "/api/user-keys/{key_id}/replace"): "UserKeyReplace",
    ("get", "/api/webhooks"): None,
    ("post", "/api/webhooks"): "WebhookCreate",
    ("get", "/api/webhooks/{webhook_id}"): None,
    ("patch", "/api/webhooks/{webhook_id}"): "WebhookUpdate",
    ("delete", "/api/webhooks/{webhook_id}"): None,
    ("post", "/api/webhooks/{webhook_id}/rotate-secret"): None,
    ("post", "/api/webhooks/{webhook_id}/test"): None,
    ("get", "/api/webhooks/{webhook_id}/deliveries"): None,
    ("post", "/api/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): None,
    ("get", "/api/resource-servers"): None,
    ("post", "/api/resource-servers"): "ResourceServerCreate",
    ("get", "/api/scopes"): None,
    ("get", "/api/audit-events"): None,
}


def test_openapi_document_is_public_valid_and_complete(server: WebServer) -> None:
    r = transport.get(f"{server.url}/openapi.json", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    doc = r.json()
    assert doc["openapi"].startswith("3.1")
    validate(doc)
    listed = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert listed == set(OPERATIONS)
    schemas = doc["components"]["schemas"]
    for (method, path), model in OPERATIONS.items():
        op = doc["paths"][path][method]
        if model is None:
            assert "requestBody" not in op, (method, path)
            continue
        ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref == f"#/components/schemas/{model}"
        assert schemas[model]["properties"] and schemas[model]["additionalProperties"] is False
        assert "422" in op["responses"] and "400" in op["responses"]
    assert set(schemas["AppCreate"]["required"]) == {"name", "scopes"}
    assert (
        doc["paths"]["/api/apps/{app_id}/rotate-secret"]["post"]["requestBody"]["required"] is False
    )
    # Every path it names exists on the server (answers something other than 404).
    for path in doc["paths"]:
        concrete = re.sub(r"\{\w+\}", "1", path)
        method = next(iter(doc["paths"][path]))
        answer = transport.request(method, server.url + concrete, timeout=10)
        assert answer.status_code in (200, 401, 422), (method, path, answer.status_code)
