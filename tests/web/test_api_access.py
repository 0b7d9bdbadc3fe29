"""Who may call what: authentication, roles, platform admins, org isolation, plan gating,
signing out, and the sign-in lockout."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests import transport
from tests.api import ADMIN_EMAIL, ADMIN_PASSWORD, Api
from tests.fixtures import sign_up
from tests.web.server import WebServer


def assert_problem(r: requests.Response, status: int, title: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].split(";")[0] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    assert all(isinstance(body[k], str) and body[k] for k in ("type", "title", "detail"))
    if title is not None:
        assert body["title"] == title
    return body


@dataclass(frozen=True)
class World:
    """Org "Default" (platform admin's) and a second org with one member per role."""

    url: str
    platform: Api
    admin: Api
    developer: Api
    member: Api
    org_id: int
    app: dict[str, Any]
    team: dict[str, Any]
    theirs_app: dict[str, Any]
    theirs_team: dict[str, Any]


@pytest.fixture(scope="module")
def world(server: WebServer) -> World:
    platform = Api.login(server.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    org = platform.ok("POST", "/api/orgs", 201, json={"name": f"Roles-{uuid.uuid4().hex[:8]}"})
    admin = sign_up(platform, "admin", org["id"]).api
    team = admin.ok("POST", "/api/teams", 201, json={"name": "Ours"})
    app = admin.ok("POST", "/api/apps", 201, json={"name": "Ours", "scopes": ["people:read"]})
    theirs_team = platform.ok(
        "POST", "/api/teams", 201, json={"name": f"Theirs-{uuid.uuid4().hex[:8]}"}
    )
    theirs_app = platform.ok(
        "POST",
        "/api/apps",
        201,
        json={"name": "Theirs", "scopes": ["people:read"], "team_id": theirs_team["id"]},
    )
    return World(
        url=server.url,
        platform=platform,
        admin=admin,
        developer=sign_up(platform, "developer", org["id"]).api,
        member=sign_up(platform, "member", org["id"]).api,
        org_id=org["id"],
        app=app,
        team=team,
        theirs_app=theirs_app,
        theirs_team=theirs_team,
    )


# Every non-public endpoint, with a body that would be valid (so only access decides).
PROTECTED: list[tuple[str, str, dict[str, Any] | None]] = [
    ("DELETE", "/api/sessions/current", None),
    ("GET", "/api/orgs", None),
    ("POST", "/api/orgs", {"name": "Nope"}),
    ("GET", "/api/orgs/{org}", None),
    ("PATCH", "/api/orgs/{org}", {"api_access": False}),
    ("GET", "/api/users", None),
    ("POST", "/api/users", {"email": "nope@example.com", "name": "Nope", "role": "member"}),
    ("GET", "/api/teams", None),
    ("POST", "/api/teams", {"name": "Nope"}),
    ("DELETE", "/api/teams/{team}", None),
    ("GET", "/api/apps", None),
    ("POST", "/api/apps", {"name": "Nope", "scopes": ["people:read"]}),
    ("GET", "/api/apps/{app}", None),
    ("PATCH", "/api/apps/{app}", {"name": "Nope"}),
    ("DELETE", "/api/apps/{app}", None),
    ("POST", "/api/apps/{app}/revoke", None),
    ("POST", "/api/apps/{app}/reactivate", None),
    ("POST", "/api/apps/{app}/rotate-secret", {}),
    ("GET", "/api/resource-servers", None),
    ("POST", "/api/resource-servers", {"name": "Nope", "audience": "https://nope.example.com"}),
    ("GET", "/api/scopes", None),
    ("GET", "/api/audit-events", None),
]


def path_of(world: World, template: str) -> str:
    return template.format(org=world.org_id, app=world.app["id"], team=world.team["id"])


@pytest.mark.parametrize(
    "token",
    [None, "lkst_AAAAAAAAAAAA_" + "A" * 40],
    ids=["no-token", "well-formed-fake"],
)
@pytest.mark.parametrize(
    ("method", "path", "body"), PROTECTED, ids=[f"{m} {p}" for m, p, _ in PROTECTED]
)
def test_without_a_valid_session_token_every_endpoint_is_401(
    world: World, method: str, path: str, body: dict[str, Any] | None, token: str | None
) -> None:
    headers = {}
    if token is not None:
        headers["Authorization"] = token if token.startswith("Basic") else f"Bearer {token}"
    r = transport.request(
        method, world.url + path_of(world, path), json=body, headers=headers, timeout=10
    )
    assert_problem(r, 401, "Unauthorized")
    assert world.app["name"] not in r.text


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer",
        "Bearer not-a-token",
        "Basic YWRtaW46YWRtaW4=",
        "Bearer lkcs_AAAAAAAAAAAA_" + "A" * 40,
    ],
    ids=["empty", "garbage", "basic-scheme", "client-secret-shape"],
)
def test_bad_authorization_headers_are_401(world: World, authorization: str) -> None:
    r = transport.get(f"{world.url}/api/apps", headers={"Authorization": authorization}, timeout=10)
    assert_problem(r, 401, "Unauthorized")


FOR_MANAGERS = [
    e
    for e in PROTECTED
    if e[1].startswith(("/api/apps", "/api/teams", "/api/users", "/api/audit-events"))
]
FOR_ADMINS = [
    ("POST", "/api/teams"),
    ("DELETE", "/api/teams/{team}"),
    ("GET", "/api/users"),
    ("POST", "/api/users"),
]
FOR_PLATFORM = [e for e in PROTECTED if e[1].startswith(("/api/orgs", "/api/resource-servers"))]


@pytest.mark.parametrize(
    ("method", "path", "body"), FOR_MANAGERS, ids=[f"{m} {p}" for m, p, _ in FOR_MANAGERS]
)
def test_member_role_is_403_on_apps_teams_users_and_audit(
    world: World, method: str, path: str, body: dict[str, Any] | None
) -> None:
    r = world.member.request(method, path_of(world, path), json=body)
    assert_problem(r, 403, "Forbidden")
    assert world.app["client_id"] not in r.text


def test_member_role_may_read_the_scope_catalog(world: World) -> None:
    assert len(world.member.ok("GET", "/api/scopes")) == 13


@pytest.mark.parametrize(("method", "path"), FOR_ADMINS)
def test_developer_is_403_on_teams_and_members_management(
    world: World, method: str, path: str
) -> None:
    body = next(b for m, p, b in PROTECTED if (m, p) == (method, path))
    r = world.developer.request(method, path_of(world, path), json=body)
    assert_problem(r, 403, "Forbidden")


def test_developer_manages_apps_and_reads_teams_and_audit(world: World) -> None:
    dev = world.developer
    app = dev.ok(
        "POST",
        "/api/apps",
        201,
        json={"name": "Dev app", "scopes": ["people:read"], "team_id": world.team["id"]},
    )
    assert app["client_secret"]
    assert (
        dev.ok("PATCH", f"/api/apps/{app['id']}", json={"name": "Dev app 2"})["name"] == "Dev app 2"
    )
    assert (
        dev.ok("POST", f"/api/apps/{app['id']}/rotate-secret")["client_secret"]
        != app["client_secret"]
    )
    assert dev.ok("POST", f"/api/apps/{app['id']}/revoke")["status"] == "revoked"
    assert dev.ok("POST", f"/api/apps/{app['id']}/reactivate")["status"] == "active"
    assert app["id"] in [a["id"] for a in dev.ok("GET", "/api/apps")]
    assert world.team["id"] in [t["id"] for t in dev.ok("GET", "/api/teams")]
    assert dev.ok("GET", "/api/audit-events?action=app.created")[0]["target"]["id"] == app["id"]
    assert dev.ok("DELETE", f"/api/apps/{app['id']}") == {"ok": True}


@pytest.mark.parametrize(
    ("method", "path", "body"), FOR_PLATFORM, ids=[f"{m} {p}" for m, p, _ in FOR_PLATFORM]
)
def test_org_admin_who_is_not_platform_admin_is_403_on_orgs_and_resource_servers(
    world: World, method: str, path: str, body: dict[str, Any] | None
) -> None:
    r = world.admin.request(method, path_of(world, path), json=body)
    assert_problem(r, 403, "Forbidden")
    org = world.platform.ok("GET", f"/api/orgs/{world.org_id}")
    assert org["api_access"] is True  # the PATCH did not happen


OTHER_ORG = [
    ("GET", "/api/apps/{app}", None),
    ("PATCH", "/api/apps/{app}", {"name": "Hijacked"}),
    ("DELETE", "/api/apps/{app}", None),
    ("POST", "/api/apps/{app}/revoke", None),
    ("POST", "/api/apps/{app}/reactivate", None),
    ("POST", "/api/apps/{app}/rotate-secret", {"grace_period_seconds": 60}),
    ("DELETE", "/api/teams/{team}", None),
]


@pytest.mark.parametrize(
    ("method", "path", "body"), OTHER_ORG, ids=[f"{m} {p}" for m, p, _ in OTHER_ORG]
)
def test_another_orgs_app_or_team_is_404_and_untouched(
    world: World, method: str, path: str, body: dict[str, Any] | None
) -> None:
    theirs = world.theirs_app
    before = world.platform.ok("GET", f"/api/apps/{theirs['id']}")
    r = world.admin.request(
        method, path.format(app=theirs["id"], team=world.theirs_team["id"]), json=body
    )
    assert_problem(r, 404, "Not found")
    for leaked in (
        theirs["name"],
        theirs["client_id"],
        theirs["prefix"],
        world.theirs_team["name"],
    ):
        assert leaked not in r.text
    assert world.platform.ok("GET", f"/api/apps/{theirs['id']}") == before
    assert world.theirs_team["id"] in [
        t["id"] for t in world.platform.ok("GET", "/api/teams?limit=200")
    ]


def test_other_orgs_records_are_not_listed(world: World) -> None:
    assert [a["id"] for a in world.admin.ok("GET", "/api/apps")] == [world.app["id"]]
    assert [t["id"] for t in world.admin.ok("GET", "/api/teams")] == [world.team["id"]]
    events = world.admin.ok("GET", "/api/audit-events?limit=200")
    assert events and all(
        e["target"]["id"] != world.theirs_app["id"] or e["target"]["type"] != "app" for e in events
    )
    assert_problem(world.admin.get(f"/api/users?org_id={world.org_id + 10_000}"), 403)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/apps/999999"),
        ("GET", "/api/apps/not-a-number"),
        ("GET", "/api/nothing-here"),
        ("PUT", "/api/apps"),
    ],
)
def test_unknown_ids_paths_and_methods_are_problems(world: World, method: str, path: str) -> None:
    r = world.admin.request(method, path)
    assert_problem(r, 405 if method == "PUT" else 404)


def test_every_405_says_which_methods_the_path_allows(world: World) -> None:
    """RFC 9110 §15.5.6: a 405 carries Allow. For every path of the OpenAPI document, each
    method it does not declare answers 405 naming the declared ones (HEAD comes with GET,
    OPTIONS with every path)."""
    doc = transport.get(f"{world.url}/openapi.json", timeout=10).json()
    wrong: dict[str, str | None] = {}
    for template, operations in doc["paths"].items():
        path = re.sub(r"\{\w+\}", "1", template)
        declared = {m.upper() for m in operations}
        expected = declared | {"OPTIONS"} | ({"HEAD"} if "GET" in declared else set())
        for method in sorted({"GET", "POST", "PUT", "PATCH", "DELETE"} - declared):
            r = world.admin.request(method, path)
            assert_problem(r, 405)
            allow = r.headers.get("Allow")
            if allow is None or {m.strip() for m in allow.split(",")} != expected:
                wrong[f"{method} {path}"] = allow
    assert len(doc["paths"]) > 20
    assert wrong == {}


def test_org_without_api_access_gets_upgrade_required_on_apps(world: World) -> None:
    org = world.platform.ok(
        "POST", "/api/orgs", 201, json={"name": "Free plan", "api_access": False}
    )
    admin = sign_up(world.platform, "admin", org["id"]).api
    for method, path, body in [
        ("GET", "/api/apps", None),
        ("POST", "/api/apps", {"name": "Nope", "scopes": ["people:read"]}),
        ("GET", f"/api/apps/{world.app['id']}", None),
    ]:
        assert_problem(admin.request(method, path, json=body), 403, "Upgrade required")
    world.platform.ok("PATCH", f"/api/orgs/{org['id']}", json={"api_access": True})
    assert admin.ok("GET", "/api/apps") == []


@pytest.mark.parametrize("role", ["admin", "developer"])
def test_plan_off_gates_the_audit_log_as_the_credentials_but_not_teams_or_members(
    world: World, role: str
) -> None:
    """As in the console: the Audit log tab is behind the plan, Teams and Members are not."""
    org = world.platform.ok("POST", "/api/orgs", 201, json={"name": f"Plan-{uuid.uuid4().hex[:8]}"})
    admin = sign_up(world.platform, "admin", org["id"]).api
    caller = admin if role == "admin" else sign_up(world.platform, role, org["id"]).api
    admin.ok("POST", "/api/teams", 201, json={"name": "Kept"})
    assert caller.ok("GET", "/api/audit-events")

    world.platform.ok("PATCH", f"/api/orgs/{org['id']}", json={"api_access": False})
    for path in ("/api/audit-events", "/api/audit-events?action=team.created", "/api/keys"):
        assert_problem(caller.get(path), 403, "Upgrade required")
    assert [t["name"] for t in caller.ok("GET", "/api/teams")] == ["Kept"]
    assert len(admin.ok("GET", "/api/users")) == 1 + (role != "admin")

    world.platform.ok("PATCH", f"/api/orgs/{org['id']}", json={"api_access": True})
    assert [e["action"] for e in caller.ok("GET", "/api/audit-events?action=team.created")] == [
        "team.created"
    ]


def test_sign_out_ends_the_session_token(world: World) -> None:
    api = Api.login(world.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    other = Api.login(world.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert api.ok("DELETE", "/api/sessions/current") == {"ok": True}
    assert_problem(api.get("/api/apps"), 401)
    assert_problem(api.delete("/api/sessions/current"), 401)
    assert isinstance(other.ok("GET", "/api/apps"), list)  # only that session ended


def test_wrong_password_or_unknown_email_is_401_alike(world: World) -> None:
    email = f"member-{uuid.uuid4().hex[:8]}@example.com"
    world.platform.ok(
        "POST",
        "/api/users",
        201,
        json={
            "email": email,
            "name": "M",
            "role": "member",
            "org_id": world.org_id,
            "password": ADMIN_PASSWORD,
        },
    )

    def sign_in(email: str, password: str) -> requests.Response:
        return transport.post(
            f"{world.url}/api/sessions", json={"email": email, "password": password}, timeout=10
        )

    wrong = sign_in(email, "wrong password")
    unknown = sign_in(f"nobody-{uuid.uuid4().hex[:6]}@example.com", "wrong password")
    assert assert_problem(wrong, 401)["detail"] == assert_problem(unknown, 401)["detail"]
    # An email no one can have (PostgreSQL cannot even compare with NUL) is no one's either.
    nul = sign_in(email.replace("@", "\x00@"), ADMIN_PASSWORD)
    assert assert_problem(nul, 401)["detail"] == assert_problem(wrong, 401)["detail"]
    assert "token" not in wrong.json()
    assert sign_in(email.upper(), ADMIN_PASSWORD).status_code == 201  # one failure locks nothing


def test_failed_sign_ins_lock_the_account_with_retry_after(server_factory: Any) -> None:
    web = server_factory(LATCHKEY_LOGIN_LIMIT="3 per 15 minutes")
    admin = Api.login(web.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    email = f"locked-{uuid.uuid4().hex[:8]}@example.com"
    admin.ok(
        "POST",
        "/api/users",
        201,
        json={"email": email, "name": "L", "role": "member", "password": ADMIN_PASSWORD},
    )

    def sign_in(password: str) -> requests.Response:
        return transport.post(
            f"{web.url}/api/sessions", json={"email": email, "password": password}, timeout=10
        )

    for _ in range(3):
        assert_problem(sign_in("wrong password"), 401)
    locked = sign_in(ADMIN_PASSWORD)
    assert_problem(locked, 429)
    assert 0 < int(locked.headers["Retry-After"]) <= 900
    assert "token" not in locked.json()
    assert_problem(sign_in(ADMIN_PASSWORD), 429)
    # Another account is not locked, and the failures are in the audit log.
    Api.login(web.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    failed = admin.ok("GET", "/api/audit-events?action=session.failed")
    assert [e["target"]["name"] for e in failed] == [email] * 3
    assert all("wrong password" not in str(e) for e in failed)
