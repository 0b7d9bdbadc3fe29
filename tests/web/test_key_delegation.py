"""An API key as the caller of the management API: ``keys:write`` creates and lists keys of
its own team scope with scopes it holds, ``keys:delete`` lists, revokes and deletes them,
nothing else is open to a key, and every refusal names the key by its prefix only."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from keys import format as fmt
from tests.api import Api
from tests.fixtures import unique
from tests.oauth_calls import introspect
from tests.web.server import WebServer

STYLES = ["bearer", "bare", "x-api-key"]
WRITE = ["keys:write", "people:read", "leads:read"]


@pytest.fixture(params=STYLES)
def style(request: pytest.FixtureRequest) -> str:
    """How the key is sent: ``Authorization: Bearer``, bare ``Authorization``, ``X-API-Key``."""
    return str(request.param)


@pytest.fixture
def org(make_org: Any) -> tuple[dict[str, Any], Api]:
    """A fresh org and its admin, so that every list below is this test's alone."""
    return make_org()  # type: ignore[no-any-return]


@pytest.fixture
def as_key(server: WebServer, style: str) -> Callable[[dict[str, Any]], Api]:
    """A caller that presents the created key ``key`` in this test's header style."""

    def caller(key: dict[str, Any]) -> Api:
        return Api.with_key(server.url, key["key"], style)

    return caller


def all_key_ids(api: Api) -> set[int]:
    return {k["id"] for k in api.ok("GET", "/api/keys", params={"status": "all", "limit": 200})}


def assert_problem(r: requests.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    assert r.headers["Content-Type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    return body


def secret_part(key: str) -> str:
    """What follows the display prefix: the secret and its checksum."""
    return key.rsplit("_", 1)[1]


# -- keys:write --------------------------------------------------------------------------------


def test_keys_write_key_creates_keys_with_a_subset_of_its_scopes_and_lists_them(
    server: WebServer,
    org: tuple[dict[str, Any], Api],
    make_key: Any,
    as_key: Callable[[dict[str, Any]], Api],
    resource_server: dict[str, Any],
) -> None:
    _, admin = org
    parent = make_key(admin, scopes=WRITE)
    caller = as_key(parent)

    child = caller.ok(
        "POST", "/api/keys", 201, json={"name": "Made by a key", "scopes": ["people:read"]}
    )
    assert child["scopes"] == ["people:read"] and child["team_id"] is None
    assert child["created_by"] is None and child["status"] == "active"
    assert child["key"].startswith(child["prefix"] + "_")
    answer = introspect(server, resource_server, child["key"])
    assert answer["active"] is True and answer["scope"] == "people:read"

    listed = caller.ok("GET", "/api/keys")
    assert {parent["id"], child["id"]} == {k["id"] for k in listed}
    assert all("key" not in k for k in listed)

    before = all_key_ids(admin)
    for scopes in (["people:write"], ["people:read", "people:write"], ["keys:delete"]):
        body = assert_problem(
            caller.post("/api/keys", json={"name": "Too much", "scopes": scopes}), 403
        )
        assert scopes[-1] in body["detail"]
    assert all_key_ids(admin) == before


def test_team_bound_keys_write_key_stays_in_its_team(
    org: tuple[dict[str, Any], Api],
    make_key: Any,
    make_team: Any,
    as_key: Callable[[dict[str, Any]], Api],
) -> None:
    _, admin = org
    team, other = make_team(admin), make_team(admin)
    parent = make_key(admin, scopes=WRITE, team_id=team["id"])
    elsewhere = make_key(admin, team_id=other["id"])
    everywhere = make_key(admin, team_id=None)
    caller = as_key(parent)

    defaulted = caller.ok("POST", "/api/keys", 201, json={"name": "A", "scopes": ["people:read"]})
    assert defaulted["team_id"] == team["id"]
    explicit = caller.ok(
        "POST",
        "/api/keys",
        201,
        json={"name": "B", "scopes": ["leads:read"], "team_id": team["id"]},
    )
    assert explicit["team_id"] == team["id"]

    before = all_key_ids(admin)
    for team_id in (None, other["id"]):
        body = assert_problem(
            caller.post(
                "/api/keys", json={"name": "C", "scopes": ["people:read"], "team_id": team_id}
            ),
            403,
        )
        assert parent["prefix"] + "…" in body["detail"]
    assert all_key_ids(admin) == before

    mine = {parent["id"], defaulted["id"], explicit["id"]}
    for params in ({}, {"status": "all"}, {"team_id": team["id"]}):
        listed = caller.ok("GET", "/api/keys", params=params)
        assert {k["id"] for k in listed} == mine, params
    assert_problem(caller.get("/api/keys", params={"team_id": other["id"]}), 403)
    # The admin sees the keys the team-bound key does not.
    assert {elsewhere["id"], everywhere["id"]} <= all_key_ids(admin)


def test_all_teams_keys_write_key_may_create_for_any_team(
    org: tuple[dict[str, Any], Api],
    make_key: Any,
    make_team: Any,
    as_key: Callable[[dict[str, Any]], Api],
) -> None:
    _, admin = org
    team, other = make_team(admin), make_team(admin)
    parent = make_key(admin, scopes=WRITE, team_id=None)
    caller = as_key(parent)
    made: dict[int | None, int] = {}
    for team_id in (team["id"], other["id"], None):
        key = caller.ok(
            "POST",
            "/api/keys",
            201,
            json={"name": unique("K"), "scopes": ["people:read"], "team_id": team_id},
        )
        assert key["team_id"] == team_id
        made[team_id] = key["id"]
    omitted = caller.ok("POST", "/api/keys", 201, json={"name": "D", "scopes": ["leads:read"]})
    assert omitted["team_id"] is None

    listed = caller.ok("GET", "/api/keys", params={"team_id": other["id"]})
    assert [k["id"] for k in listed] == [made[other["id"]]]
    everything = {k["id"] for k in caller.ok("GET", "/api/keys")}
    assert everything == {parent["id"], omitted["id"], *made.values()}


# -- keys:delete -------------------------------------------------------------------------------


def test_keys_delete_key_reads_revokes_and_deletes_within_its_team_only(
    server: WebServer,
    org: tuple[dict[str, Any], Api],
    make_key: Any,
    make_team: Any,
    as_key: Callable[[dict[str, Any]], Api],
    resource_server: dict[str, Any],
) -> None:
    _, admin = org
    team, other = make_team(admin), make_team(admin)
    deleter = make_key(admin, scopes=["keys:delete"], team_id=team["id"])
    to_revoke = make_key(admin, team_id=team["id"])
    to_delete = make_key(admin, team_id=team["id"])
    out_of_reach = [make_key(admin, team_id=other["id"]), make_key(admin, team_id=None)]
    caller = as_key(deleter)

    listed = {k["id"] for k in caller.ok("GET", "/api/keys")}
    assert listed == {deleter["id"], to_revoke["id"], to_delete["id"]}
    got = caller.ok("GET", f"/api/keys/{to_revoke['id']}")
    assert got["prefix"] == to_revoke["prefix"] and "key" not in got

    revoked = caller.ok("POST", f"/api/keys/{to_revoke['id']}/revoke")
    assert revoked["status"] == "revoked"
    assert introspect(server, resource_server, to_revoke["key"]) == {"active": False}
    assert caller.ok("DELETE", f"/api/keys/{to_delete['id']}") == {"ok": True}
    assert_problem(admin.get(f"/api/keys/{to_delete['id']}"), 404)

    for key in out_of_reach:
        assert_problem(caller.get(f"/api/keys/{key['id']}"), 403)
        assert_problem(caller.post(f"/api/keys/{key['id']}/revoke"), 403)
        assert_problem(caller.delete(f"/api/keys/{key['id']}"), 403)
        assert admin.ok("GET", f"/api/keys/{key['id']}")["status"] == "active"


def test_all_teams_keys_delete_key_reaches_every_team(
    org: tuple[dict[str, Any], Api],
    make_key: Any,
    make_team: Any,
    as_key: Callable[[dict[str, Any]], Api],
) -> None:
    _, admin = org
    caller = as_key(make_key(admin, scopes=["keys:delete"], team_id=None))
    for team_id in (make_team(admin)["id"], None):
        target = make_key(admin, team_id=team_id)
        assert caller.ok("POST", f"/api/keys/{target['id']}/revoke")["status"] == "revoked"
        assert caller.ok("DELETE", f"/api/keys/{target['id']}") == {"ok": True}


def test_delete_only_key_cannot_create_and_write_only_key_cannot_revoke_or_delete(
    org: tuple[dict[str, Any], Api], make_key: Any, as_key: Callable[[dict[str, Any]], Api]
) -> None:
    _, admin = org
    deleter = as_key(make_key(admin, scopes=["keys:delete", "people:read"]))
    writer = as_key(make_key(admin, scopes=["keys:write", "people:read"]))
    target = make_key(admin)
    before = all_key_ids(admin)

    body = assert_problem(
        deleter.post("/api/keys", json={"name": "No", "scopes": ["people:read"]}), 403
    )
    assert "keys:write" in body["detail"]
    assert_problem(deleter.post("/api/keys/temporary", json={}), 403)
    for r in (
        writer.post(f"/api/keys/{target['id']}/revoke"),
        writer.delete(f"/api/keys/{target['id']}"),
    ):
        assert "keys:delete" in assert_problem(r, 403)["detail"]
    assert all_key_ids(admin) == before
    assert admin.ok("GET", f"/api/keys/{target['id']}")["status"] == "active"


# -- what no key may do ------------------------------------------------------------------------


def test_no_key_may_edit_rotate_reactivate_or_use_other_endpoints(
    server: WebServer,
    org: tuple[dict[str, Any], Api],
    make_key: Any,
    as_key: Callable[[dict[str, Any]], Api],
) -> None:
    o, admin = org
    strong = make_key(admin, scopes=["keys:write", "keys:delete", "people:read", "leads:read"])
    caller = as_key(strong)
    target = make_key(admin)
    revoked = make_key(admin)
    admin.ok("POST", f"/api/keys/{revoked['id']}/revoke")

    for method, path, body in (
        ("PATCH", f"/api/keys/{target['id']}", {"name": "Renamed"}),
        ("POST", f"/api/keys/{target['id']}/rotate", {"grace_period_seconds": 0}),
        ("POST", f"/api/keys/{revoked['id']}/reactivate", None),
        ("GET", "/api/apps", None),
        ("POST", "/api/apps", {"name": "X", "scopes": ["people:read"]}),
        ("GET", "/api/teams", None),
        ("POST", "/api/teams", {"name": unique("T")}),
        ("GET", "/api/users", None),
        (
            "POST",
            "/api/users",
            {"email": f"{unique('u')}@example.com", "name": "U", "role": "admin"},
        ),
        ("GET", "/api/audit-events", None),
        ("GET", "/api/user-keys", None),
        ("GET", f"/api/orgs/{o['id']}", None),
        ("GET", "/api/resource-servers", None),
    ):
        r = caller.request(method, path, json=body)
        problem = assert_problem(r, 403)
        assert strong["prefix"] + "…" in problem["detail"], (method, path, problem)
        assert secret_part(strong["key"]) not in r.text

    assert admin.ok("GET", f"/api/keys/{target['id']}")["name"] == target["name"]
    assert admin.ok("GET", f"/api/keys/{target['id']}")["hint"] == target["hint"]
    assert admin.ok("GET", f"/api/keys/{revoked['id']}")["status"] == "revoked"
    assert admin.ok("GET", "/api/apps") == [] and admin.ok("GET", "/api/teams") == []


def test_key_without_keys_scopes_is_pointed_to_a_session(
    org: tuple[dict[str, Any], Api], make_key: Any, as_key: Callable[[dict[str, Any]], Api]
) -> None:
    _, admin = org
    caller = as_key(make_key(admin, scopes=["people:read", "leads:read"]))
    for r in (
        caller.get("/api/keys"),
        caller.post("/api/keys", json={"name": "No", "scopes": ["people:read"]}),
    ):
        detail = assert_problem(r, 403)["detail"]
        assert "session" in detail and "keys:write" in detail, detail


def test_a_chain_of_keys_never_grants_what_it_lacks(
    org: tuple[dict[str, Any], Api], make_key: Any, as_key: Callable[[dict[str, Any]], Api]
) -> None:
    _, admin = org
    a = make_key(admin, scopes=["keys:write", "people:read"])
    b = as_key(a).ok(
        "POST", "/api/keys", 201, json={"name": "B", "scopes": ["keys:write", "people:read"]}
    )
    assert b["scopes"] == ["keys:write", "people:read"]
    caller = as_key(b)
    c = caller.ok("POST", "/api/keys", 201, json={"name": "C", "scopes": ["people:read"]})
    assert c["scopes"] == ["people:read"]

    before = all_key_ids(admin)
    for scopes in (["leads:read"], ["people:read", "leads:read"], ["keys:delete"]):
        for api in (caller, as_key(a)):
            detail = assert_problem(
                api.post("/api/keys", json={"name": "D", "scopes": scopes}), 403
            )["detail"]
            assert scopes[-1] in detail
    # A key made by a key without keys:write makes nothing.
    assert_problem(as_key(c).post("/api/keys", json={"name": "E", "scopes": ["people:read"]}), 403)
    assert all_key_ids(admin) == before


def test_a_key_made_by_an_expiring_key_never_outlives_it(
    server: WebServer,
    org: tuple[dict[str, Any], Api],
    as_key: Callable[[dict[str, Any]], Api],
    resource_server: dict[str, Any],
) -> None:
    """A one-hour temporary key with keys:write: what it makes expires with it, or sooner."""
    _, admin = org
    parent = admin.ok(
        "POST", "/api/keys/temporary", 201, json={"scopes": ["keys:write", "people:read"]}
    )
    ends = parent["expires_at"]
    caller = as_key(parent)

    child = caller.ok(
        "POST", "/api/keys", 201, json={"name": "Inherits", "scopes": ["keys:write", "people:read"]}
    )
    assert child["expires_at"] == ends
    assert introspect(server, resource_server, child["key"])["exp"] == ends // 1000
    for expires_at in (ends, ends - 60_000):
        made = caller.ok(
            "POST",
            "/api/keys",
            201,
            json={"name": "Sooner", "scopes": ["people:read"], "expires_at": expires_at},
        )
        assert made["expires_at"] == expires_at
    assert caller.ok("POST", "/api/keys/temporary", 201, json={})["expires_at"] == ends

    before = all_key_ids(admin)
    for api in (caller, as_key(child)):  # and so on down a chain
        for expires_at in (None, ends + 1, ends + 86_400_000):
            body = {"name": "Outlives", "scopes": ["people:read"], "expires_at": expires_at}
            detail = assert_problem(api.post("/api/keys", json=body), 403)["detail"]
            assert f"expires at {ends} " in detail and "expires_at" in detail, detail
    assert all_key_ids(admin) == before
    assert admin.ok("GET", f"/api/keys/{child['id']}")["expires_at"] == ends


def test_a_key_that_never_expires_may_make_keys_that_never_expire(
    org: tuple[dict[str, Any], Api], make_key: Any, as_key: Callable[[dict[str, Any]], Api]
) -> None:
    caller = as_key(make_key(org[1], scopes=WRITE))
    for body in ({}, {"expires_at": None}):
        made = caller.ok(
            "POST", "/api/keys", 201, json={"name": "Forever", "scopes": ["people:read"], **body}
        )
        assert made["expires_at"] is None


# -- refusals name the key ---------------------------------------------------------------------


def test_refused_keys_are_named_by_prefix_and_never_by_secret(
    server: WebServer,
    admin: Api,
    make_key: Any,
    style: str,
) -> None:
    def call(key: str) -> requests.Response:
        return Api.with_key(server.url, key, style).get("/api/keys")

    revoked = make_key(scopes=["keys:write"])
    admin.ok("POST", f"/api/keys/{revoked['id']}/revoke")
    unknown = fmt.generate("lk")
    cases: list[tuple[str, str, str]] = [
        (revoked["key"], revoked["prefix"], "revoked"),
        (unknown.plaintext, unknown.display_prefix, "unknown"),
    ]
    live = make_key(scopes=["keys:write"])
    body = live["key"][: -fmt.CHECKSUM_LENGTH]
    body = body[:-10] + ("A" if body[-10] != "A" else "B") + body[-9:]
    cases.append((body + fmt.checksum(body), live["prefix"], ""))  # right shape, wrong secret

    for key, prefix, word in cases:
        r = call(key)
        detail = assert_problem(r, 401)["detail"]
        assert prefix + "…" in detail and word in detail, detail
        assert secret_part(key) not in r.text and secret_part(key)[:32] not in r.text

    bad_checksum = live["key"][:-2] + ("A" if live["key"][-2] != "A" else "B") + live["key"][-1]
    r = call(bad_checksum)
    assert "malformed" in assert_problem(r, 401)["detail"].lower()
    assert secret_part(live["key"])[:32] not in r.text
    assert call(live["key"]).status_code == 200


def test_expired_key_is_refused_as_expired(server: WebServer, make_key: Any) -> None:
    key = make_key(scopes=["keys:write"], expires_at=int(time.time() * 1000) + 3_000)
    caller = Api.with_key(server.url, key["key"])
    assert caller.get("/api/keys").status_code == 200
    deadline = time.monotonic() + 10
    r = caller.get("/api/keys")
    while r.status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.2)
        r = caller.get("/api/keys")
    detail = assert_problem(r, 401)["detail"]
    assert key["prefix"] + "…" in detail and "expired" in detail, detail
    assert secret_part(key["key"]) not in r.text


def test_key_of_an_org_whose_plan_is_off_gets_upgrade_required(
    admin: Api,
    org: tuple[dict[str, Any], Api],
    make_key: Any,
    as_key: Callable[[dict[str, Any]], Api],
) -> None:
    o, org_admin = org
    caller = as_key(make_key(org_admin, scopes=["keys:write", "people:read"]))
    assert caller.get("/api/keys").status_code == 200
    admin.ok("PATCH", f"/api/orgs/{o['id']}", json={"api_access": False})
    for r in (
        caller.get("/api/keys"),
        caller.post("/api/keys", json={"name": "No", "scopes": ["people:read"]}),
    ):
        assert assert_problem(r, 403)["title"] == "Upgrade required"
    admin.ok("PATCH", f"/api/orgs/{o['id']}", json={"api_access": True})
    assert caller.get("/api/keys").status_code == 200


# -- audit and usage ---------------------------------------------------------------------------


def test_audit_events_of_key_made_changes_name_the_key_as_actor(
    org: tuple[dict[str, Any], Api], make_key: Any, as_key: Callable[[dict[str, Any]], Api]
) -> None:
    _, admin = org
    actor = make_key(admin, scopes=["keys:write", "keys:delete", "people:read"])
    caller = as_key(actor)
    child = caller.ok("POST", "/api/keys", 201, json={"name": "Child", "scopes": ["people:read"]})
    caller.ok("POST", f"/api/keys/{child['id']}/revoke")
    caller.ok("DELETE", f"/api/keys/{child['id']}")

    events = admin.ok("GET", "/api/audit-events", params={"target": child["prefix"]})
    assert [e["action"] for e in events] == [
        "api_key.deleted",
        "api_key.revoked",
        "api_key.created",
    ]
    for event in events:
        named = {k: v for k, v in event["actor"].items() if v is not None}
        assert named == {"type": "api_key", "id": actor["id"], "prefix": actor["prefix"]}
        assert event["target"]["prefix"] == child["prefix"]
        assert event["ip"] == "127.0.0.1"
    by_actor = admin.ok("GET", "/api/audit-events", params={"actor": actor["prefix"]})
    assert {e["id"] for e in by_actor} == {e["id"] for e in events}
    text = admin.get("/api/audit-events", params={"limit": 200}).text
    assert secret_part(actor["key"]) not in text and secret_part(child["key"]) not in text
