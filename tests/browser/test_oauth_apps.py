"""The OAuth Apps tab in a real browser: register, read the secret once, use it, rotate,
revoke, reactivate, delete; the dialogs by keyboard; a narrow screen."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    assert_cells_beside_their_labels,
    read_secret,
    row_of,
    screenshot,
    sign_in,
)
from tests.fixtures import Member, unique
from tests.live.server import LiveServer
from tests.oauth_calls import introspect, issue

pytestmark = pytest.mark.browser


def token_status(server: LiveServer, client_id: str, secret: str) -> int:
    r = requests.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        timeout=10,
    )
    return r.status_code


def test_register_an_app_read_its_secret_once_and_get_a_token(
    page: Page,
    server: LiveServer,
    make_member: Callable[..., Member],
    resource_server: dict[str, Any],
) -> None:
    member = make_member()
    sign_in(page, member)
    page.get_by_role("link", name="OAuth Apps").click()
    screenshot(page, "apps-empty", shows=page.get_by_role("heading", name="No OAuth apps yet"))

    page.get_by_role("link", name="Register an app").first.click()
    dialog = page.get_by_role("dialog", name="Register an OAuth app")
    expect(dialog).to_be_visible()
    checkboxes = dialog.get_by_role("checkbox")
    expect(checkboxes).to_have_count(13)
    expect(dialog.locator("input[type=checkbox]:checked")).to_have_count(0)
    expect(dialog.get_by_role("group", name="people")).to_be_visible()
    name = unique("Zapier")
    dialog.get_by_label("Name", exact=True).fill(name)
    dialog.get_by_label("people:read").check()
    dialog.get_by_label("leads:read").check()
    screenshot(page, "apps-create", shows=dialog, dialog=True)
    dialog.get_by_role("button", name="Register app").click()

    done = page.get_by_role("dialog", name="OAuth app registered")
    screenshot(page, "apps-secret", shows=done, dialog=True)  # masked: no secret in the picture
    secret = read_secret(page, "OAuth app registered", "Client secret")
    client_id = done.get_by_label("Client ID").input_value()
    assert client_id.startswith("lkci_") and secret.startswith("lkcs_")
    # Two Copy buttons, each named for what it copies.
    done.get_by_role("button", name="Copy Client ID", exact=True).click()
    expect(done.locator("#one-time-id-status")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == client_id
    done.get_by_role("button", name="Copy client secret", exact=True).click()
    expect(done.locator("#one-time-secret-status")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == secret

    done.get_by_role("link", name="I have stored it").click()
    row = row_of(page, name)
    expect(row).to_contain_text(client_id)
    expect(row).to_contain_text("people:read")
    expect(row).to_contain_text("All teams")
    expect(row).to_contain_text("Active")
    screenshot(page, "apps", shows=row)

    page.reload()
    expect(page.get_by_role("dialog", name="OAuth app registered")).to_have_count(0)
    assert secret not in page.content()

    token = issue(server, {"client_id": client_id, "client_secret": secret})
    answer = introspect(server, resource_server, token)
    assert answer["active"] is True
    assert answer["client_id"] == client_id
    assert answer["org_id"] == member.org_id
    assert answer["scope"] == "people:read leads:read"


def test_rotate_revoke_reactivate_and_delete_with_confirmations(
    page: Page,
    server: LiveServer,
    make_member: Callable[..., Member],
    resource_server: dict[str, Any],
) -> None:
    member = make_member(role="developer")
    app = member.api.ok(
        "POST",
        "/api/apps",
        201,
        json={"name": unique("Reporting"), "scopes": ["people:read"], "team_id": None},
    )
    name, client_id = app["name"], app["client_id"]
    token = issue(server, app)
    sign_in(page, member)
    page.get_by_role("link", name="OAuth Apps").click()

    # Rotate: the confirmation says what breaks; the new secret is shown once.
    row_of(page, name).get_by_role("link", name=re.compile("^Rotate secret")).click()
    dialog = page.get_by_role("dialog", name=f"Rotate the secret of “{name}”?")
    expect(dialog).to_contain_text("invalid_client")
    dialog.get_by_label("Keep the current secret working for").select_option("0")
    screenshot(page, "apps-rotate", shows=dialog, dialog=True)
    dialog.get_by_role("button", name="Rotate secret").click()
    new_secret = read_secret(page, "Client secret rotated", "New client secret")
    assert new_secret != app["client_secret"]
    assert token_status(server, client_id, app["client_secret"]) == 401
    assert token_status(server, client_id, new_secret) == 200
    assert introspect(server, resource_server, token)["active"] is True  # tokens live on
    page.get_by_role("link", name="I have stored it").click()

    # Revoke: every token stops at once.
    row_of(page, name).get_by_role("link", name=re.compile("^Revoke")).click()
    dialog = page.get_by_role("dialog", name=f"Revoke “{name}”?")
    expect(dialog).to_contain_text("every access token it holds stops working at once")
    screenshot(page, "apps-revoke", shows=dialog, dialog=True)
    dialog.get_by_role("button", name="Revoke app").click()
    expect(page.get_by_role("status")).to_contain_text(f"Revoked “{name}”")
    expect(row_of(page, name)).to_contain_text("Revoked")
    assert introspect(server, resource_server, token) == {"active": False}
    assert token_status(server, client_id, new_secret) == 401

    # Reactivate: new tokens again; the old one stays dead.
    row_of(page, name).get_by_role("button", name=re.compile("^Reactivate")).click()
    expect(row_of(page, name)).to_contain_text("Active")
    assert token_status(server, client_id, new_secret) == 200
    assert introspect(server, resource_server, token) == {"active": False}

    # The status filter.
    page.get_by_label("Status").select_option("revoked")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("heading", name="No apps match these filters")).to_be_visible()
    page.get_by_role("link", name="Show all apps").click()

    # Delete: permanent.
    row_of(page, name).get_by_role("link", name=re.compile("^Delete")).click()
    dialog = page.get_by_role("dialog", name=f"Delete “{name}”?")
    expect(dialog).to_contain_text("This is permanent")
    dialog.get_by_role("button", name="Delete app").click()
    expect(row_of(page, name)).to_have_count(0)
    assert token_status(server, client_id, new_secret) == 401


def test_create_dialog_by_keyboard_with_errors_next_to_fields(
    page: Page, make_member: Callable[..., Member]
) -> None:
    sign_in(page, make_member())
    page.get_by_role("link", name="OAuth Apps").click()
    page.get_by_role("link", name="Register an app").first.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Register an OAuth app")
    expect(dialog.get_by_label("Name", exact=True)).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    page.get_by_role("link", name="Register an app").first.click()
    dialog.get_by_label("Access token lifetime (seconds)").fill("5")
    dialog.get_by_role("button", name="Register app").click()
    expect(dialog).to_be_visible()  # the server answered with the dialog open again
    expect(dialog.locator("#name-error")).to_have_text("Give the app a name.")
    expect(dialog.locator("#scopes-error")).to_have_text("Choose at least one permission.")
    expect(dialog.locator("#token_ttl_seconds-error")).to_contain_text("Between 60")
    expect(dialog.get_by_label("Name", exact=True)).to_be_focused()
    screenshot(page, "apps-create-errors", shows=dialog, dialog=True)


def test_apps_on_a_narrow_screen(phone: Page, make_member: Callable[..., Member]) -> None:
    member = make_member()
    for label in ("Support desk", "Nightly export"):
        member.api.ok(
            "POST",
            "/api/apps",
            201,
            json={"name": label, "scopes": ["people:read", "leads:read"], "team_id": None},
        )
    sign_in(phone, member)
    phone.get_by_role("link", name="OAuth Apps").click()
    row = row_of(phone, "Support desk")
    expect(row).to_be_visible()
    overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"
    assert_cells_beside_their_labels(row)
    screenshot(phone, "apps-narrow", shows=row)
