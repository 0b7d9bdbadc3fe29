"""Fixtures of the live tests: a real server per database backend, and record factories
that go through the management API as an admin would."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live.server import ADMIN_EMAIL, ADMIN_PASSWORD, Api, LiveServer

BACKENDS = ["sqlite", "postgresql"]

pytestmark = pytest.mark.live


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The shared server of a backend. Client-auth limits are raised here so that the many
    deliberate failures of the error-path tests do not lock each other out; the limits
    themselves are tested on servers of their own (``server_factory``)."""
    live = LiveServer(
        backend,
        tmp_path_factory.mktemp(f"server-{backend}"),
        extra_env={"LATCHKEY_CLIENT_AUTH_LIMIT": "10000 per minute"},
    )
    live.prepare()
    live.start()
    yield live
    live.close()


@pytest.fixture
def server_factory(backend: str, tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start a server of this backend with extra settings; stopped after the test."""
    started: list[LiveServer] = []

    def start(**env: str) -> LiveServer:
        live = LiveServer(backend, tmp_path / f"server-{len(started)}", extra_env=env)
        live.prepare()
        live.start()
        started.append(live)
        return live

    yield start
    for live in started:
        live.close()


@pytest.fixture
def admin(server: LiveServer) -> Api:
    """The bootstrapped admin of org "Default" (also a platform admin)."""
    return Api.login(server.url, ADMIN_EMAIL, ADMIN_PASSWORD)


@pytest.fixture
def admin_org_id(admin: Api) -> int:
    """Org "Default"'s id: not necessarily 1, since workers racing to bootstrap may each draw
    an id from PostgreSQL's sequence before one of them rolls back."""
    return int(admin.ok("GET", "/api/users")[0]["org_id"])


def unique(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def make_org(admin: Api, server: LiveServer) -> Callable[..., tuple[dict[str, Any], Api]]:
    """A new org with an admin of its own; returns the org and that admin, signed in."""

    def make(api_access: bool = True, role: str = "admin") -> tuple[dict[str, Any], Api]:
        org = admin.ok(
            "POST", "/api/orgs", 201, json={"name": unique("Org"), "api_access": api_access}
        )
        email = f"{unique('member')}@example.com"
        admin.ok(
            "POST",
            "/api/users",
            201,
            json={
                "email": email,
                "name": "Org Admin",
                "role": role,
                "org_id": org["id"],
                "password": ADMIN_PASSWORD,
            },
        )
        return org, Api.login(server.url, email, ADMIN_PASSWORD)

    return make


@pytest.fixture
def make_app(admin: Api) -> Callable[..., dict[str, Any]]:
    """Register an OAuth app (defaults overridable); the response includes the secret."""

    def make(api: Api | None = None, **fields: Any) -> dict[str, Any]:
        body = {
            "name": unique("App"),
            "scopes": ["people:read", "leads:read"],
            "team_id": None,
            **fields,
        }
        return (api or admin).ok("POST", "/api/apps", 201, json=body)  # type: ignore[no-any-return]

    return make


@pytest.fixture
def make_key(admin: Api) -> Callable[..., dict[str, Any]]:
    """Create an API key (defaults overridable); the response includes ``key``, once."""

    def make(api: Api | None = None, **fields: Any) -> dict[str, Any]:
        body = {"name": unique("Key"), "scopes": ["people:read", "leads:read"], **fields}
        return (api or admin).ok("POST", "/api/keys", 201, json=body)  # type: ignore[no-any-return]

    return make


@pytest.fixture
def import_user_keys(server: LiveServer, tmp_path: Path) -> Callable[..., Any]:
    """Run ``flask --app app import-user-keys`` on the server's database with these rows
    (dicts of email, name, token, created_at, scopes); returns the finished process."""

    def run(org_id: int, rows: list[dict[str, str]], header: str | None = None) -> Any:
        columns = header or "email,name,token,created_at,scopes"
        lines = [columns] + [",".join(row[c] for c in columns.split(",")) for row in rows]
        path = tmp_path / f"{unique('user-keys')}.csv"
        path.write_text("\n".join(lines) + "\n")
        return server.flask("import-user-keys", "--org", str(org_id), str(path))

    return run


@pytest.fixture
def make_team(admin: Api) -> Callable[..., dict[str, Any]]:
    def make(api: Api | None = None, name: str | None = None) -> dict[str, Any]:
        return (api or admin).ok("POST", "/api/teams", 201, json={"name": name or unique("Team")})  # type: ignore[no-any-return]

    return make


@pytest.fixture
def resource_server(admin: Api) -> dict[str, Any]:
    """A registered resource server, allowed to introspect."""
    return admin.ok(  # type: ignore[no-any-return]
        "POST",
        "/api/resource-servers",
        201,
        json={"name": unique("API"), "audience": f"https://{unique('api')}.example.com"},
    )
