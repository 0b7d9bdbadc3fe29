"""Teams, Members, the Audit log and the Docs page in a real browser."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.conftest import Member, screenshot, sign_in, unique
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
    dialog.get_by_role("button", name="Delete team").click()
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
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto("/docs")
    expect(page.get_by_role("heading", name="OAuth apps")).to_be_visible()
    operation = page.get_by_text("Register an OAuth app", exact=True)
    operation.click()
    expect(page.get_by_text("token_ttl_seconds").first).to_be_visible()
    screenshot(page, "docs", shows=page.locator("#op-post_api_apps"))
    foreign = [u for u in requested if not u.startswith(server.url)]
    assert not foreign, foreign

    # Every operation of the document is on the page, with every parameter, every field of
    # its request body, and every response.
    spec = requests.get(f"{server.url}/openapi.json", timeout=10).json()
    shown = page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll("details[id^=op-]"))
            .map(op => [op.id.slice(3), {
                summary: op.querySelector("summary").textContent,
                fields: Array.from(op.querySelectorAll("tbody td:first-child code"))
                    .map(c => c.textContent),
                responses: Array.from(op.querySelectorAll("li[data-status]"))
                    .map(li => li.dataset.status),
            }]))"""
    )
    operations = [
        (method, path, op) for path, item in spec["paths"].items() for method, op in item.items()
    ]
    assert len(shown) == len(operations) > 30
    schemas = spec["components"]["schemas"]
    for method, path, op in operations:
        on_page = shown[op["operationId"]]
        assert method.upper() in on_page["summary"] and path in on_page["summary"]
        expected = [p["name"] for p in op.get("parameters", [])]
        body = op.get("requestBody", {}).get("content", {}).get("application/json")
        if body:
            expected += list(schemas[body["schema"]["$ref"].split("/")[-1]]["properties"])
        assert on_page["fields"] == expected, op["operationId"]
        assert on_page["responses"] == list(op["responses"]), op["operationId"]
