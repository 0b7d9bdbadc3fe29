"""Bad input on every management endpoint that takes a body: a 422 problem naming the field
(400 for JSON that cannot be read), and nothing written — no record, no audit event."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.api import ADMIN_EMAIL, ADMIN_PASSWORD, Api
from tests.web.server import WebServer

LONG = "x" * 101
OTHER_TEAM = "<other org's team id>"
OWN_TEAM_NAME = "<own team's name>"
RS_AUDIENCE = "<registered audience>"


@dataclass(frozen=True)
class Ctx:
    admin: Api
    other: Api
    app_id: int
    key_id: int
    org_id: int
    other_org_id: int
    other_team_id: int
    team_name: str
    audience: str

    def fill(self, value: Any) -> Any:
        """The body with its placeholders replaced by this server's records."""
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        return (
            {
                OTHER_TEAM: self.other_team_id,
                OWN_TEAM_NAME: self.team_name,
                RS_AUDIENCE: self.audience,
            }.get(value, value)
            if isinstance(value, str)
            else value
        )

    def path(self, template: str) -> str:
        return template.format(app=self.app_id, key=self.key_id, org=self.org_id)


@pytest.fixture(scope="module")
def ctx(server: WebServer) -> Ctx:
    """One set of records per backend: an app, an API key, a team, a resource server, and
    another org with a team of its own."""
    admin = Api.login(server.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    tag = uuid.uuid4().hex[:8]
    app = admin.ok(
        "POST", "/api/apps", 201, json={"name": f"Valid-{tag}", "scopes": ["people:read"]}
    )
    key = admin.ok(
        "POST", "/api/keys", 201, json={"name": f"Valid-{tag}", "scopes": ["people:read"]}
    )
    team = admin.ok("POST", "/api/teams", 201, json={"name": f"Team-{tag}"})
    rs = admin.ok(
        "POST",
        "/api/resource-servers",
        201,
        json={"name": f"RS-{tag}", "audience": f"https://{tag}.example.com"},
    )
    org = admin.ok("POST", "/api/orgs", 201, json={"name": f"Other-{tag}"})
    email = f"other-{tag}@example.com"
    admin.ok(
        "POST",
        "/api/users",
        201,
        json={
            "email": email,
            "name": "Other",
            "role": "admin",
            "org_id": org["id"],
            "password": ADMIN_PASSWORD,
        },
    )
    other = Api.login(server.url, email, ADMIN_PASSWORD)
    other_team = other.ok("POST", "/api/teams", 201, json={"name": f"Theirs-{tag}"})
    return Ctx(
        admin=admin,
        other=other,
        app_id=app["id"],
        key_id=key["id"],
        org_id=org["id"],
        other_org_id=org["id"],
        other_team_id=other_team["id"],
        team_name=team["name"],
        audience=rs["audience"],
    )


# What a request to each endpoint could have written, as the API shows it: the lists that
# would gain a record, the records that would change, and the audit logs of both orgs.
WATCH: dict[tuple[str, str], tuple[str, ...]] = {
    ("POST", "/api/sessions"): (),
    ("POST", "/api/orgs"): ("/api/orgs",),
    ("PATCH", "/api/orgs/{org}"): ("/api/orgs/{org}",),
    ("POST", "/api/users"): ("/api/users", "/api/users?org_id={org}"),
    ("POST", "/api/teams"): ("/api/teams",),
    ("POST", "/api/apps"): ("/api/apps",),
    ("PATCH", "/api/apps/{app}"): ("/api/apps/{app}",),
    ("POST", "/api/apps/{app}/rotate-secret"): ("/api/apps/{app}",),
    ("POST", "/api/keys"): ("/api/keys",),
    ("PATCH", "/api/keys/{key}"): ("/api/keys/{key}",),
    ("POST", "/api/resource-servers"): ("/api/resource-servers",),
}


def snapshot(ctx: Ctx, method: str, path: str) -> dict[str, Any]:
    """The newest item of each watched list (or the watched record), and of both audit logs
    (a platform admin's log also holds the deployment's own events)."""
    state: dict[str, Any] = {}
    for watched in WATCH[(method, path)]:
        got = ctx.admin.ok("GET", ctx.path(watched), params={"limit": 1})
        state[watched] = [item["id"] for item in got] if isinstance(got, list) else got
    state["audit"] = [e["id"] for e in ctx.admin.ok("GET", "/api/audit-events?limit=1")]
    state["other org's audit"] = [e["id"] for e in ctx.other.ok("GET", "/api/audit-events?limit=1")]
    return state


def assert_problem(r: requests.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].split(";")[0] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    for member in ("type", "title", "detail"):
        assert isinstance(body[member], str) and body[member], body
    if field is not None:
        assert [e["field"] for e in body["errors"]] == [field], body
        assert all(isinstance(e["message"], str) and e["message"] for e in body["errors"])
        assert field in body["detail"]
    return body


SESSION = {"email": ADMIN_EMAIL, "password": "not the password"}
APP = {"name": "Bad app", "scopes": ["people:read"]}
USER = {"email": "new-member@example.com", "name": "New", "role": "member"}
RS = {"name": "Bad RS", "audience": "https://bad.example.com"}
KEY = {"name": "Bad key", "scopes": ["people:read"]}
# Names with control characters (PostgreSQL cannot store NUL in text at all).
NUL, TAB, NEWLINE, DEL = "ctl\x00x", "ctl\tx", "two\nlines", "ctl\x7fx"

# (method, path, body, the field the error must name)
CASES: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", "/api/sessions", {"email": ADMIN_EMAIL}, "password"),
    ("POST", "/api/sessions", {**SESSION, "email": ""}, "email"),
    ("POST", "/api/sessions", {**SESSION, "password": 123}, "password"),
    ("POST", "/api/sessions", {**SESSION, "remember_me": True}, "remember_me"),
    ("POST", "/api/orgs", {}, "name"),
    ("POST", "/api/orgs", {"name": ""}, "name"),
    ("POST", "/api/orgs", {"name": "   "}, "name"),
    ("POST", "/api/orgs", {"name": LONG}, "name"),
    ("POST", "/api/orgs", {"name": "Org", "api_access": "yes"}, "api_access"),
    ("POST", "/api/orgs", {"name": "Org", "plan": "pro"}, "plan"),
    ("POST", "/api/orgs", {"name": NUL}, "name"),
    ("PATCH", "/api/orgs/{org}", {"name": ""}, "name"),
    ("PATCH", "/api/orgs/{org}", {"name": LONG}, "name"),
    ("PATCH", "/api/orgs/{org}", {"api_access": "yes"}, "api_access"),
    ("PATCH", "/api/orgs/{org}", {"api_access": None}, "api_access"),
    ("PATCH", "/api/orgs/{org}", {"plan": "pro"}, "plan"),
    ("PATCH", "/api/orgs/{org}", {"name": NEWLINE}, "name"),
    ("POST", "/api/users", {"name": "New", "role": "member"}, "email"),
    ("POST", "/api/users", {**USER, "email": "not-an-email"}, "email"),
    ("POST", "/api/users", {**USER, "email": ADMIN_EMAIL}, "email"),
    ("POST", "/api/users", {**USER, "email": ADMIN_EMAIL.upper()}, "email"),
    ("POST", "/api/users", {**USER, "name": ""}, "name"),
    ("POST", "/api/users", {**USER, "name": LONG}, "name"),
    ("POST", "/api/users", {**USER, "name": NUL}, "name"),
    ("POST", "/api/users", {**USER, "email": "nul\x00@example.com"}, "email"),
    ("POST", "/api/users", {**USER, "email": "bell\x07@example.com"}, "email"),
    ("POST", "/api/users", {**USER, "role": "owner"}, "role"),
    ("POST", "/api/users", {**USER, "org_id": "1"}, "org_id"),
    ("POST", "/api/users", {**USER, "org_id": 999_999}, "org_id"),
    ("POST", "/api/users", {**USER, "password": "short"}, "password"),
    ("POST", "/api/users", {**USER, "is_platform_admin": True}, "is_platform_admin"),
    ("POST", "/api/teams", {}, "name"),
    ("POST", "/api/teams", {"name": ""}, "name"),
    ("POST", "/api/teams", {"name": LONG}, "name"),
    ("POST", "/api/teams", {"name": 3}, "name"),
    ("POST", "/api/teams", {"name": NUL}, "name"),
    ("POST", "/api/teams", {"name": TAB}, "name"),
    ("POST", "/api/teams", {"name": OWN_TEAM_NAME}, "name"),
    ("POST", "/api/teams", {"name": "T", "color": "red"}, "color"),
    ("POST", "/api/apps", {"scopes": ["people:read"]}, "name"),
    ("POST", "/api/apps", {"name": "No scopes"}, "scopes"),
    ("POST", "/api/apps", {**APP, "name": ""}, "name"),
    ("POST", "/api/apps", {**APP, "name": LONG}, "name"),
    ("POST", "/api/apps", {**APP, "name": NUL}, "name"),
    ("POST", "/api/apps", {**APP, "scopes": "people:read"}, "scopes"),
    ("POST", "/api/apps", {**APP, "scopes": []}, "scopes"),
    ("POST", "/api/apps", {**APP, "scopes": ["people:read", "people:fly"]}, "scopes"),
    ("POST", "/api/apps", {**APP, "team_id": "3"}, "team_id"),
    ("POST", "/api/apps", {**APP, "team_id": 999_999}, "team_id"),
    ("POST", "/api/apps", {**APP, "team_id": OTHER_TEAM}, "team_id"),
    ("POST", "/api/apps", {**APP, "token_ttl_seconds": 59}, "token_ttl_seconds"),
    ("POST", "/api/apps", {**APP, "token_ttl_seconds": 86_401}, "token_ttl_seconds"),
    ("POST", "/api/apps", {**APP, "token_ttl_seconds": "900"}, "token_ttl_seconds"),
    ("POST", "/api/apps", {**APP, "token_format": "paseto"}, "token_format"),
    ("POST", "/api/apps", {**APP, "jwt_signing_alg": "HS256"}, "jwt_signing_alg"),
    ("POST", "/api/apps", {**APP, "jwt_signing_alg": "none"}, "jwt_signing_alg"),
    ("POST", "/api/apps", {**APP, "api_access": "yes"}, "api_access"),
    ("PATCH", "/api/apps/{app}", {"name": ""}, "name"),
    ("PATCH", "/api/apps/{app}", {"name": LONG}, "name"),
    ("PATCH", "/api/apps/{app}", {"name": None}, "name"),
    ("PATCH", "/api/apps/{app}", {"name": DEL}, "name"),
    ("PATCH", "/api/apps/{app}", {"scopes": "people:read"}, "scopes"),
    ("PATCH", "/api/apps/{app}", {"scopes": ["people:fly"]}, "scopes"),
    ("PATCH", "/api/apps/{app}", {"scopes": []}, "scopes"),
    ("PATCH", "/api/apps/{app}", {"team_id": "3"}, "team_id"),
    ("PATCH", "/api/apps/{app}", {"team_id": 999_999}, "team_id"),
    ("PATCH", "/api/apps/{app}", {"team_id": OTHER_TEAM}, "team_id"),
    ("PATCH", "/api/apps/{app}", {"token_ttl_seconds": 59}, "token_ttl_seconds"),
    ("PATCH", "/api/apps/{app}", {"token_ttl_seconds": 86_401}, "token_ttl_seconds"),
    ("PATCH", "/api/apps/{app}", {"token_format": "paseto"}, "token_format"),
    ("PATCH", "/api/apps/{app}", {"jwt_signing_alg": "RS512"}, "jwt_signing_alg"),
    ("PATCH", "/api/apps/{app}", {"client_id": "lkci_mine"}, "client_id"),
    ("POST", "/api/apps/{app}/rotate-secret", {"grace_period_seconds": -1}, "grace_period_seconds"),
    (
        "POST",
        "/api/apps/{app}/rotate-secret",
        {"grace_period_seconds": 2_592_001},
        "grace_period_seconds",
    ),
    (
        "POST",
        "/api/apps/{app}/rotate-secret",
        {"grace_period_seconds": "60"},
        "grace_period_seconds",
    ),
    ("POST", "/api/apps/{app}/rotate-secret", {"grace": 60}, "grace"),
    ("POST", "/api/resource-servers", {"name": "RS"}, "audience"),
    ("POST", "/api/resource-servers", {"audience": "https://x.example.com"}, "name"),
    ("POST", "/api/resource-servers", {**RS, "name": ""}, "name"),
    ("POST", "/api/resource-servers", {**RS, "name": LONG}, "name"),
    ("POST", "/api/resource-servers", {**RS, "name": NUL}, "name"),
    ("POST", "/api/keys", {**KEY, "name": NUL}, "name"),
    ("POST", "/api/keys", {**KEY, "name": "next\u0085line"}, "name"),
    ("PATCH", "/api/keys/{key}", {"name": NEWLINE}, "name"),
    ("PATCH", "/api/keys/{key}", {"name": TAB}, "name"),
    ("POST", "/api/resource-servers", {**RS, "audience": ""}, "audience"),
    ("POST", "/api/resource-servers", {**RS, "audience": "https://a b.example.com"}, "audience"),
    ("POST", "/api/resource-servers", {**RS, "audience": RS_AUDIENCE}, "audience"),
    ("POST", "/api/resource-servers", {**RS, "audience": "https://a\x00.example.com"}, "audience"),
    ("POST", "/api/resource-servers", {**RS, "scopes": ["people:read"]}, "scopes"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    CASES,
    ids=[f"{m} {p} {f}-{i}" for i, (m, p, _, f) in enumerate(CASES)],
)
def test_invalid_body_is_a_422_naming_the_field_and_writes_nothing(
    ctx: Ctx, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    before = snapshot(ctx, method, path)
    r = ctx.admin.request(method, ctx.path(path), json=ctx.fill(body))
    problem = assert_problem(r, 422, field)
    assert problem["title"] == "Validation failed"
    assert snapshot(ctx, method, path) == before


BODY_ENDPOINTS = [
    ("POST", "/api/sessions"),
    ("POST", "/api/orgs"),
    ("PATCH", "/api/orgs/{org}"),
    ("POST", "/api/users"),
    ("POST", "/api/teams"),
    ("POST", "/api/apps"),
    ("PATCH", "/api/apps/{app}"),
    ("POST", "/api/apps/{app}/rotate-secret"),
    ("POST", "/api/keys"),
    ("PATCH", "/api/keys/{key}"),
    ("POST", "/api/resource-servers"),
]

# A few kilobytes of brackets: deeper than the JSON decoder can recurse.
NESTED = '{"name": "deep", "scopes": ' + "[" * 5000 + "]" * 5000 + "}"


@pytest.mark.parametrize(("method", "path"), BODY_ENDPOINTS)
@pytest.mark.parametrize(
    "raw",
    ['{"name": "unterminated', "name=form-encoded", NESTED],
    ids=["truncated", "form", "nested"],
)
def test_malformed_json_is_a_400_problem_and_writes_nothing(
    ctx: Ctx, method: str, path: str, raw: str
) -> None:
    before = snapshot(ctx, method, path)
    r = ctx.admin.request(
        method, ctx.path(path), data=raw, headers={"Content-Type": "application/json"}
    )
    body = assert_problem(r, 400)
    assert "JSON" in body["detail"]
    assert snapshot(ctx, method, path) == before


@pytest.mark.parametrize(
    "payload", [[APP], "app", 42, None], ids=["array", "string", "number", "null"]
)
def test_a_body_that_is_not_an_object_is_refused(ctx: Ctx, payload: Any) -> None:
    before = snapshot(ctx, "POST", "/api/apps")
    r = ctx.admin.post(
        "/api/apps", data=json.dumps(payload), headers={"Content-Type": "application/json"}
    )
    assert_problem(r, 422, "body")
    assert snapshot(ctx, "POST", "/api/apps") == before


def test_every_field_error_is_reported_at_once(ctx: Ctx) -> None:
    r = ctx.admin.post(
        "/api/apps", json={"name": "", "scopes": "people:read", "token_format": "xml", "extra": 1}
    )
    body = assert_problem(r, 422)
    assert {e["field"] for e in body["errors"]} == {"name", "scopes", "token_format", "extra"}


def test_a_control_character_in_a_name_is_named_and_other_characters_are_kept(ctx: Ctx) -> None:
    r = ctx.admin.post("/api/teams", json={"name": "ctl\u0000x", "color": "red"})
    problem = assert_problem(r, 422)
    messages = {e["field"]: e["message"] for e in problem["errors"]}
    assert set(messages) == {"name", "color"}  # reported with the body's other errors
    assert "control character" in messages["name"] and "U+0000" in messages["name"]

    name = f"Zoë \u2014 東京 ✓ {uuid.uuid4().hex[:6]}"
    assert ctx.admin.ok("POST", "/api/teams", 201, json={"name": f"  {name}\t"})["name"] == name
