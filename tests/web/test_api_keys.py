"""``/api/keys`` end to end: every endpoint's happy path and exact fields, every validation
error, list filters and pages, rotation with and without an overlap, revoke, reactivate,
delete, expiry, temporary keys, org isolation, roles and plan gating, teams in use, and the
audit trail. A key's state is checked where it matters: at introspection, as a
resource server sees it.

Members, orgs and the resource server are made once per backend (``orgs``): each member
costs two argon2 hashes, and this module would otherwise spend most of its time on them.
Tests share org "A" and keep to their own records: a test that needs an exact list binds its
keys to a team of its own and filters by it."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.api import ADMIN_EMAIL, ADMIN_PASSWORD, Api
from tests.fixtures import sign_up
from tests.oauth_calls import introspect
from tests.web.server import WebServer

Item = dict[str, Any]
Call = tuple[str, str, Any]  # method, path, JSON body (None: no body)

KEY_FIELDS = frozenset(
    {
        "id",
        "name",
        "prefix",
        "hint",
        "scopes",
        "team_id",
        "status",
        "created_at",
        "created_by",
        "updated_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
        "last_used_ip",
        "usage_count",
        "temporary",
        "previous_secret_expires_at",
    }
)
#: Fields that move on their own (usage is written in batches) or with every edit.
MOVING_FIELDS = frozenset({"updated_at", "usage_count", "last_used_at", "last_used_ip"})
KEY_FORMAT = re.compile(r"lk_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}")
PREFIX_FORMAT = re.compile(r"lk_[0-9A-Za-z]{12}")
INTROSPECTION_FIELDS = frozenset(
    {
        "active",
        "scope",
        "token_type",
        "iat",
        "sub",
        "aud",
        "iss",
        "jti",
        "org_id",
        "team_id",
        "key_prefix",
        "name",
    }
)
INACTIVE = {"active": False}
HOUR_MS = 3_600_000
TEMPORARY_NAME = "Docs playground (temp)"
NO_SUCH_ID = 2**31 - 1
LIFECYCLE = ("created", "updated", "rotated", "revoked", "reactivated", "deleted")


# -- helpers ----------------------------------------------------------------------------------


def now_ms() -> int:
    return int(time.time() * 1000)


def unique(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


def wait_until(check: Callable[[], bool], timeout: float = 6.0) -> bool:
    """Poll ``check`` every 0.1 s until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def assert_ms(value: Any, since: int) -> None:
    """A time in milliseconds, between ``since`` and now (with slack for clock granularity)."""
    assert isinstance(value, int) and not isinstance(value, bool), value
    assert since - 5_000 <= value <= now_ms() + 5_000, value


def assert_problem(r: requests.Response, status: int, title: str | None = None) -> Item:
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    assert r.headers["Content-Type"].split(";")[0] == "application/problem+json"
    body: Item = r.json()
    assert body["status"] == status and body["detail"]
    if title is not None:
        assert body["title"] == title, body
    return body


def assert_field_error(r: requests.Response, field: str) -> None:
    """A 422 whose ``errors`` name ``field`` (and only it), each with a message."""
    body = assert_problem(r, 422)
    assert [e["field"] for e in body["errors"]] == [field], body
    assert all(e["message"] for e in body["errors"]), body


def assert_new_key(created: Item) -> None:
    """A create or rotate answer: the full item plus ``key``, well-formed and matching the
    item's prefix and hint."""
    assert set(created) == KEY_FIELDS | {"key"}, set(created) ^ (KEY_FIELDS | {"key"})
    key = created["key"]
    assert KEY_FORMAT.fullmatch(key), key
    assert PREFIX_FORMAT.fullmatch(created["prefix"]), created["prefix"]
    assert key.startswith(created["prefix"] + "_")
    assert created["hint"] == key[-4:]


def secret_part(key: str) -> str:
    """What follows the display prefix: the part that is never shown again."""
    return key.split("_", 2)[2]


def shown(created: Item) -> Item:
    """The item as reads show it: the create or rotate answer without ``key``."""
    return {k: v for k, v in created.items() if k != "key"}


def settled(item: Item) -> Item:
    """The item without ``key`` and its moving fields, to compare across edits and uses."""
    return {k: v for k, v in item.items() if k not in MOVING_FIELDS and k != "key"}


def new_key(api: Api, **fields: Any) -> Item:
    body = {"name": unique("Key"), "scopes": ["people:read", "leads:read"], **fields}
    return api.ok("POST", "/api/keys", 201, json=body)  # type: ignore[no-any-return]


def new_team(api: Api) -> int:
    return int(api.ok("POST", "/api/teams", 201, json={"name": unique("Team")})["id"])


def ids(api: Api, **params: Any) -> list[int]:
    return [k["id"] for k in api.ok("GET", "/api/keys", params={"limit": 200, **params})]


def pages(api: Api, params: dict[str, Any]) -> list[list[int]]:
    """The ids of every page of ``GET /api/keys``, following ``Link: rel="next"``."""
    r = api.get("/api/keys", params=params)
    found: list[list[int]] = []
    for _ in range(20):
        assert r.status_code == 200, r.text
        found.append([k["id"] for k in r.json()])
        if "next" not in r.links:
            assert "Link" not in r.headers
            return found
        assert r.headers["Link"].endswith('>; rel="next"')
        r = api.http.get(r.links["next"]["url"], timeout=10)
    raise AssertionError(f"more pages than expected: {found}")


def events(api: Api, **params: Any) -> list[Item]:
    return api.ok("GET", "/api/audit-events", params={"limit": 200, **params})  # type: ignore[no-any-return]


def key_events(api: Api, key: Item, verb: str) -> list[Item]:
    """The ``api_key.<verb>`` events of this key."""
    found = events(api, action=f"api_key.{verb}", target=key["prefix"])
    return [e for e in found if e["target"]["id"] == key["id"]]


def every_key_call(key_id: int) -> list[Call]:
    """Every ``/api/keys`` call, with a valid body; the last six act on key ``key_id``."""
    item = f"/api/keys/{key_id}"
    return [
        ("GET", "/api/keys", None),
        ("POST", "/api/keys", {"name": "Nope", "scopes": ["people:read"]}),
        ("POST", "/api/keys/temporary", None),
        ("GET", item, None),
        ("PATCH", item, {"name": "Renamed"}),
        ("POST", f"{item}/rotate", {"grace_period_seconds": 0}),
        ("POST", f"{item}/revoke", None),
        ("POST", f"{item}/reactivate", None),
        ("DELETE", item, None),
    ]


def one_key_calls(key_id: int) -> list[Call]:
    return every_key_call(key_id)[3:]


def call(api: Api, c: Call) -> requests.Response:
    method, path, body = c
    return api.request(method, path, json=body)


# -- fixtures ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Orgs:
    """Org A (one member per role), org B (an admin and a team, never any key), and org C,
    whose plan is off until a test switches it."""

    platform: Api
    org_id: int
    admin: Api
    me: Item  # org A's admin, as /api/users shows them
    developer: Api
    member: Api
    other: Api
    other_team_id: int
    gated_org_id: int
    gated: Api


@pytest.fixture(scope="module")
def orgs(server: WebServer) -> Orgs:
    platform = Api.login(server.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    a, b, c = (
        platform.ok("POST", "/api/orgs", 201, json={"name": unique(name), "api_access": on})
        for name, on in (("A", True), ("B", True), ("C", False))
    )
    admin = sign_up(platform, "admin", a["id"])
    other = sign_up(platform, "admin", b["id"]).api
    gated = sign_up(platform, "admin", c["id"]).api
    return Orgs(
        platform=platform,
        org_id=a["id"],
        admin=admin.api,
        me=admin.user,
        developer=sign_up(platform, "developer", a["id"]).api,
        member=sign_up(platform, "member", a["id"]).api,
        other=other,
        other_team_id=new_team(other),
        gated_org_id=c["id"],
        gated=gated,
    )


@pytest.fixture(scope="module")
def api(orgs: Orgs) -> Api:
    """Org A's admin: the caller of most tests."""
    return orgs.admin


@pytest.fixture(scope="module")
def resource_server(orgs: Orgs) -> Item:
    """A registered resource server, allowed to introspect (one per backend here)."""
    return orgs.platform.ok(  # type: ignore[no-any-return]
        "POST",
        "/api/resource-servers",
        201,
        json={"name": unique("API"), "audience": f"https://{unique('api')}.example.com"},
    )


@dataclass(frozen=True)
class Gate:
    """A resource server's view of keys: what introspection answers for them, asked again
    and again (on a live server, each call was a new connection, to reach every worker)."""

    server: WebServer
    rs: Item

    def __call__(self, key: str) -> Item:
        return introspect(self.server, self.rs, key)

    def assert_active(self, key: str, item: Item) -> Item:
        """Active, as the key ``item``, every time; returns the last answer."""
        for _ in range(4):
            answer = self(key)
            assert answer["active"] is True, answer
            assert (answer["sub"], answer["key_prefix"]) == (str(item["id"]), item["prefix"])
        return answer

    def assert_inactive(self, key: str) -> None:
        """Exactly ``{"active": false}``, every time."""
        for _ in range(6):
            assert self(key) == INACTIVE

    def is_inactive(self, key: str) -> bool:
        return self(key) == INACTIVE


@pytest.fixture(scope="module")
def gate(server: WebServer, resource_server: Item) -> Gate:
    return Gate(server, resource_server)


# -- create and read --------------------------------------------------------------------------


def test_create_shows_the_key_once_and_reads_never_do(
    server: WebServer, orgs: Orgs, api: Api, gate: Gate
) -> None:
    team_id = new_team(api)
    since = now_ms()
    expires_at = since + 7 * 24 * HOUR_MS

    created = api.ok(
        "POST",
        "/api/keys",
        201,
        json={
            "name": "Zapier",
            "scopes": ["people:read", "leads:create"],
            "team_id": team_id,
            "expires_at": expires_at,
        },
    )
    assert_new_key(created)
    assert {k: created[k] for k in KEY_FIELDS - {"id", "prefix", "hint", "created_at"}} == {
        "name": "Zapier",
        "scopes": ["people:read", "leads:create"],
        "team_id": team_id,
        "status": "active",
        "created_by": orgs.me["id"],
        "updated_at": created["updated_at"],
        "expires_at": expires_at,
        "revoked_at": None,
        "last_used_at": None,
        "last_used_ip": None,
        "usage_count": 0,
        "temporary": False,
        "previous_secret_expires_at": None,
    }
    assert_ms(created["created_at"], since)
    assert_ms(created["updated_at"], since)

    plain = new_key(api, scopes=["people:read"])  # all teams, no expiry
    assert_new_key(plain)
    assert (plain["team_id"], plain["expires_at"], plain["scopes"]) == (None, None, ["people:read"])
    assert plain["prefix"] != created["prefix"] and plain["key"] != created["key"]

    # Reads: the same item, never the key.
    assert api.ok("GET", f"/api/keys/{created['id']}") == shown(created)
    assert api.ok("GET", f"/api/keys/{plain['id']}") == shown(plain)
    assert api.ok("GET", "/api/keys", params={"limit": 2}) == [shown(plain), shown(created)]
    for path in (f"/api/keys/{created['id']}", "/api/keys", "/api/keys?status=all"):
        body = api.get(path).text
        assert '"key"' not in body
        assert secret_part(created["key"]) not in body and secret_part(plain["key"]) not in body

    # What a resource server learns about each.
    answer = gate(created["key"])
    assert set(answer) == INTROSPECTION_FIELDS | {"exp"}
    assert answer == {
        "active": True,
        "scope": "people:read leads:create",
        "token_type": "api_key",
        "iat": created["created_at"] // 1000,
        "sub": str(created["id"]),
        "aud": server.url,
        "iss": server.url,
        "jti": created["prefix"],
        "org_id": orgs.org_id,
        "team_id": team_id,
        "key_prefix": created["prefix"],
        "name": "Zapier",
        "exp": expires_at // 1000,
    }
    answer = gate(plain["key"])
    assert set(answer) == INTROSPECTION_FIELDS  # no exp for a key that never expires
    assert (answer["team_id"], answer["scope"], answer["sub"]) == (
        None,
        "people:read",
        str(plain["id"]),
    )


# -- validation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """What the validation cases refer to: org A's admin, a team of A, a team of B, and a key
    of A that every failed request must leave alone."""

    api: Api
    team_id: int
    other_team_id: int
    key: Item

    def state(self) -> tuple[list[int], Item, list[int]]:
        """What a failed request must leave as it was: the keys, the key's item, the log."""
        return (
            ids(self.api, status="all"),
            self.api.ok("GET", f"/api/keys/{self.key['id']}"),
            [e["id"] for e in events(self.api)],
        )


@pytest.fixture(scope="module")
def world(orgs: Orgs, api: Api) -> World:
    return World(api, new_team(api), orgs.other_team_id, new_key(api, name="Target"))


Body = Callable[[World], Any]
VALID: Item = {"name": "Valid", "scopes": ["people:read"]}


def create_case(case_id: str, body: Body, field: str) -> Any:
    return pytest.param("POST", "/api/keys", body, field, id=f"create-{case_id}")


def patch_case(case_id: str, body: Body, field: str) -> Any:
    return pytest.param("PATCH", "/api/keys/{key}", body, field, id=f"patch-{case_id}")


def rotate_case(case_id: str, body: Body, field: str) -> Any:
    return pytest.param("POST", "/api/keys/{key}/rotate", body, field, id=f"rotate-{case_id}")


def temporary_case(case_id: str, body: Body, field: str) -> Any:
    return pytest.param("POST", "/api/keys/temporary", body, field, id=f"temporary-{case_id}")


INVALID = [
    create_case("name-missing", lambda w: {"scopes": ["people:read"]}, "name"),
    create_case("name-empty", lambda w: {**VALID, "name": ""}, "name"),
    create_case("name-whitespace", lambda w: {**VALID, "name": "   "}, "name"),
    create_case("name-101-chars", lambda w: {**VALID, "name": "x" * 101}, "name"),
    create_case("name-not-string", lambda w: {**VALID, "name": 5}, "name"),
    create_case("scopes-missing", lambda w: {"name": "Valid"}, "scopes"),
    create_case("scopes-not-array", lambda w: {**VALID, "scopes": "people:read"}, "scopes"),
    create_case(
        "scopes-unknown", lambda w: {**VALID, "scopes": ["people:read", "nope:read"]}, "scopes"
    ),
    create_case("scopes-empty", lambda w: {**VALID, "scopes": []}, "scopes"),
    create_case("team-of-other-org", lambda w: {**VALID, "team_id": w.other_team_id}, "team_id"),
    create_case("team-nonexistent", lambda w: {**VALID, "team_id": NO_SUCH_ID}, "team_id"),
    create_case("team-as-string", lambda w: {**VALID, "team_id": str(w.team_id)}, "team_id"),
    create_case(
        "expires-in-past", lambda w: {**VALID, "expires_at": now_ms() - 60_000}, "expires_at"
    ),
    create_case(
        "expires-as-string",
        lambda w: {**VALID, "expires_at": str(now_ms() + HOUR_MS)},
        "expires_at",
    ),
    create_case("unknown-field", lambda w: {**VALID, "colour": "red"}, "colour"),
    patch_case("name-null", lambda w: {"name": None}, "name"),
    patch_case("name-whitespace", lambda w: {"name": " "}, "name"),
    patch_case("name-101-chars", lambda w: {"name": "x" * 101}, "name"),
    patch_case("scopes-null", lambda w: {"scopes": None}, "scopes"),
    patch_case("scopes-empty", lambda w: {"scopes": []}, "scopes"),
    patch_case("scopes-unknown", lambda w: {"scopes": ["nope:read"]}, "scopes"),
    patch_case("scopes-not-array", lambda w: {"scopes": "people:read"}, "scopes"),
    patch_case("team-of-other-org", lambda w: {"team_id": w.other_team_id}, "team_id"),
    patch_case("team-as-string", lambda w: {"team_id": str(w.team_id)}, "team_id"),
    patch_case("expires-in-past", lambda w: {"expires_at": now_ms() - 60_000}, "expires_at"),
    patch_case(
        "expires-as-string", lambda w: {"expires_at": str(now_ms() + HOUR_MS)}, "expires_at"
    ),
    patch_case("read-only-field", lambda w: {"prefix": "lk_mine"}, "prefix"),
    rotate_case("grace-negative", lambda w: {"grace_period_seconds": -1}, "grace_period_seconds"),
    rotate_case(
        "grace-over-30-days",
        lambda w: {"grace_period_seconds": 2_592_001},
        "grace_period_seconds",
    ),
    rotate_case(
        "grace-as-string", lambda w: {"grace_period_seconds": "60"}, "grace_period_seconds"
    ),
    rotate_case("unknown-field", lambda w: {"grace": 60}, "grace"),
    temporary_case("scopes-empty", lambda w: {"scopes": []}, "scopes"),
    temporary_case("scopes-unknown", lambda w: {"scopes": ["nope:read"]}, "scopes"),
    temporary_case("scopes-not-array", lambda w: {"scopes": "people:read"}, "scopes"),
    temporary_case("unknown-field", lambda w: {"name": "Mine"}, "name"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), INVALID)
def test_invalid_body_is_422_naming_the_field_and_changes_nothing(
    world: World, method: str, path: str, body: Body, field: str
) -> None:
    before = world.state()
    r = world.api.request(method, path.format(key=world.key["id"]), json=body(world))
    assert_field_error(r, field)
    assert world.state() == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/keys"),
        ("PATCH", "/api/keys/{key}"),
        ("POST", "/api/keys/{key}/rotate"),
        ("POST", "/api/keys/temporary"),
    ],
)
def test_malformed_json_is_400_and_changes_nothing(world: World, method: str, path: str) -> None:
    before = world.state()
    r = world.api.request(
        method,
        path.format(key=world.key["id"]),
        data='{"name": "Half", "scopes": ["people:read"',
        headers={"Content-Type": "application/json"},
    )
    assert_problem(r, 400)
    assert world.state() == before


def test_unknown_status_filter_is_422(api: Api) -> None:
    assert_field_error(api.get("/api/keys", params={"status": "deleted"}), "status")


def test_boundary_values_are_accepted(api: Api) -> None:
    long_name = "x" * 100
    created = new_key(api, name=long_name, team_id=None)
    assert created["name"] == long_name and created["team_id"] is None
    since = now_ms()
    rotated = api.ok(
        "POST", f"/api/keys/{created['id']}/rotate", json={"grace_period_seconds": 2_592_000}
    )
    assert_ms(rotated["previous_secret_expires_at"] - 2_592_000_000, since)


# -- lists ------------------------------------------------------------------------------------


def test_list_is_active_by_default_and_filters_by_status(api: Api) -> None:
    team_id = new_team(api)
    expiring = new_key(api, team_id=team_id, expires_at=now_ms() + 1_500)["id"]
    revoked = new_key(api, team_id=team_id)["id"]
    api.ok("POST", f"/api/keys/{revoked}/revoke")
    active = new_key(api, team_id=team_id)["id"]
    assert wait_until(lambda: api.ok("GET", f"/api/keys/{expiring}")["status"] == "expired")

    assert ids(api, team_id=team_id) == [active]
    assert ids(api, team_id=team_id, status="active") == [active]
    assert ids(api, team_id=team_id, status="revoked") == [revoked]
    assert ids(api, team_id=team_id, status="expired") == [expiring]
    listed = api.ok("GET", "/api/keys", params={"team_id": team_id, "status": "all"})
    assert [(k["id"], k["status"]) for k in listed] == [
        (active, "active"),
        (revoked, "revoked"),
        (expiring, "expired"),
    ]
    assert active in ids(api) and revoked not in ids(api) and expiring not in ids(api)


def test_list_team_filter_shows_only_keys_bound_to_that_team(api: Api) -> None:
    one, two = new_team(api), new_team(api)
    all_teams = new_key(api)["id"]
    in_one = new_key(api, team_id=one)["id"]
    in_two = new_key(api, team_id=two)["id"]
    assert ids(api, team_id=one) == [in_one]
    assert ids(api, team_id=two) == [in_two]
    assert ids(api, limit=3) == [in_two, in_one, all_teams]


def test_list_is_newest_first_and_paginated_with_link_next(api: Api) -> None:
    team_id = new_team(api)
    k = [new_key(api, team_id=team_id, name=f"K{i}")["id"] for i in range(5)]
    api.ok("POST", f"/api/keys/{k[1]}/revoke")
    # The filters hold on every page the Link leads to.
    both = {"team_id": team_id, "status": "all"}
    assert pages(api, {"limit": 2, **both}) == [[k[4], k[3]], [k[2], k[1]], [k[0]]]
    assert pages(api, {"limit": 2, "team_id": team_id}) == [[k[4], k[3]], [k[2], k[0]]]
    assert pages(api, {"limit": 5, **both}) == [k[::-1]]


# -- edit -------------------------------------------------------------------------------------


def test_patch_changes_each_field_alone_and_introspection_sees_it(api: Api, gate: Gate) -> None:
    team_id = new_team(api)
    created = new_key(api, name="Before", scopes=["people:read"])
    path = f"/api/keys/{created['id']}"
    item = shown(created)
    for change in (
        {"name": "After"},
        {"scopes": ["leads:read", "people:write"]},
        {"team_id": team_id},
        {"team_id": None},
        {"expires_at": now_ms() + 2 * 24 * HOUR_MS},
        {"expires_at": None},
    ):
        updated = api.ok("PATCH", path, json=change)
        assert set(updated) == KEY_FIELDS, change
        assert settled(updated) == {**settled(item), **change}
        assert settled(api.ok("GET", path)) == settled(updated)
        answer = gate.assert_active(created["key"], updated)
        assert (answer["name"], answer["scope"], answer["team_id"]) == (
            updated["name"],
            " ".join(updated["scopes"]),
            updated["team_id"],
        )
        expires_at = updated["expires_at"]
        assert answer.get("exp") == (None if expires_at is None else expires_at // 1000)
        assert ("exp" in answer) == (expires_at is not None)
        item = updated


# -- rotate -----------------------------------------------------------------------------------


def assert_rotated(rotated: Item, before: Item) -> None:
    """A new secret under the same id, name, prefix and settings."""
    assert_new_key(rotated)
    same = ("id", "name", "prefix", "scopes", "team_id", "expires_at", "created_at", "status")
    assert {k: rotated[k] for k in same} == {k: before[k] for k in same}
    assert rotated["hint"] != before["hint"] and rotated["key"] != before["key"]


def test_rotate_without_grace_ends_the_old_secret_at_once(api: Api, gate: Gate) -> None:
    created = new_key(api)
    gate.assert_active(created["key"], created)
    rotated = api.ok("POST", f"/api/keys/{created['id']}/rotate", json={"grace_period_seconds": 0})
    assert_rotated(rotated, created)
    assert rotated["previous_secret_expires_at"] is None
    gate.assert_inactive(created["key"])
    gate.assert_active(rotated["key"], rotated)
    assert settled(api.ok("GET", f"/api/keys/{created['id']}")) == settled(rotated)


def test_rotate_with_grace_keeps_both_secrets_until_the_overlap_ends(api: Api, gate: Gate) -> None:
    created = new_key(api)
    path = f"/api/keys/{created['id']}"
    since = now_ms()
    rotated = api.ok("POST", f"{path}/rotate", json={"grace_period_seconds": 2})
    assert_rotated(rotated, created)
    ends = rotated["previous_secret_expires_at"]
    assert_ms(ends - 2_000, since)
    assert api.ok("GET", path)["previous_secret_expires_at"] == ends
    gate.assert_active(created["key"], rotated)
    gate.assert_active(rotated["key"], rotated)

    assert wait_until(lambda: gate.is_inactive(created["key"]))
    gate.assert_inactive(created["key"])
    gate.assert_active(rotated["key"], rotated)
    assert api.ok("GET", path)["previous_secret_expires_at"] is None


def test_rotating_a_revoked_key_is_409(api: Api, gate: Gate) -> None:
    created = new_key(api)
    path = f"/api/keys/{created['id']}"
    revoked = api.ok("POST", f"{path}/revoke")
    assert_problem(api.post(f"{path}/rotate", json={"grace_period_seconds": 0}), 409)
    assert settled(api.ok("GET", path)) == settled(revoked)  # same hint, still revoked
    gate.assert_inactive(created["key"])


# -- revoke, reactivate, delete ---------------------------------------------------------------


def test_revoke_then_reactivate(api: Api, gate: Gate) -> None:
    created = new_key(api)
    path = f"/api/keys/{created['id']}"
    since = now_ms()
    revoked = api.ok("POST", f"{path}/revoke")
    assert set(revoked) == KEY_FIELDS
    assert revoked["status"] == "revoked"
    assert_ms(revoked["revoked_at"], since)
    gate.assert_inactive(created["key"])
    assert api.ok("GET", path)["status"] == "revoked"

    reactivated = api.ok("POST", f"{path}/reactivate")
    assert set(reactivated) == KEY_FIELDS
    assert (reactivated["status"], reactivated["revoked_at"]) == ("active", None)
    assert settled(reactivated) == settled(created)
    gate.assert_active(created["key"], created)


def test_reactivation_does_not_revive_a_rotated_out_secret(api: Api, gate: Gate) -> None:
    created = new_key(api)
    path = f"/api/keys/{created['id']}"
    rotated = api.ok("POST", f"{path}/rotate", json={"grace_period_seconds": 3600})
    gate.assert_active(created["key"], created)  # within the overlap
    api.ok("POST", f"{path}/revoke")
    reactivated = api.ok("POST", f"{path}/reactivate")
    assert reactivated["status"] == "active"
    assert reactivated["previous_secret_expires_at"] is None
    gate.assert_inactive(created["key"])
    gate.assert_active(rotated["key"], rotated)


def test_delete_is_permanent_and_keeps_the_audit_events(api: Api, gate: Gate) -> None:
    created = new_key(api)
    path = f"/api/keys/{created['id']}"
    assert api.ok("DELETE", path) == {"ok": True}
    assert_problem(api.get(path), 404)
    gate.assert_inactive(created["key"])
    assert created["id"] not in ids(api, status="all")
    assert_problem(api.delete(path), 404)
    for verb in ("created", "deleted"):
        (event,) = key_events(api, created, verb)
        assert (event["target"]["name"], event["target"]["prefix"]) == (
            created["name"],
            created["prefix"],
        )


# -- expiry -----------------------------------------------------------------------------------


def test_key_stops_working_when_it_expires(api: Api, gate: Gate) -> None:
    team_id = new_team(api)
    expires_at = now_ms() + 2_000
    created = new_key(api, team_id=team_id, expires_at=expires_at)
    assert created["status"] == "active"
    assert gate.assert_active(created["key"], created)["exp"] == expires_at // 1000

    assert wait_until(lambda: gate.is_inactive(created["key"]))
    gate.assert_inactive(created["key"])
    item = api.ok("GET", f"/api/keys/{created['id']}")
    assert (item["status"], item["revoked_at"], item["expires_at"]) == ("expired", None, expires_at)
    assert ids(api, team_id=team_id, status="expired") == [created["id"]]
    assert ids(api, team_id=team_id) == []

    # A new secret for an expired key would fail at once: the admin is told what to do.
    problem = assert_problem(
        api.post(f"/api/keys/{created['id']}/rotate", json={"grace_period_seconds": 0}), 409
    )
    assert "expires_at" in problem["detail"]
    assert api.ok("GET", f"/api/keys/{created['id']}")["hint"] == created["hint"]


# -- temporary keys ---------------------------------------------------------------------------


def assert_temporary(temp: Item, since: int) -> None:
    assert_new_key(temp)
    assert (temp["temporary"], temp["name"], temp["status"]) == (True, TEMPORARY_NAME, "active")
    assert abs(temp["expires_at"] - (since + HOUR_MS)) <= 60_000


def test_temporary_key_defaults_to_the_catalogs_read_scopes(api: Api, gate: Gate) -> None:
    reads = [s["name"] for s in api.ok("GET", "/api/scopes") if s["name"].endswith(":read")]
    assert reads
    since = now_ms()
    r = api.post("/api/keys/temporary")  # no body at all
    assert r.status_code == 201, r.text
    temp = r.json()
    assert_temporary(temp, since)
    assert sorted(temp["scopes"]) == sorted(reads)
    assert api.ok("GET", f"/api/keys/{temp['id']}") == shown(temp)
    assert ids(api, limit=1) == [temp["id"]]
    answer = gate.assert_active(temp["key"], temp)
    assert answer["exp"] == temp["expires_at"] // 1000
    assert sorted(answer["scope"].split()) == sorted(reads)


def test_temporary_key_with_chosen_scopes(api: Api, gate: Gate) -> None:
    since = now_ms()
    temp = api.ok(
        "POST", "/api/keys/temporary", 201, json={"scopes": ["people:read", "leads:create"]}
    )
    assert_temporary(temp, since)
    assert temp["scopes"] == ["people:read", "leads:create"]
    assert gate.assert_active(temp["key"], temp)["scope"] == "people:read leads:create"


# -- isolation, roles, plan -------------------------------------------------------------------


def test_another_orgs_key_is_404_everywhere(orgs: Orgs, api: Api, gate: Gate) -> None:
    created = new_key(api)
    for c in one_key_calls(created["id"]):
        assert_problem(call(orgs.other, c), 404)
    for c in one_key_calls(NO_SUCH_ID):
        assert_problem(call(api, c), 404)
    assert ids(orgs.other, status="all") == []
    assert api.ok("GET", f"/api/keys/{created['id']}") == shown(created)
    gate.assert_active(created["key"], created)


def test_developer_manages_keys(orgs: Orgs, gate: Gate) -> None:
    dev = orgs.developer
    created = dev.ok("POST", "/api/keys", 201, json={"name": "Dev", "scopes": ["people:read"]})
    path = f"/api/keys/{created['id']}"
    assert ids(dev, limit=1) == [created["id"]]
    assert dev.ok("GET", path) == shown(created)
    assert dev.ok("PATCH", path, json={"name": "Dev 2"})["name"] == "Dev 2"
    rotated = dev.ok("POST", f"{path}/rotate", json={"grace_period_seconds": 0})
    gate.assert_active(rotated["key"], rotated)
    assert dev.ok("POST", f"{path}/revoke")["status"] == "revoked"
    assert dev.ok("POST", f"{path}/reactivate")["status"] == "active"
    assert dev.ok("POST", "/api/keys/temporary", 201)["temporary"] is True
    assert dev.ok("DELETE", path) == {"ok": True}
    gate.assert_inactive(rotated["key"])


def test_member_role_is_forbidden_on_keys(orgs: Orgs, api: Api, gate: Gate) -> None:
    created = new_key(api)
    before = ids(api, status="all")
    for c in every_key_call(created["id"]):
        assert_problem(call(orgs.member, c), 403)
    assert ids(api, status="all") == before
    assert api.ok("GET", f"/api/keys/{created['id']}") == shown(created)
    gate.assert_active(created["key"], created)


def test_plan_off_is_upgrade_required(orgs: Orgs, gate: Gate) -> None:
    api, plan = orgs.gated, f"/api/orgs/{orgs.gated_org_id}"
    for c in every_key_call(NO_SUCH_ID)[:3]:  # list, create, temporary
        assert_problem(call(api, c), 403, "Upgrade required")
    orgs.platform.ok("PATCH", plan, json={"api_access": True})
    assert ids(api, status="all") == []  # nothing was made while the plan was off

    # The plan switched off again: every call on an existing key, and the key itself.
    created = new_key(api)
    orgs.platform.ok("PATCH", plan, json={"api_access": False})
    for c in every_key_call(created["id"]):
        assert_problem(call(api, c), 403, "Upgrade required")
    gate.assert_inactive(created["key"])
    orgs.platform.ok("PATCH", plan, json={"api_access": True})
    assert api.ok("GET", f"/api/keys/{created['id']}") == shown(created)
    gate.assert_active(created["key"], created)


# -- teams ------------------------------------------------------------------------------------


def test_team_cannot_be_deleted_while_a_key_uses_it(api: Api) -> None:
    team_id = new_team(api)
    created = new_key(api, team_id=team_id)
    assert_problem(api.delete(f"/api/teams/{team_id}"), 409)
    assert team_id in [t["id"] for t in api.ok("GET", "/api/teams", params={"limit": 200})]
    assert api.ok("GET", f"/api/keys/{created['id']}")["team_id"] == team_id

    api.ok("PATCH", f"/api/keys/{created['id']}", json={"team_id": None})
    assert api.ok("DELETE", f"/api/teams/{team_id}") == {"ok": True}
    assert team_id not in [t["id"] for t in api.ok("GET", "/api/teams", params={"limit": 200})]


# -- audit ------------------------------------------------------------------------------------


def test_lifecycle_is_audited_without_any_secret(orgs: Orgs, api: Api) -> None:
    created = new_key(api, name=unique("Audited"), scopes=["people:read"])
    path = f"/api/keys/{created['id']}"
    api.ok("PATCH", path, json={"scopes": ["people:read", "leads:read"]})
    rotated = api.ok("POST", f"{path}/rotate", json={"grace_period_seconds": 60})
    api.ok("POST", f"{path}/revoke")
    api.ok("POST", f"{path}/reactivate")
    assert api.ok("DELETE", path) == {"ok": True}

    target = {
        "type": "api_key",
        "id": created["id"],
        "name": created["name"],
        "prefix": created["prefix"],
    }
    mine = [e for e in events(api, target=created["prefix"]) if e["target"] == target]
    assert [e["action"] for e in mine] == [f"api_key.{verb}" for verb in reversed(LIFECYCLE)]
    for event in mine:
        actor = event["actor"]
        assert (actor["type"], actor["id"], actor["email"]) == (
            "user",
            orgs.me["id"],
            orgs.me["email"],
        )
    # Ids are the numbers the key and the member have elsewhere, and filter as such.
    by_ids = events(api, target=created["id"], actor=orgs.me["id"])
    assert [e for e in by_ids if e["target"] == target] == mine
    for verb in LIFECYCLE:
        assert [e["target"] for e in key_events(api, created, verb)] == [target]

    log = api.get("/api/audit-events", params={"limit": 200}).text
    for key in (created["key"], rotated["key"]):
        assert key not in log and secret_part(key) not in log
