"""The console's forms over plain HTTP: CSRF, messages next to their fields, the login lock,
roles, plan gating, the one-time secret, and the security headers."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.live.server import ADMIN_PASSWORD, ROOT, Api, LiveServer

pytestmark = pytest.mark.live

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


class _ById(HTMLParser):
    """The text inside the element with a given id, and the attributes of every element."""

    def __init__(self, wanted: str) -> None:
        super().__init__()
        self.wanted = wanted
        self.depth = 0
        self.text: list[str] = []
        self.attrs: dict[str, dict[str, str | None]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.attrs[str(found["id"])] = found
        if self.depth:
            self.depth += 1
        elif found.get("id") == self.wanted:
            self.depth = 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.text.append(data)


def text_of(html: str, element_id: str) -> str:
    parser = _ById(element_id)
    parser.feed(html)
    assert element_id in parser.attrs, f"no element #{element_id}"
    return " ".join("".join(parser.text).split())


def attrs_of(html: str, element_id: str) -> dict[str, str | None]:
    parser = _ById(element_id)
    parser.feed(html)
    return parser.attrs[element_id]


class Console:
    """A browser without JavaScript: a cookie jar, and forms posted with their CSRF token."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.get(self.base + path, timeout=10, allow_redirects=False, **kwargs)

    def csrf_token(self, path: str) -> str:
        r = self.http.get(self.base + path, timeout=10)
        match = re.search(r'name="csrf_token"[^>]* value="([^"]+)"', r.text)
        assert match, f"no CSRF token on {path}: {r.status_code}"
        return match.group(1)

    def post(
        self, path: str, data: dict[str, Any], form_page: str | None = None
    ) -> requests.Response:
        """POST like the form on ``form_page`` (default: ``path``) would."""
        data = {"csrf_token": self.csrf_token(form_page or path), **data}
        return self.http.post(self.base + path, data=data, timeout=10, allow_redirects=False)

    def login(self, email: str, password: str) -> requests.Response:
        return self.post("/login", {"email": email, "password": password})


@dataclass(frozen=True)
class Person:
    email: str
    org_id: int
    api: Api

    def console(self, server: LiveServer) -> Console:
        console = Console(server.url)
        assert console.login(self.email, ADMIN_PASSWORD).status_code == 302
        return console


@pytest.fixture
def person(admin: Api, server: LiveServer) -> Callable[..., Person]:
    """A member with a password, in a new org (or ``org_id``); the API signed in as them."""

    def make(role: str = "admin", api_access: bool = True, org_id: int | None = None) -> Person:
        if org_id is None:
            org = admin.ok(
                "POST",
                "/api/orgs",
                201,
                json={"name": f"Org-{uuid.uuid4().hex[:8]}", "api_access": api_access},
            )
            org_id = int(org["id"])
        email = f"{role}-{uuid.uuid4().hex[:10]}@example.com"
        admin.ok(
            "POST",
            "/api/users",
            201,
            json={
                "email": email,
                "name": role.title(),
                "role": role,
                "org_id": org_id,
                "password": ADMIN_PASSWORD,
            },
        )
        return Person(email, org_id, Api.login(server.url, email, ADMIN_PASSWORD))

    return make


# -- CSRF -----------------------------------------------------------------------------------


def test_login_without_csrf_token_is_rejected_and_signs_nobody_in(
    server: LiveServer, person: Callable[..., Person]
) -> None:
    someone = person()
    console = Console(server.url)
    console.get("/login")  # a session cookie exists, but the form's token is missing
    r = console.http.post(
        server.url + "/login",
        data={"email": someone.email, "password": ADMIN_PASSWORD},
        timeout=10,
        allow_redirects=False,
    )
    assert r.status_code == 400
    assert "This form has expired" in r.text
    assert console.get("/settings/api-access").headers["Location"].startswith("/login")


def test_a_form_posted_without_its_token_changes_nothing(
    server: LiveServer, person: Callable[..., Person]
) -> None:
    someone = person()
    console = someone.console(server)
    r = console.http.post(
        server.url + "/settings/api-access/apps",
        data={"name": "Sneaky", "scopes": "people:read", "token_ttl_seconds": "900"},
        timeout=10,
    )
    assert r.status_code == 400
    assert someone.api.ok("GET", "/api/apps") == []
    r = console.http.post(
        server.url + "/settings/api-access/keys",
        data={"name": "Sneaky", "scopes": "people:read", "csrf_token": "forged"},
        timeout=10,
    )
    assert r.status_code == 400
    assert someone.api.ok("GET", "/api/keys?status=all") == []


# -- validation messages --------------------------------------------------------------------


def test_validation_messages_appear_next_to_their_fields(
    server: LiveServer, person: Callable[..., Person]
) -> None:
    someone = person()
    console = someone.console(server)
    r = console.post(
        "/settings/api-access/apps",
        {"name": "  ", "team_id": "", "token_ttl_seconds": "5", "token_format": "opaque"},
        form_page="/settings/api-access/apps/new",
    )
    assert r.status_code == 422
    assert text_of(r.text, "name-error") == "Give the app a name."
    assert attrs_of(r.text, "name")["aria-invalid"] == "true"
    assert text_of(r.text, "scopes-error") == "Choose at least one permission."
    assert text_of(r.text, "token_ttl_seconds-error").startswith("Between 60")
    assert text_of(r.text, "team_id-error") == ""
    assert someone.api.ok("GET", "/api/apps") == []

    # A rule only the service knows (a unique team name) lands next to its field as well.
    console.post("/settings/teams", {"name": "Support"})
    r = console.post("/settings/teams", {"name": "support"})
    assert r.status_code == 422
    assert "already exists" in text_of(r.text, "name-error")

    r = console.post(
        "/settings/api-access/keys",
        {
            "name": "Export",
            "team_id": "",
            "scopes": "people:read",
            "expiry": "date",
            "expires_on": "2001-01-01",
        },
        form_page="/settings/api-access/keys/new",
    )
    assert r.status_code == 422
    assert text_of(r.text, "expires_on-error") == "Choose today or a later day."
    assert someone.api.ok("GET", "/api/keys?status=all") == []


# -- the login lock -------------------------------------------------------------------------


def test_login_locks_after_repeated_failures(
    server: LiveServer, person: Callable[..., Person]
) -> None:
    someone = person()  # a unique email: Redis counts outlive the test databases
    console = Console(server.url)
    for _ in range(10):
        r = console.login(someone.email, "wrong password")
        assert r.status_code == 422
        assert "Wrong email or password." in text_of(r.text, "main")
    r = console.login(someone.email, ADMIN_PASSWORD)  # the right password, too late
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins for this account" in text_of(r.text, "main")
    assert console.get("/settings/api-access").headers["Location"].startswith("/login")
    # One lock, whichever door: the management API refuses this account too.
    r = requests.post(
        f"{server.url}/api/sessions",
        json={"email": someone.email, "password": ADMIN_PASSWORD},
        timeout=10,
    )
    assert r.status_code == 429


def test_next_never_leads_off_site(server: LiveServer, person: Callable[..., Person]) -> None:
    someone = person()
    console = Console(server.url)
    r = console.post(
        "/login?next=//evil.example/phish",
        {"email": someone.email, "password": ADMIN_PASSWORD},
        form_page="/login",
    )
    assert r.status_code == 302
    assert r.headers["Location"] == "/settings/api-access"


# -- roles and plans ------------------------------------------------------------------------


def test_a_developer_cannot_see_members(server: LiveServer, person: Callable[..., Person]) -> None:
    console = person(role="developer").console(server)
    assert console.get("/settings/members").status_code == 403
    r = console.get("/settings/api-access/apps")
    assert r.status_code == 200
    assert 'href="/settings/members"' not in r.text
    assert 'href="/settings/api-access/audit"' in r.text
    assert console.post("/settings/teams", {"name": "Ops"}, "/settings/teams").status_code == 403


def test_a_member_sees_no_apps_and_only_their_own_user_keys(
    server: LiveServer, person: Callable[..., Person], tmp_path: Path
) -> None:
    member = person(role="member")
    other = f"other-{uuid.uuid4().hex[:8]}@example.com"
    mine, theirs = f"mine-{uuid.uuid4().hex[:6]}", f"theirs-{uuid.uuid4().hex[:6]}"
    csv = tmp_path / "keys.csv"
    csv.write_text(
        "email,name,token,created_at,scopes\n"
        f"{member.email},{mine},legacy-{uuid.uuid4().hex},2020-01-01T00:00:00Z,people:read\n"
        f"{other},{theirs},legacy-{uuid.uuid4().hex},2020-01-01T00:00:00Z,people:read\n"
    )
    command = ["flask", "--app", "app", "import-user-keys", "--org", str(member.org_id), str(csv)]
    subprocess.run(
        [sys.executable, "-m", *command],
        cwd=ROOT,
        env=server.env,
        check=True,
        capture_output=True,
    )
    console = member.console(server)
    landing = console.get("/settings/api-access")
    assert landing.headers["Location"] == "/settings/api-access/user-keys"
    page = console.get("/settings/api-access/user-keys")
    assert page.status_code == 200
    assert mine in page.text and theirs not in page.text
    assert 'href="/settings/api-access/apps"' not in page.text
    assert "/replace" not in page.text  # replacing is for admins and developers
    for path in ("/settings/api-access/apps", "/settings/api-access/keys", "/settings/teams"):
        assert console.get(path).status_code == 403, path


def test_plan_without_api_access_shows_upgrade_required(
    server: LiveServer, person: Callable[..., Person]
) -> None:
    console = person(api_access=False).console(server)
    for path in ("/settings/api-access/apps", "/settings/api-access/keys", "/settings/api-access"):
        r = console.get(path)
        assert r.status_code == 403, path
        assert "Upgrade required" in text_of(r.text, "main")
    assert console.get("/settings/teams").status_code == 200


# -- the one-time secret and the headers -----------------------------------------------------


def _cookie_payload(cookie: str) -> str:
    """Flask's session cookie is signed, not encrypted: what anyone holding it can read."""
    compressed = cookie.startswith(".")
    payload = cookie.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    return (zlib.decompress(raw) if compressed else raw).decode()


def test_the_secret_is_shown_once_and_never_readable_in_the_cookie(
    server: LiveServer, person: Callable[..., Person]
) -> None:
    someone = person()
    console = someone.console(server)
    r = console.post(
        "/settings/api-access/apps",
        {
            "name": "Zapier",
            "team_id": "",
            "scopes": ["people:read"],
            "token_ttl_seconds": "900",
            "token_format": "opaque",
        },
        form_page="/settings/api-access/apps/new",
    )
    assert r.status_code == 302
    cookie = console.http.cookies["session"]
    first = console.get("/settings/api-access/apps")
    secret = attrs_of(first.text, "one-time-secret")["value"]
    assert secret and secret.startswith("lkcs_")
    assert "will not be shown again" in first.text
    assert secret not in _cookie_payload(cookie)
    assert first.headers["Cache-Control"] == "no-store"
    again = console.get("/settings/api-access/apps")
    assert "one-time-secret" not in again.text and secret not in again.text
    # The secret works: it is the app's.
    (app,) = someone.api.ok("GET", "/api/apps")
    token = requests.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(app["client_id"], secret),
        timeout=10,
    )
    assert token.status_code == 200


def test_security_headers_and_cookie_flags(
    server: LiveServer, person: Callable[..., Person]
) -> None:
    someone = person()
    console = Console(server.url)
    for path in ("/login", "/docs"):
        r = console.get(path)
        assert r.headers["Content-Security-Policy"] == CSP
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "no-referrer"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert "<script>" not in r.text and " style=" not in r.text
    r = console.login(someone.email, ADMIN_PASSWORD)
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # the test issuer is plain http://127.0.0.1


def test_long_lists_are_paginated_and_filtered(
    server: LiveServer, person: Callable[..., Person]
) -> None:
    someone = person()
    for name in ("First", "Second", "Third"):
        someone.api.ok(
            "POST",
            "/api/apps",
            201,
            json={"name": name, "scopes": ["people:read"], "team_id": None},
        )
    (third,) = [a for a in someone.api.ok("GET", "/api/apps") if a["name"] == "Third"]
    someone.api.ok("POST", f"/api/apps/{third['id']}/revoke")
    console = someone.console(server)

    first_page = console.get("/settings/api-access/apps?limit=2")
    assert re.findall(r"<strong>(\w+)</strong>", first_page.text) == ["Third", "Second"]
    next_url = re.search(r'href="([^"]+)" rel="next"', first_page.text)
    assert next_url, "no link to the next page"
    second_page = console.get(next_url.group(1).replace("&amp;", "&"))
    assert re.findall(r"<strong>(\w+)</strong>", second_page.text) == ["First"]
    assert 'rel="next"' not in second_page.text and "First page" in second_page.text

    revoked = console.get("/settings/api-access/apps?status=revoked")
    assert re.findall(r"<strong>(\w+)</strong>", revoked.text) == ["Third"]
    team = someone.api.ok("POST", "/api/teams", 201, json={"name": "Empty team"})
    none = console.get(f"/settings/api-access/apps?team_id={team['id']}")
    assert "No apps match these filters" in none.text


def test_the_console_cookie_stays_off_api_responses(server: LiveServer) -> None:
    r = requests.get(f"{server.url}/api/scopes", timeout=10)
    assert r.status_code == 401
    assert "Set-Cookie" not in r.headers


def test_edit_forms_and_a_rotation_with_overlap(
    server: LiveServer, person: Callable[..., Person], resource_server: dict[str, Any]
) -> None:
    someone = person(role="developer")
    created = someone.api.ok(
        "POST",
        "/api/keys",
        201,
        json={"name": "Export", "scopes": ["people:read"], "team_id": None},
    )
    key_id, old_key = created["id"], created["key"]
    console = someone.console(server)
    edit = f"/settings/api-access/keys/{key_id}/edit"
    page = console.get(edit)
    assert page.status_code == 200
    assert attrs_of(page.text, "name")["value"] == "Export"
    assert "checked" in attrs_of(page.text, "scope-people-read")
    r = console.post(
        edit,
        {
            "name": "Nightly export",
            "team_id": "",
            "scopes": ["people:read", "leads:read"],
            "expiry": "keep",
        },
    )
    assert r.status_code == 302
    key = someone.api.ok("GET", f"/api/keys/{key_id}")
    assert key["name"] == "Nightly export"
    assert key["scopes"] == ["people:read", "leads:read"]
    assert key["expires_at"] is None

    r = console.post(f"/settings/api-access/keys/{key_id}/rotate", {"grace_period_seconds": "3600"})
    assert r.status_code == 302
    listing = console.get("/settings/api-access/keys")
    new_key = attrs_of(listing.text, "one-time-secret")["value"]
    assert new_key and new_key != old_key
    assert "Old key works until" in console.get("/settings/api-access/keys").text
    for secret in (old_key, new_key):
        r = requests.post(
            f"{server.url}/oauth/introspect",
            data={"token": secret},
            auth=(resource_server["client_id"], resource_server["client_secret"]),
            timeout=10,
        )
        assert r.json()["active"] is True  # the overlap keeps the old key working


def test_the_api_accepts_the_console_session_with_its_csrf_token(
    server: LiveServer, person: Callable[..., Person]
) -> None:
    someone = person()
    console = someone.console(server)
    listed = console.http.get(server.url + "/api/keys", timeout=10)
    assert listed.status_code == 200 and listed.json() == []
    body = {"name": "From the browser", "scopes": ["people:read"]}
    forged = console.http.post(server.url + "/api/keys", json=body, timeout=10)
    assert forged.status_code == 400
    assert forged.headers["Content-Type"] == "application/problem+json"
    assert someone.api.ok("GET", "/api/keys?status=all") == []
    token = console.csrf_token("/settings/api-access/keys")
    made = console.http.post(
        server.url + "/api/keys", json=body, headers={"X-CSRFToken": token}, timeout=10
    )
    assert made.status_code == 201, made.text
    assert [k["name"] for k in someone.api.ok("GET", "/api/keys")] == ["From the browser"]
