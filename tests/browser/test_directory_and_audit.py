"""Teams, Members, the Audit log and the Docs page in a real browser."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot, sign_in
from tests.fixtures import Member, unique
from tests.live.server import LiveServer

pytestmark = pytest.mark.browser


def test_teams_members_and_the_audit_log(page: Page, make_member: Callable[..., Member]) -> None:
    admin = make_member()
    sign_in(page, admin)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Teams").click()
    expect(page.get_by_role("heading", name="No teams yet")).to_be_visible()
    page.get_by_label("Team name").fill("Support")
    page.get_by_role("button", name="Create team").click()
    expect(page.get_by_role("status")).to_contain_text("Created team “Support”")
    page.get_by_label("Team name").fill("support")
    page.get_by_role("button", name="Create team").click()
    expect(page.locator("#name-error")).to_contain_text("already exists")

    team_id = int(page.get_by_role("row").filter(has_text="Support").locator("code").inner_text())
    admin.api.ok(
        "POST",
        "/api/apps",
        201,
        json={"name": "Helpdesk sync", "scopes": ["people:read"], "team_id": team_id},
    )
    page.reload()
    team_row = page.get_by_role("row").filter(has_text="Support")
    expect(team_row).to_contain_text("1 credential")
    screenshot(page, "teams", shows=team_row)
    team_row.get_by_role("link", name=re.compile("^Delete")).click()
    dialog = page.get_by_role("dialog", name="Delete team “Support”?")
    # Refused before the confirmation, which is not even offered.
    expect(dialog.get_by_role("button", name="Delete team")).to_have_count(0)
    expect(dialog.get_by_role("alert")).to_contain_text("is used by 1 credential")
    expect(dialog.get_by_role("alert")).to_contain_text("Helpdesk sync")
    screenshot(page, "teams-delete-blocked", shows=dialog, dialog=True)
    dialog.get_by_role("link", name="Cancel").click()

    page.get_by_role("link", name="Members").click()
    page.get_by_role("link", name="Add a member").click()
    dialog = page.get_by_role("dialog", name="Add a member")
    email = f"{unique('dev')}@example.com"
    dialog.get_by_label("Email").fill(email)
    dialog.get_by_label("Name").fill("Devi Developer")
    dialog.get_by_label("Role").select_option("developer")
    dialog.get_by_label("Password (optional)").fill("short")
    dialog.get_by_role("button", name="Add member").click()
    expect(page.locator("#password-error")).to_have_text("At least 12 characters.")
    dialog.get_by_label("Password (optional)").fill("a long enough password")
    dialog.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("status")).to_contain_text(f"Added {email} as developer")
    added = page.get_by_role("row").filter(has_text=email)
    expect(added).to_contain_text("developer")
    screenshot(page, "members", shows=added)

    page.get_by_role("link", name="API access").click()
    page.get_by_role("link", name="Audit log").click()
    table = page.get_by_role("table")
    for action in ("team.created", "app.created", "user.created", "session.created"):
        expect(table.get_by_text(action, exact=True).first).to_be_visible()
    # Times are shown in the viewer's zone with a relative "… ago".
    expect(table.locator("time").first).to_contain_text(re.compile(r"\((just now|.* ago)\)"))
    screenshot(page, "audit", shows=table)

    page.get_by_label("Action").fill("team.created")
    page.get_by_role("button", name="Filter").click()
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("Support")


def test_docs_page_renders_the_openapi_document_without_a_cdn(
    page: Page, server: LiveServer
) -> None:
    """The vendored viewer (Stoplight Elements) lays out every operation of /openapi.json,
    loads nothing from elsewhere, and trips the Content-Security-Policy nowhere: besides the
    console messages the ``page`` fixture watches, every ``securitypolicyviolation`` event
    (reported even where a script catches the refusal) is recorded and must stay empty."""
    page.add_init_script(
        """window.__violations = [];
        document.addEventListener("securitypolicyviolation", e => window.__violations.push(
            `${e.effectiveDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`), true);"""
    )
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto("/docs")
    viewer = page.locator("elements-api#openapi")
    spec = requests.get(f"{server.url}/openapi.json", timeout=10).json()
    tags = {tag for item in spec["paths"].values() for op in item.values() for tag in op["tags"]}
    # The stacked layout shows one collapsed group per tag: open them all.
    for tag in tags:
        viewer.get_by_text(tag, exact=True).first.click()
    operation = viewer.get_by_text("/api/apps", exact=True).nth(1)  # GET, then POST
    operation.click()
    expect(viewer.get_by_text("Register an OAuth app", exact=True).first).to_be_visible()
    expect(viewer.get_by_text("token_ttl_seconds").first).to_be_visible()
    screenshot(page, "docs", shows=viewer.get_by_text("Register an OAuth app", exact=True).first)

    # Every operation of the document is on the page: its method beside its path.
    shown = page.evaluate(
        """() => Array.from(document.querySelectorAll("elements-api .sl-cursor-pointer"))
            .filter(row => row.children.length === 2 && row.children[1].textContent.startsWith("/"))
            .map(row => [row.children[0].textContent.toUpperCase(), row.children[1].textContent])"""
    )
    operations = [[method.upper(), path] for path, item in spec["paths"].items() for method in item]
    assert len(operations) > 30
    assert sorted(shown) == sorted(operations)

    # Open every operation (the click on each row toggles it, so POST /api/apps, which is
    # open, is clicked once more): each shows its summary, and none trips the policy.
    page.evaluate(
        """() => document.querySelectorAll("elements-api .sl-cursor-pointer").forEach(row => {
            if (row.children.length === 2 && row.children[1].textContent.startsWith("/")) {
                row.click();
            }
        })"""
    )
    operation.click()
    expect(viewer.get_by_text("List OAuth apps", exact=True).first).to_be_visible()
    expect(viewer.get_by_text("Register an OAuth app", exact=True).first).to_be_visible()
    text = viewer.inner_text()
    for item in spec["paths"].values():
        for op in item.values():
            assert op["summary"] in text, op["operationId"]
    assert page.evaluate("window.__violations") == []
    foreign = [u for u in requested if not u.startswith(server.url)]
    assert not foreign, foreign
