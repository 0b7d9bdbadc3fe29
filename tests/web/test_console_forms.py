"""The console's forms over HTTP (no JavaScript): CSRF, messages next to their fields, the
login lock, roles, plan gating, the one-time secret, and the security headers. (The lock of
one network address, shared by a live server's workers, is tests/live/test_throttles.py.)"""

from __future__ import annotations

import base64
import re
import time
import uuid
import zlib
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests import transport
from tests.api import ADMIN_EMAIL, ADMIN_PASSWORD, Api
from tests.console import Console, attrs_of, text_of
from tests.fixtures import Member, new_org, sign_up
from tests.web.server import WebServer

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def signed_in(server: WebServer, member: Member) -> Console:
    """``member``'s console, signed in through the login form."""
    console = Console(server.url)
    assert console.login(member.email, member.password).status_code == 302
    return console


# -- CSRF -----------------------------------------------------------------------------------


def test_login_without_csrf_token_is_rejected_and_signs_nobody_in(
    server: WebServer, make_member: Callable[..., Member]
) -> None:
    someone = make_member()
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
    server: WebServer, make_member: Callable[..., Member]
) -> None:
    someone = make_member()
    console = signed_in(server, someone)
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
    server: WebServer, make_member: Callable[..., Member]
) -> None:
    someone = make_member()
    console = signed_in(server, someone)
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

    expiries = {
        "2001-01-01": "Choose today or a later day.",
        # "Expires at the end of a day" without the day is no key that never expires.
        "": "Choose the last day the key works.",
        # A day that does not exist (a browser without a date picker sends what was typed).
        "2026-02-30": "Not a valid date value.",
    }
    for expires_on, message in expiries.items():
        r = console.post(
            "/settings/api-access/keys",
            {
                "name": "Export",
                "team_id": "",
                "scopes": "people:read",
                "expiry": "date",
                "expires_on": expires_on,
            },
            form_page="/settings/api-access/keys/new",
        )
        assert r.status_code == 422, expires_on
        assert text_of(r.text, "expires_on-error") == message
    assert someone.api.ok("GET", "/api/keys?status=all") == []


@pytest.mark.parametrize("name", ["ctl\x00x", "two\nlines", "tab\there"], ids=["nul", "lf", "tab"])
def test_a_name_with_a_control_character_is_refused_next_to_its_field(
    server: WebServer, make_member: Callable[..., Member], name: str
) -> None:
    """The services' rule for names, shown where the console shows every field's message."""
    someone = make_member()
    console = signed_in(server, someone)
    forms: list[tuple[str, str, dict[str, str]]] = [
        ("/settings/teams", "/settings/teams", {}),
        (
            "/settings/api-access/keys",
            "/settings/api-access/keys/new",
            {"team_id": "", "scopes": "people:read", "expiry": "never"},
        ),
        (
            "/settings/api-access/apps",
            "/settings/api-access/apps/new",
            {
                "team_id": "",
                "scopes": "people:read",
                "token_ttl_seconds": "900",
                "token_format": "opaque",
                "jwt_signing_alg": "RS256",
            },
        ),
        (
            "/settings/members",
            "/settings/members/new",
            {"email": f"{uuid.uuid4().hex[:8]}@example.com", "role": "member"},
        ),
    ]
    for path, form_page, fields in forms:
        r = console.post(path, {**fields, "name": name}, form_page=form_page)
        assert r.status_code == 422, path
        assert "control characters" in text_of(r.text, "name-error"), path
    assert someone.api.ok("GET", "/api/teams") == []
    assert someone.api.ok("GET", "/api/keys?status=all") == []
    assert someone.api.ok("GET", "/api/apps") == []
    assert [u["email"] for u in someone.api.ok("GET", "/api/users")] == [someone.email]


def test_emails_and_filters_with_a_control_character_are_no_ones(
    server: WebServer, make_member: Callable[..., Member]
) -> None:
    """Typed where anyone may type: refused next to the field, or simply matching no one;
    never sent to a database that cannot compare text with NUL."""
    someone = make_member()
    console = signed_in(server, someone)
    r = console.post(
        "/settings/members",
        {"email": "nul\x00@example.com", "name": "Nul", "role": "member"},
        form_page="/settings/members/new",
    )
    assert r.status_code == 422
    assert "control characters" in text_of(r.text, "email-error")

    r = console.get("/settings/api-access/audit", params={"actor": someone.email + "\x00"})
    assert r.status_code == 200 and someone.email not in text_of(r.text, "main")

    r = Console(server.url).login(someone.email.replace("@", "\x00@"), ADMIN_PASSWORD)
    assert r.status_code == 422
    assert "Wrong email or password." in text_of(r.text, "main")


# -- the login lock -------------------------------------------------------------------------


def test_login_locks_after_repeated_failures(
    server: WebServer, make_member: Callable[..., Member]
) -> None:
    someone = make_member()  # an account of its own: the lock is the account's
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
    r = transport.post(
        f"{server.url}/api/sessions",
        json={"email": someone.email, "password": ADMIN_PASSWORD},
        timeout=10,
    )
    assert r.status_code == 429


@pytest.mark.parametrize(
    "next_",
    [
        "//evil.example/phish",
        "/%09/evil.example/phish",  # a tab: browsers drop it, and read //evil.example
        "/%0a/evil.example/phish",  # a newline (it was a 500: no header may hold one)
        "/%0d%0aSet-Cookie:%20x=y",
        "/%5C/evil.example/phish",  # /\/evil.example
        "/%5Cevil.example",
        "https://evil.example/settings/api-access",
        "https:/evil.example",
        "javascript:alert(1)",
        "/%20/evil.example",
        "/no-such-page",
        "/api/keys",  # this site, but not a console page
        "/settings/api-access/keys/1/reactivate",  # a console route, but POST only
    ],
)
def test_next_never_leads_off_site(
    server: WebServer, make_member: Callable[..., Member], next_: str
) -> None:
    someone = make_member()
    console = Console(server.url)
    r = console.post(
        f"/login?next={next_}",
        {"email": someone.email, "password": ADMIN_PASSWORD},
        form_page="/login",
    )
    assert r.status_code == 302
    assert r.headers["Location"] == "/settings/api-access"


def test_next_leads_to_the_console_page_asked_for(
    server: WebServer, make_member: Callable[..., Member]
) -> None:
    someone = make_member()
    console = Console(server.url)
    login_page = console.get("/settings/api-access/apps?status=revoked").headers["Location"]
    assert login_page.startswith("/login?next=")
    r = console.post(
        login_page, {"email": someone.email, "password": ADMIN_PASSWORD}, form_page="/login"
    )
    assert r.status_code == 302
    assert r.headers["Location"] == "/settings/api-access/apps?status=revoked"


# -- roles and plans ------------------------------------------------------------------------


def import_keys(
    import_user_keys: Any,
    org_id: int,
    rows: list[tuple[str, str]],
    team_ids: list[int | None] | None = None,
) -> None:
    """Import a user key per (owner email, key name), as an operator would."""
    teams = team_ids or [None] * len(rows)
    result = import_user_keys(
        org_id,
        [
            {
                "email": email,
                "name": name,
                "token": f"legacy-{uuid.uuid4().hex}",
                "created_at": "2020-01-01T00:00:00Z",
                "scopes": "people:read",
                "team_id": str(team or ""),
            }
            for (email, name), team in zip(rows, teams, strict=True)
        ],
        header="email,name,token,created_at,scopes,team_id",
    )
    assert result.returncode == 0, result.stderr


#: Every console page a member opens by GET, and what each role gets: roles by pages.
#: 302s are the redirects to where the role starts (or the docs, with no test token to show).
PAGES: dict[str, tuple[int, int, int]] = {
    #                                    admin developer member
    "/": (302, 302, 302),
    "/login": (302, 302, 302),
    "/logout": (200, 200, 200),
    "/settings/api-access": (302, 302, 302),
    "/settings/api-access/keys": (200, 200, 403),
    "/settings/api-access/keys/new": (200, 200, 403),
    "/settings/api-access/apps": (200, 200, 403),
    "/settings/api-access/apps/new": (200, 200, 403),
    "/settings/api-access/user-keys": (200, 200, 200),
    "/settings/api-access/audit": (200, 200, 403),
    "/settings/teams": (200, 200, 403),
    "/settings/members": (200, 403, 403),
    "/settings/members/new": (200, 403, 403),
    "/docs": (200, 200, 200),
    "/docs/test-token": (302, 302, 403),
}
ROLES = ("admin", "developer", "member")


@pytest.fixture(scope="module", params=ROLES)
def role_console(request: pytest.FixtureRequest, server: WebServer) -> tuple[str, Console]:
    """A signed-in console of each role, in an org of its own (one per role and backend:
    the matrix only reads)."""
    role = str(request.param)
    platform = Api.login(server.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    return role, signed_in(server, sign_up(platform, role, new_org(platform)["id"]))


@pytest.mark.parametrize("path", list(PAGES))
def test_role_and_page_matrix(role_console: tuple[str, Console], path: str) -> None:
    role, console = role_console
    expected = PAGES[path][ROLES.index(role)]
    r = console.get(path)
    assert r.status_code == expected, f"{role} {path}: {r.status_code}"
    if expected == 403:
        assert "Your role does not allow this page" in text_of(r.text, "main")


def test_another_orgs_records_are_not_found(
    server: WebServer, make_member: Callable[..., Member], import_user_keys: Any
) -> None:
    owner = make_member()
    key = owner.api.ok("POST", "/api/keys", 201, json={"name": "Theirs", "scopes": ["people:read"]})
    app = owner.api.ok("POST", "/api/apps", 201, json={"name": "Theirs", "scopes": ["people:read"]})
    team = owner.api.ok("POST", "/api/teams", 201, json={"name": "Theirs"})
    import_keys(import_user_keys, owner.org_id, [(owner.email, "Theirs")])
    (user_key,) = owner.api.ok("GET", "/api/user-keys")
    keys = f"/settings/api-access/keys/{key['id']}"
    apps = f"/settings/api-access/apps/{app['id']}"
    user_keys = f"/settings/api-access/user-keys/{user_key['id']}"
    pages = [
        *(f"{keys}/{action}" for action in ("edit", "rotate", "revoke", "delete")),
        *(f"{apps}/{action}" for action in ("edit", "rotate", "revoke", "delete")),
        f"{user_keys}/revoke",
        f"{user_keys}/replace",
        f"/settings/teams/{team['id']}/delete",
    ]
    console = signed_in(server, make_member())  # an admin of another org
    for path in pages:
        assert console.get(path).status_code == 404, path
    form = {"name": "Mine now", "scopes": "people:read", "grace_period_seconds": "0"}
    for path in [*pages, f"{keys}/reactivate", f"{apps}/reactivate"]:
        r = console.post(path, form, form_page="/settings/api-access/keys")
        assert r.status_code == 404, path
        assert "in this organization" in text_of(r.text, "main")
    # Nothing of theirs changed.
    assert owner.api.ok("GET", f"/api/keys/{key['id']}")["status"] == "active"
    assert owner.api.ok("GET", f"/api/keys/{key['id']}")["name"] == "Theirs"
    assert owner.api.ok("GET", f"/api/apps/{app['id']}")["status"] == "active"
    assert [t["name"] for t in owner.api.ok("GET", "/api/teams")] == ["Theirs"]
    assert [k["status"] for k in owner.api.ok("GET", "/api/user-keys")] == ["active"]
    assert len(owner.api.ok("GET", "/api/keys?status=all")) == 1  # no replacement was made


def test_the_user_keys_tab_filters_by_team(
    server: WebServer, make_member: Callable[..., Member], import_user_keys: Any
) -> None:
    admin = make_member()
    team = admin.api.ok("POST", "/api/teams", 201, json={"name": "Support"})
    import_keys(
        import_user_keys,
        admin.org_id,
        [(admin.email, "Bound"), (admin.email, "Everywhere")],
        team_ids=[team["id"], None],
    )
    console = signed_in(server, admin)
    every = console.get("/settings/api-access/user-keys")
    assert re.findall(r"<strong>(\w+)</strong>", every.text) == ["Everywhere", "Bound"]
    assert 'id="filter-team"' in every.text
    bound = console.get(f"/settings/api-access/user-keys?team_id={team['id']}")
    assert re.findall(r"<strong>(\w+)</strong>", bound.text) == ["Bound"]
    assert "Clear filters" in bound.text


def test_a_developer_cannot_see_members(
    server: WebServer, make_member: Callable[..., Member]
) -> None:
    console = signed_in(server, make_member(role="developer"))
    assert console.get("/settings/members").status_code == 403
    r = console.get("/settings/api-access/apps")
    assert r.status_code == 200
    assert 'href="/settings/members"' not in r.text
    assert 'href="/settings/api-access/audit"' in r.text
    assert console.post("/settings/teams", {"name": "Ops"}, "/settings/teams").status_code == 403


def test_a_member_sees_no_apps_and_only_their_own_user_keys(
    server: WebServer, make_member: Callable[..., Member], import_user_keys: Any
) -> None:
    member = make_member(role="member")
    other = f"other-{uuid.uuid4().hex[:8]}@example.com"
    mine, theirs = f"mine-{uuid.uuid4().hex[:6]}", f"theirs-{uuid.uuid4().hex[:6]}"
    import_keys(import_user_keys, member.org_id, [(member.email, mine), (other, theirs)])
    console = signed_in(server, member)
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
    server: WebServer, make_member: Callable[..., Member]
) -> None:
    console = signed_in(server, make_member(api_access=False))
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
    server: WebServer, make_member: Callable[..., Member]
) -> None:
    someone = make_member()
    console = signed_in(server, someone)
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
    token = transport.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(app["client_id"], secret),
        timeout=10,
    )
    assert token.status_code == 200


def test_security_headers_and_cookie_flags(
    server: WebServer, make_member: Callable[..., Member]
) -> None:
    someone = make_member()
    console = Console(server.url)
    for path in ("/login", "/docs"):
        r = console.get(path)
        assert r.headers["Content-Security-Policy"] == CSP
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "no-referrer"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Cache-Control"] == "no-store"
        assert "Strict-Transport-Security" not in r.headers  # the issuer is plain HTTP
        assert "<script>" not in r.text and " style=" not in r.text
    # Password managers fill the member's own account here.
    login = console.get("/login").text
    assert attrs_of(login, "email")["autocomplete"] == "username"
    assert attrs_of(login, "password")["autocomplete"] == "current-password"
    r = console.login(someone.email, ADMIN_PASSWORD)
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # the test issuer is plain http://
    # ... and never the admin's own account into someone else's.
    new_member = console.get("/settings/members/new").text
    assert attrs_of(new_member, "email")["autocomplete"] == "off"
    assert attrs_of(new_member, "password")["autocomplete"] == "new-password"


def test_strict_transport_security_behind_an_https_issuer(
    server_factory: Callable[..., WebServer],
) -> None:
    live = server_factory(LATCHKEY_ISSUER="https://latchkey.example.com")
    for path in ("/login", "/docs", "/openapi.json", "/.well-known/oauth-authorization-server"):
        r = transport.get(live.url + path, timeout=10, allow_redirects=False)
        assert r.headers["Strict-Transport-Security"] == "max-age=31536000", path


def test_a_copied_cookie_is_refused_after_sign_out(
    server: WebServer, make_member: Callable[..., Member]
) -> None:
    someone = make_member()
    console = signed_in(server, someone)
    copied = console.http.cookies["session"]

    def replay(path: str) -> requests.Response:
        """The copied cookie, sent by someone else who holds it."""
        return transport.get(
            server.url + path,
            headers={"Cookie": f"session={copied}"},
            timeout=10,
            allow_redirects=False,
        )

    assert replay("/settings/api-access/keys").status_code == 200
    assert replay("/api/keys").status_code == 200
    r = console.post("/logout", {}, form_page="/settings/api-access/keys")
    assert r.status_code == 302 and r.headers["Location"] == "/login"

    page = replay("/settings/api-access/keys")
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/login")
    api = replay("/api/keys")
    assert api.status_code == 401
    assert api.headers["Content-Type"] == "application/problem+json"
    # The sign-in and the sign-out are both in the audit log, with the console named.
    events = someone.api.ok("GET", "/api/audit-events", params={"actor": someone.email})
    console_sessions = [e["action"] for e in events if e["details"].get("via") == "console"]
    assert console_sessions == ["session.deleted", "session.created"]


def test_page_links_carry_only_the_lists_own_filters(
    server: WebServer, make_member: Callable[..., Member]
) -> None:
    someone = make_member()
    for name in ("First", "Second"):
        someone.api.ok("POST", "/api/apps", 201, json={"name": name, "scopes": ["people:read"]})
    console = signed_in(server, someone)
    # Names that url_for would take as instructions (an endpoint, a method, an absolute URL,
    # an anchor) rather than query parameters: they were a 500, or reflected.
    noise = "endpoint=x&_method=POST&_external=1&_scheme=https&_anchor=frag&values=1"
    r = console.get(f"/settings/api-access/apps?limit=1&status=active&cursor=99999&{noise}")
    assert r.status_code == 200
    links = re.findall(r'<nav class="pager".*?</nav>', r.text, re.S)
    assert links, "no pager"
    hrefs = re.findall(r'href="([^"]+)"', links[0])
    assert (
        sorted(h.replace("&amp;", "&").split("?")[0] for h in hrefs)
        == ["/settings/api-access/apps"] * 2
    )
    for href in hrefs:
        query = href.split("?", 1)[1].replace("&amp;", "&") if "?" in href else ""
        names = {pair.split("=")[0] for pair in query.split("&") if pair}
        assert names <= {"limit", "status", "cursor"}, href
        assert "limit=1" in query and "status=active" in query, href

    audit = console.get(f"/settings/api-access/audit?cursor=99999&action=app.created&{noise}")
    assert audit.status_code == 200
    first = re.search(r'href="([^"]+)">First page', audit.text)
    assert first and first.group(1) == "/settings/api-access/audit?action=app.created"


def test_the_docs_are_public_and_offer_a_test_token_to_managers(
    server: WebServer, make_member: Callable[..., Member]
) -> None:
    anonymous = transport.get(server.url + "/docs", timeout=10)
    assert anonymous.status_code == 200
    assert 'apiDescriptionUrl="/openapi.json"' in anonymous.text
    assert "Generate test token" not in anonymous.text
    assert 'href="/login"' in anonymous.text  # signed out: the bar offers to sign in
    developer = signed_in(server, make_member(role="developer")).get("/docs")
    assert developer.status_code == 200 and "Generate test token" in developer.text
    member = signed_in(server, make_member(role="member")).get("/docs")
    assert member.status_code == 200 and "Generate test token" not in member.text
    unpaid = signed_in(server, make_member(api_access=False)).get("/docs")
    assert unpaid.status_code == 200 and "Generate test token" not in unpaid.text


def test_long_lists_are_paginated_and_filtered(
    server: WebServer, make_member: Callable[..., Member]
) -> None:
    someone = make_member()
    for name in ("First", "Second", "Third"):
        someone.api.ok(
            "POST",
            "/api/apps",
            201,
            json={"name": name, "scopes": ["people:read"], "team_id": None},
        )
    (third,) = [a for a in someone.api.ok("GET", "/api/apps") if a["name"] == "Third"]
    someone.api.ok("POST", f"/api/apps/{third['id']}/revoke")
    console = signed_in(server, someone)

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


def test_the_console_cookie_stays_off_api_responses(server: WebServer) -> None:
    r = transport.get(f"{server.url}/api/scopes", timeout=10)
    assert r.status_code == 401
    assert "Set-Cookie" not in r.headers


def test_edit_forms_and_a_rotation_with_overlap(
    server: WebServer, make_member: Callable[..., Member], resource_server: dict[str, Any]
) -> None:
    someone = make_member(role="developer")
    created = someone.api.ok(
        "POST",
        "/api/keys",
        201,
        json={"name": "Export", "scopes": ["people:read"], "team_id": None},
    )
    key_id, old_key = created["id"], created["key"]
    console = signed_in(server, someone)
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
    # Choosing a day but leaving it empty neither saves nor clears an expiry.
    expiring = someone.api.ok(
        "PATCH", f"/api/keys/{key_id}", json={"expires_at": int(time.time() + 86400 * 30) * 1000}
    )
    r = console.post(
        edit,
        {"name": "Nightly export", "team_id": "", "scopes": ["people:read"], "expiry": "date"},
    )
    assert r.status_code == 422
    assert text_of(r.text, "expires_on-error") == "Choose the last day the key works."
    after = someone.api.ok("GET", f"/api/keys/{key_id}")
    assert after["expires_at"] == expiring["expires_at"]
    assert after["scopes"] == ["people:read", "leads:read"]
    someone.api.ok("PATCH", f"/api/keys/{key_id}", json={"expires_at": None})

    r = console.post(f"/settings/api-access/keys/{key_id}/rotate", {"grace_period_seconds": "3600"})
    assert r.status_code == 302
    listing = console.get("/settings/api-access/keys")
    new_key = attrs_of(listing.text, "one-time-secret")["value"]
    assert new_key and new_key != old_key
    assert "Old key works until" in console.get("/settings/api-access/keys").text
    for secret in (old_key, new_key):
        r = transport.post(
            f"{server.url}/oauth/introspect",
            data={"token": secret},
            auth=(resource_server["client_id"], resource_server["client_secret"]),
            timeout=10,
        )
        assert r.json()["active"] is True  # the overlap keeps the old key working


def test_an_apps_jwt_signing_alg_is_chosen_and_edited_in_the_console(
    server: WebServer, make_member: Callable[..., Member]
) -> None:
    someone = make_member()
    console = signed_in(server, someone)
    fields = {
        "name": "Warehouse",
        "team_id": "",
        "scopes": ["people:read"],
        "token_ttl_seconds": "900",
        "token_format": "jwt",
    }
    r = console.post(
        "/settings/api-access/apps",
        {**fields, "jwt_signing_alg": "ES256"},
        form_page="/settings/api-access/apps/new",
    )
    assert r.status_code == 302
    (app,) = someone.api.ok("GET", "/api/apps")
    assert someone.api.ok("GET", f"/api/apps/{app['id']}")["jwt_signing_alg"] == "ES256"
    assert "JWT (ES256) · 15 min" in console.get("/settings/api-access/apps").text

    edit = f"/settings/api-access/apps/{app['id']}/edit"
    page = console.get(edit)
    assert page.status_code == 200
    assert "checked" in attrs_of(page.text, "jwt_signing_alg-1")  # ES256
    assert "checked" not in attrs_of(page.text, "jwt_signing_alg-0")
    r = console.post(edit, {**fields, "jwt_signing_alg": "RS256"})
    assert r.status_code == 302
    assert someone.api.ok("GET", f"/api/apps/{app['id']}")["jwt_signing_alg"] == "RS256"
    assert "JWT (RS256) · 15 min" in console.get("/settings/api-access/apps").text

    # An algorithm the form does not offer is refused next to its field; nothing changes.
    r = console.post(edit, {**fields, "name": "Renamed", "jwt_signing_alg": "HS256"})
    assert r.status_code == 422
    assert text_of(r.text, "jwt_signing_alg-error") == "Not a valid choice."
    after = someone.api.ok("GET", f"/api/apps/{app['id']}")
    assert after["jwt_signing_alg"] == "RS256" and after["name"] == "Warehouse"
    r = console.post(
        "/settings/api-access/apps",
        {**fields, "name": "Other", "jwt_signing_alg": "HS256"},
        form_page="/settings/api-access/apps/new",
    )
    assert r.status_code == 422
    assert text_of(r.text, "jwt_signing_alg-error") == "Not a valid choice."
    assert [a["name"] for a in someone.api.ok("GET", "/api/apps")] == ["Warehouse"]


def test_the_api_accepts_the_console_session_with_its_csrf_token(
    server: WebServer, make_member: Callable[..., Member]
) -> None:
    someone = make_member()
    console = signed_in(server, someone)
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
