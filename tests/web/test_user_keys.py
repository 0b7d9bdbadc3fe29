"""Legacy user keys: the ``import-user-keys`` CLI (all rows or none), the list, members who
see only their own, revoke, replace with an API key, and the audit."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from tests import transport
from tests.api import ADMIN_EMAIL, ADMIN_PASSWORD, Api
from tests.credentials import legacy_token
from tests.fixtures import sign_up, unique
from tests.oauth_calls import introspect
from tests.web.server import WebServer

INACTIVE = {"active": False}
ACROSS_WORKERS = 10
USER_KEY_FIELDS = {
    "id",
    "name",
    "prefix",
    "hint",
    "owner",
    "scopes",
    "team_id",
    "status",
    "created_at",
    "last_used_at",
    "last_used_ip",
    "usage_count",
    "revoked_at",
    "replaced_by",
}
CREATED_AT = "2022-02-03T04:05:06Z"
CREATED_MS = int(datetime(2022, 2, 3, 4, 5, 6, tzinfo=UTC).timestamp() * 1000)


def new_email(label: str = "legacy") -> str:
    return f"{unique(label)}@example.com"


def row(**fields: str) -> dict[str, str]:
    """A good CSV row; ``fields`` override its columns."""
    return {
        "email": new_email(),
        "name": "Old CRM sync",
        "token": legacy_token(),
        "created_at": CREATED_AT,
        "scopes": "people:read leads:read",
        **fields,
    }


def user_keys(api: Api, **params: Any) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = api.ok("GET", "/api/user-keys", params={"limit": 200, **params})
    return listed


def member_emails(api: Api) -> set[str]:
    return {u["email"] for u in api.ok("GET", "/api/users", params={"limit": 200})}


def imported(import_user_keys: Any, org_id: int, rows: list[dict[str, str]], **kw: Any) -> str:
    """Import ``rows``, which must succeed; the CLI's output."""
    result = import_user_keys(org_id, rows, **kw)
    assert result.returncode == 0, result.stderr
    return str(result.stdout)


def cannot_log_in(server: WebServer, email: str) -> None:
    for password in (ADMIN_PASSWORD, "x", secrets.token_urlsafe(16)):
        r = transport.post(
            f"{server.url}/api/sessions", json={"email": email, "password": password}, timeout=10
        )
        assert r.status_code == 401, r.text
        assert "token" not in r.json()


def assert_problem(r: requests.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    assert r.headers["Content-Type"].startswith("application/problem+json")
    return r.json()  # type: ignore[no-any-return]


# -- import ------------------------------------------------------------------------------------


def test_import_lists_each_key_and_creates_members_who_cannot_log_in(
    server: WebServer, make_org: Any, import_user_keys: Any
) -> None:
    org, api = make_org()
    rows = [
        row(name="Zapier (legacy)", scopes="people:read"),
        row(created_at="2022-02-03 04:05:06", scopes="leads:read people:read"),  # naive = UTC
        row(created_at="2022-02-03T06:05:06+02:00"),
    ]
    rows[2]["email"] = rows[1]["email"]  # two keys of one owner
    out = imported(import_user_keys, org["id"], rows)
    assert f"Imported 3 user key(s) into organization {org['id']}" in out
    assert "0 already imported" in out and "2 new member(s)" in out
    assert rows[0]["email"] in out and rows[1]["email"] in out

    listed = user_keys(api)
    assert len(listed) == 3
    by_hint = {k["hint"]: k for k in listed}
    assert set(by_hint) == {r["token"][-4:] for r in rows}
    members = {u["email"]: u for u in api.ok("GET", "/api/users")}
    for r in rows:
        item = by_hint[r["token"][-4:]]
        assert set(item) == USER_KEY_FIELDS, item
        owner = members[r["email"]]
        assert item["owner"] == {"id": owner["id"], "email": r["email"], "name": owner["name"]}
        assert item["name"] == r["name"]
        assert item["scopes"] == r["scopes"].split()
        assert item["created_at"] == CREATED_MS
        assert item["prefix"].startswith("lkuk_")
        assert (item["status"], item["team_id"], item["revoked_at"]) == ("active", None, None)
        assert (item["usage_count"], item["last_used_at"], item["replaced_by"]) == (0, None, None)
        assert r["token"] not in str(item)
    assert len({k["prefix"] for k in listed}) == 3
    assert [k["id"] for k in listed] == sorted((k["id"] for k in listed), reverse=True)

    for email in (rows[0]["email"], rows[1]["email"]):
        assert (members[email]["role"], members[email]["can_log_in"]) == ("member", False)
        cannot_log_in(server, email)


def test_rerunning_the_same_file_imports_nothing_new(make_org: Any, import_user_keys: Any) -> None:
    org, api = make_org()
    rows = [row(), row()]
    imported(import_user_keys, org["id"], rows)
    before = user_keys(api)
    out = imported(import_user_keys, org["id"], rows)
    assert "Imported 0 user key(s)" in out and "2 already imported" in out
    assert "0 new member(s)" in out
    assert user_keys(api) == before


def test_a_token_imported_for_another_org_is_refused(make_org: Any, import_user_keys: Any) -> None:
    first, _ = make_org()
    second, api = make_org()
    token = legacy_token()
    imported(import_user_keys, first["id"], [row(token=token)])
    result = import_user_keys(second["id"], [row(), row(token=token)])
    assert result.returncode != 0
    assert "line 3: token" in result.stderr
    assert user_keys(api) == []


#: One bad row each, beside a good one: the file imports nothing and names line and column.
BAD_ROWS: list[tuple[str, dict[str, str], str]] = [
    ("short-token", {"token": "t" * 19}, "token"),
    ("non-printable-token", {"token": "pat-\x07" + "a" * 30}, "token"),
    ("api-key-token", {"token": "lk_" + "a" * 40}, "token"),
    ("access-token-token", {"token": "lkat_" + "a" * 40}, "token"),
    ("bad-email", {"email": "not-an-email"}, "email"),
    ("empty-name", {"name": ""}, "name"),
    ("bad-created-at", {"created_at": "yesterday"}, "created_at"),
    ("unknown-scope", {"scopes": "people:read nosuch:scope"}, "scopes"),
    ("other-orgs-member", {"email": ADMIN_EMAIL}, "email"),  # org "Default"'s admin
]
#: More bad rows, checked together in one file (each reported on its own line).
MORE_BAD_ROWS: list[tuple[dict[str, str], str]] = [
    ({"token": "pat-\t" + "a" * 30}, "token"),
    ({"token": "t" * 513}, "token"),
    ({"email": "a b@example.com"}, "email"),
    ({"email": "nul\x00@example.com"}, "email"),
    ({"name": "   "}, "name"),
    ({"name": "n" * 101}, "name"),
    ({"name": "nul\x00name"}, "name"),  # PostgreSQL cannot store it
    ({"name": "tab\tname"}, "name"),
    ({"created_at": "2022-13-01T00:00:00Z"}, "created_at"),
    ({"scopes": ""}, "scopes"),
]


@pytest.mark.parametrize(
    ("bad", "column"), [(b, c) for _, b, c in BAD_ROWS], ids=[i for i, _, _ in BAD_ROWS]
)
def test_one_bad_row_imports_nothing_and_names_line_and_column(
    make_org: Any, import_user_keys: Any, bad: dict[str, str], column: str
) -> None:
    org, api = make_org()
    good = row()
    members_before = member_emails(api)
    result = import_user_keys(org["id"], [good, row(**bad)])
    assert result.returncode != 0, result.stdout
    assert f"line 3: {column}" in result.stderr, result.stderr
    assert "nothing was imported" in result.stderr.lower()
    assert "line 2" not in result.stderr
    assert user_keys(api) == []
    assert member_emails(api) == members_before  # not even the good row's member


def test_duplicate_token_in_the_file_imports_nothing(make_org: Any, import_user_keys: Any) -> None:
    org, api = make_org()
    first = row()
    result = import_user_keys(org["id"], [first, row(), row(token=first["token"])])
    assert result.returncode != 0
    assert "line 4: token" in result.stderr and "line 2" in result.stderr
    assert user_keys(api) == []


def test_every_bad_row_is_reported_at_once(make_org: Any, import_user_keys: Any) -> None:
    org, api = make_org()
    rows = [row()] + [row(**bad) for bad, _ in MORE_BAD_ROWS] + [row()]
    result = import_user_keys(org["id"], rows)
    assert result.returncode != 0
    for line, (_, column) in enumerate(MORE_BAD_ROWS, start=3):
        assert f"line {line}: {column}" in result.stderr, result.stderr
    assert "line 2:" not in result.stderr and f"line {len(rows) + 1}:" not in result.stderr
    assert user_keys(api) == []


def test_unknown_org_imports_nothing(
    make_org: Any, import_user_keys: Any, server: WebServer
) -> None:
    rows = [row()]
    result = import_user_keys(2_000_000_000, rows)
    assert result.returncode != 0
    assert "2000000000" in result.stderr
    # The member was not made somewhere: the same file imports cleanly into a real org.
    org, _ = make_org()
    assert "1 new member(s)" in imported(import_user_keys, org["id"], rows)


def test_header_missing_a_column_is_refused(make_org: Any, import_user_keys: Any) -> None:
    org, api = make_org()
    result = import_user_keys(org["id"], [row()], header="email,name,token,created_at")
    assert result.returncode != 0
    assert "header" in result.stderr and "scopes" in result.stderr, result.stderr
    assert user_keys(api) == []


# -- the API -----------------------------------------------------------------------------------


def own_and_anothers(
    server: WebServer, make_org: Any, import_user_keys: Any, role: str
) -> tuple[Api, Api, tuple[dict[str, str], Any], tuple[dict[str, str], Any]]:
    """A new org's admin, a signed-in member of ``role``, and two imported user keys as the
    admin lists them, each with its CSV row: the member's own, and another member's (whom
    the import creates)."""
    org, admin = make_org()
    member = sign_up(admin, role)
    own_row, other_row = row(email=member.email), row()
    out = imported(import_user_keys, org["id"], [own_row, other_row])
    assert "1 new member(s)" in out
    listed = {k["hint"]: k for k in user_keys(admin)}
    own, other = listed[own_row["token"][-4:]], listed[other_row["token"][-4:]]
    return admin, member.api, (own_row, own), (other_row, other)


def test_members_see_and_revoke_only_their_own_user_keys(
    server: WebServer, make_org: Any, import_user_keys: Any, resource_server: dict[str, Any]
) -> None:
    admin, member, (own_row, own), (other_row, other) = own_and_anothers(
        server, make_org, import_user_keys, "member"
    )
    assert user_keys(member) == [own]
    assert_problem(member.delete(f"/api/user-keys/{other['id']}"), 404)
    assert_problem(member.post(f"/api/user-keys/{other['id']}/replace", json={}), 403)
    assert_problem(member.post(f"/api/user-keys/{own['id']}/replace", json={}), 403)
    assert introspect(server, resource_server, other_row["token"])["active"] is True

    assert member.ok("DELETE", f"/api/user-keys/{own['id']}") == {"ok": True}
    [mine] = user_keys(member)
    assert mine["status"] == "revoked" and mine["revoked_at"] is not None
    assert mine["replaced_by"] is None
    assert introspect(server, resource_server, own_row["token"]) == INACTIVE
    assert {k["id"]: k["status"] for k in user_keys(admin)} == {
        own["id"]: "revoked",
        other["id"]: "active",
    }


def test_developers_see_and_replace_only_their_own_user_keys(
    server: WebServer, make_org: Any, import_user_keys: Any, resource_server: dict[str, Any]
) -> None:
    """A user key is one member's personal token: a developer manages API keys and apps, not
    other members' tokens."""
    _, developer, (_, own), (other_row, other) = own_and_anothers(
        server, make_org, import_user_keys, "developer"
    )
    assert user_keys(developer) == [own]
    assert_problem(developer.delete(f"/api/user-keys/{other['id']}"), 404)
    assert_problem(developer.post(f"/api/user-keys/{other['id']}/replace", json={}), 404)
    assert introspect(server, resource_server, other_row["token"])["active"] is True
    replaced = developer.ok("POST", f"/api/user-keys/{own['id']}/replace", 201, json={})
    assert introspect(server, resource_server, replaced["key"])["active"] is True


def test_user_keys_are_no_longer_created(admin: Api) -> None:
    for body in ({}, {"name": "New", "scopes": ["people:read"]}):
        problem = assert_problem(admin.post("/api/user-keys", json=body), 405)
        assert "/api/keys" in problem["detail"]


def test_delete_revokes_at_once(
    server: WebServer, make_org: Any, import_user_keys: Any, resource_server: dict[str, Any]
) -> None:
    org, api = make_org()
    r = row()
    imported(import_user_keys, org["id"], [r])
    [key] = user_keys(api)
    answer = introspect(server, resource_server, r["token"])
    assert answer["active"] is True and answer["token_type"] == "user_key"

    assert api.ok("DELETE", f"/api/user-keys/{key['id']}") == {"ok": True}
    for _ in range(ACROSS_WORKERS):  # every worker of a live server: test_cache_invalidation
        assert introspect(server, resource_server, r["token"]) == INACTIVE
    [after] = user_keys(api)
    assert after["status"] == "revoked" and after["revoked_at"] >= key["created_at"]
    assert [k["id"] for k in user_keys(api, status="revoked")] == [key["id"]]
    assert user_keys(api, status="active") == []


def test_replace_makes_an_api_key_and_the_user_key_works_until_revoked(
    server: WebServer,
    make_org: Any,
    make_team: Any,
    import_user_keys: Any,
    resource_server: dict[str, Any],
) -> None:
    org, api = make_org()
    team = make_team(api)
    r = {**row(scopes="people:read interviews:read"), "team_id": str(team["id"])}
    imported(import_user_keys, org["id"], [r], header="email,name,token,created_at,scopes,team_id")
    [user_key] = user_keys(api)
    assert user_key["team_id"] == team["id"]

    new = api.ok("POST", f"/api/user-keys/{user_key['id']}/replace", 201, json={})
    assert new["key"].startswith(new["prefix"] + "_") and new["prefix"].startswith("lk_")
    assert new["scopes"] == ["people:read", "interviews:read"]
    assert new["team_id"] == team["id"] and new["status"] == "active"
    shown = api.ok("GET", f"/api/keys/{new['id']}")
    assert shown == {k: v for k, v in new.items() if k != "key"}

    [user_key] = user_keys(api)
    assert user_key["replaced_by"] == new["id"] and user_key["status"] == "active"
    for _ in range(ACROSS_WORKERS // 2):
        assert introspect(server, resource_server, r["token"])["active"] is True
    answer = introspect(server, resource_server, new["key"])
    assert answer["active"] is True and answer["token_type"] == "api_key"
    assert answer["sub"] == str(new["id"]) and answer["team_id"] == team["id"]
    assert sorted(answer["scope"].split()) == ["interviews:read", "people:read"]

    named = api.ok("POST", f"/api/user-keys/{user_key['id']}/replace", 201, json={"name": "CRM"})
    assert named["name"] == "CRM" and named["id"] != new["id"]

    api.ok("DELETE", f"/api/user-keys/{user_key['id']}")
    assert introspect(server, resource_server, r["token"]) == INACTIVE
    assert introspect(server, resource_server, new["key"])["active"] is True


def test_another_orgs_user_keys_are_404(
    server: WebServer,
    admin: Api,
    make_org: Any,
    import_user_keys: Any,
    resource_server: dict[str, Any],
) -> None:
    org, owner_admin = make_org()
    r = row()
    imported(import_user_keys, org["id"], [r])
    [key] = user_keys(owner_admin)
    _, stranger = make_org()
    for api in (stranger, admin):  # admin: org "Default"'s admin, platform admin too
        assert key["id"] not in {k["id"] for k in user_keys(api)}
        assert_problem(api.delete(f"/api/user-keys/{key['id']}"), 404)
        assert_problem(api.post(f"/api/user-keys/{key['id']}/replace", json={}), 404)
    assert user_keys(owner_admin) == [key]
    assert introspect(server, resource_server, r["token"])["active"] is True


def test_user_key_audit_events_hold_no_token(make_org: Any, import_user_keys: Any) -> None:
    org, api = make_org()
    r = row()
    imported(import_user_keys, org["id"], [r])
    [key] = user_keys(api)
    new = api.ok("POST", f"/api/user-keys/{key['id']}/replace", 201, json={})
    api.ok("DELETE", f"/api/user-keys/{key['id']}")

    events = api.ok("GET", "/api/audit-events", params={"target": key["prefix"]})
    assert [e["action"] for e in events] == [
        "user_key.revoked",
        "user_key.replaced",
        "user_key.imported",
    ]
    for event in events:
        assert event["target"]["type"] == "user_key"
        assert event["target"]["id"] == key["id"]
        assert event["target"]["prefix"] == key["prefix"]
    assert events[0]["actor"]["type"] == "user" and events[0]["actor"]["email"]
    everything = api.get("/api/audit-events", params={"limit": 200}).text
    assert r["token"] not in everything
    assert new["key"] not in everything and new["key"].rsplit("_", 1)[1] not in everything
