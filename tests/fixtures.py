"""Record factories shared by every tier that speaks to a server (a pytest plugin, loaded by
``tests/conftest.py``): the bootstrapped admin, members signed in with a role, orgs, apps, API
keys, teams, resource servers, imported user keys. Each goes through the management API (or
the operator's CLI) as a person would, so it works the same against a live server
(``tests/live``, ``tests/browser``) and an app in this process (``tests/web``).

A tier's conftest provides ``server``: an object with the base ``url`` and ``flask(*args)``,
which runs ``flask --app app <args>`` on that server's database and returns a
``subprocess.CompletedProcess``.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.api import ADMIN_EMAIL, ADMIN_PASSWORD, Api


def unique(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Member:
    """A member with a password, signed in to the management API as ``api``."""

    email: str
    password: str
    org_id: int
    user: dict[str, Any]  # as ``POST /api/users`` answered
    api: Api


def sign_up(creator: Api, role: str, org_id: int | None = None, name: str | None = None) -> Member:
    """A new member of ``role`` with a password, added by ``creator`` to ``org_id`` (or to the
    creator's own org), and signed in. Each costs two argon2 hashes: module fixtures that
    need many members make them once."""
    email = f"{unique(role)}@example.com"
    body = {
        "email": email,
        "name": name or role.title(),
        "role": role,
        "password": ADMIN_PASSWORD,
        **({} if org_id is None else {"org_id": org_id}),
    }
    user = creator.ok("POST", "/api/users", 201, json=body)
    member = Api.login(creator.base, email, ADMIN_PASSWORD)
    return Member(email, ADMIN_PASSWORD, int(user["org_id"]), user, member)


def new_org(platform: Api, api_access: bool = True) -> dict[str, Any]:
    org: dict[str, Any] = platform.ok(
        "POST", "/api/orgs", 201, json={"name": unique("Org"), "api_access": api_access}
    )
    return org


@pytest.fixture
def admin(server: Any) -> Api:
    """The bootstrapped admin of org "Default" (also a platform admin)."""
    return Api.login(server.url, ADMIN_EMAIL, ADMIN_PASSWORD)


@pytest.fixture
def admin_org_id(admin: Api) -> int:
    """Org "Default"'s id: not necessarily 1, since workers racing to bootstrap may each draw
    an id from PostgreSQL's sequence before one of them rolls back."""
    return int(admin.ok("GET", "/api/users")[0]["org_id"])


@pytest.fixture
def make_member(admin: Api) -> Callable[..., Member]:
    """A member of ``role`` with a password, signed in: in a new org (its plan on or off),
    or in ``org_id``."""

    def make(role: str = "admin", api_access: bool = True, org_id: int | None = None) -> Member:
        if org_id is None:
            org_id = int(new_org(admin, api_access)["id"])
        return sign_up(admin, role, org_id)

    return make


@pytest.fixture
def make_org(admin: Api) -> Callable[..., tuple[dict[str, Any], Api]]:
    """A new org with a member of its own (its admin, by default); returns the org and that
    member, signed in."""

    def make(api_access: bool = True, role: str = "admin") -> tuple[dict[str, Any], Api]:
        org = new_org(admin, api_access)
        return org, sign_up(admin, role, org["id"]).api

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


def import_rows(
    server: Any, workdir: Path, org_id: int, rows: list[dict[str, str]], header: str | None = None
) -> Any:
    """Run ``flask --app app import-user-keys`` on ``server``'s database with these rows
    (dicts of email, name, token, created_at, scopes; ``header`` names the columns); returns
    the finished process."""
    columns = header or "email,name,token,created_at,scopes"
    lines = [columns] + [",".join(row[c] for c in columns.split(",")) for row in rows]
    path = workdir / f"{unique('user-keys')}.csv"
    path.write_text("\n".join(lines) + "\n")
    return server.flask("import-user-keys", "--org", str(org_id), str(path))


@pytest.fixture
def import_user_keys(server: Any, tmp_path: Path) -> Callable[..., Any]:
    """:func:`import_rows` on the tier's ``server``: ``import_user_keys(org_id, rows)``."""
    return functools.partial(import_rows, server, tmp_path)
