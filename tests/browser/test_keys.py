"""API keys, legacy user keys and the docs' test token in a real browser."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    assert_cells_beside_their_labels,
    read_secret,
    reload_until,
    row_of,
    screenshot,
    sign_in,
)
from tests.fixtures import Member, unique
from tests.live.server import LiveServer
from tests.oauth_calls import introspect

pytestmark = pytest.mark.browser


def test_create_a_key_read_it_once_use_it_rotate_and_revoke(
    page: Page,
    server: LiveServer,
    make_member: Callable[..., Member],
    resource_server: dict[str, Any],
) -> None:
    member = make_member()
    sign_in(page, member)
    expect(page).to_have_url("/settings/api-access/keys")
    screenshot(page, "keys-empty", shows=page.get_by_role("heading", name="No API keys yet"))

    page.get_by_role("link", name="Create an API key").first.click()
    dialog = page.get_by_role("dialog", name="Create an API key")
    expect(dialog.locator("input[type=checkbox]:checked")).to_have_count(0)
    expect(dialog.get_by_label("Never expires")).to_be_checked()
    name = unique("Nightly export")
    dialog.get_by_label("Name", exact=True).fill(name)
    dialog.get_by_label("people:read").check()
    dialog.get_by_label("Last day the key works").fill(
        (date.today() + timedelta(days=3)).isoformat()
    )
    expect(dialog.get_by_label("Expires at the end of a day")).to_be_checked()
    screenshot(page, "keys-create", shows=dialog, dialog=True)
    dialog.get_by_role("button", name="Create key").click()

    created = page.get_by_role("dialog", name="API key created")
    screenshot(page, "keys-secret", shows=created, dialog=True)  # still masked
    key = read_secret(page, "API key created", "API key")
    page.get_by_role("link", name="I have stored it").click()
    (listed,) = [k for k in member.api.ok("GET", "/api/keys") if k["name"] == name]
    assert key.startswith(listed["prefix"] + "_")
    row = row_of(page, name)
    expect(row).to_contain_text(listed["prefix"])
    expect(row).to_contain_text("people:read")
    expect(row.locator(".soon")).to_contain_text("expires within 7 days")
    page.reload()
    expect(page.get_by_role("dialog", name="API key created")).to_have_count(0)
    assert key not in page.content()

    answer = introspect(server, resource_server, key)
    assert answer["active"] is True
    assert answer["token_type"] == "api_key"
    assert answer["key_prefix"] == listed["prefix"]
    assert answer["org_id"] == member.org_id
    reload_until(page, row.locator("td[data-label='Usage count']"), lambda text: text == "1")
    expect(row.locator("td[data-label='Last used'] time")).to_be_visible()
    screenshot(page, "keys", shows=row)

    row.get_by_role("link", name=re.compile("^Rotate")).click()
    dialog = page.get_by_role("dialog", name=f"Rotate “{name}”?")
    expect(dialog).to_contain_text("Every script that sends the current key")
    dialog.get_by_label("Keep the current secret working for").select_option("0")
    dialog.get_by_role("button", name="Rotate key").click()
    rotated = read_secret(page, "API key rotated", "API key")
    assert rotated != key and rotated.startswith(listed["prefix"] + "_")
    assert introspect(server, resource_server, key) == {"active": False}
    assert introspect(server, resource_server, rotated)["active"] is True
    page.get_by_role("link", name="I have stored it").click()

    row.get_by_role("link", name=re.compile("^Revoke")).click()
    dialog = page.get_by_role("dialog", name=f"Revoke “{name}”?")
    expect(dialog).to_contain_text("Every request made with this key fails from now on")
    dialog.get_by_role("button", name="Revoke key").click()
    expect(row).to_contain_text("Revoked")
    assert introspect(server, resource_server, rotated) == {"active": False}

    row.get_by_role("button", name=re.compile("^Reactivate")).click()
    expect(row).to_contain_text("Active")
    assert introspect(server, resource_server, rotated)["active"] is True


def test_revoke_a_recently_used_user_key_through_the_warning(
    page: Page,
    server: LiveServer,
    make_member: Callable[..., Member],
    resource_server: dict[str, Any],
    import_user_keys: Any,
) -> None:
    admin = make_member()
    token = f"legacy-{uuid.uuid4().hex}{uuid.uuid4().hex}"
    owner = f"{unique('ops')}@example.com"
    name = unique("Zap from 2019")
    row = {
        "email": owner,
        "name": name,
        "token": token,
        "created_at": "2019-05-01T12:00:00Z",
        "scopes": "people:read",
    }
    assert import_user_keys(admin.org_id, [row]).returncode == 0
    assert introspect(server, resource_server, token)["token_type"] == "user_key"

    sign_in(page, admin)
    page.get_by_role("link", name="User Keys").click()
    row = row_of(page, name)
    expect(row).to_contain_text(owner)
    reload_until(page, row.locator("td[data-label='Last used']"), lambda text: text != "Never")
    screenshot(page, "user-keys", shows=row)

    row.get_by_role("link", name=re.compile("^Revoke")).click()
    dialog = page.get_by_role("dialog", name=f"Revoke “{name}”?")
    expect(dialog.get_by_role("alert")).to_contain_text("the integration that uses it will break")
    screenshot(page, "user-keys-revoke-warning", shows=dialog, dialog=True)
    dialog.get_by_role("link", name="Replace with an API key").click()

    dialog = page.get_by_role("dialog", name=f"Replace “{name}” with an API key")
    expect(dialog).to_contain_text("people:read")
    dialog.get_by_role("button", name="Create API key").click()
    replacement = read_secret(page, "API key created", "API key")
    answer = introspect(server, resource_server, replacement)
    assert answer["token_type"] == "api_key" and answer["scope"] == "people:read"
    assert introspect(server, resource_server, token)["active"] is True  # until revoked
    page.get_by_role("link", name="I have stored it").click()
    expect(row).to_contain_text("Replaced by an API key")

    row.get_by_role("link", name=re.compile("^Revoke")).click()
    page.get_by_role("dialog", name=f"Revoke “{name}”?").get_by_role(
        "button", name="Revoke anyway"
    ).click()
    expect(row).to_contain_text("Revoked")
    assert introspect(server, resource_server, token) == {"active": False}


def test_generate_test_token_on_the_docs_page(
    page: Page,
    server: LiveServer,
    make_member: Callable[..., Member],
    resource_server: dict[str, Any],
) -> None:
    sign_in(page, make_member(role="developer"))
    page.get_by_role("link", name="Docs").click()
    page.get_by_role("button", name="Generate test token").click()
    shown = page.get_by_role("dialog", name="Test token")
    screenshot(page, "docs-test-token", shows=shown, dialog=True)  # still masked
    key = read_secret(page, "Test token", "API key")
    answer = introspect(server, resource_server, key)
    assert answer["active"] is True
    assert all(scope.endswith(":read") for scope in answer["scope"].split())
    page.reload()
    expect(page).to_have_url("/docs")  # shown once: a reload is just the docs

    page.get_by_role("link", name="API access").click()
    row = row_of(page, "Docs playground (temp)")
    expect(row).to_contain_text("temporary")
    expect(row.locator(".soon")).to_be_visible()


def test_keys_on_a_narrow_screen(phone: Page, make_member: Callable[..., Member]) -> None:
    member = make_member()
    team = member.api.ok("POST", "/api/teams", 201, json={"name": "Support"})
    member.api.ok(
        "POST",
        "/api/keys",
        201,
        json={
            "name": "Nightly export",
            "scopes": ["people:read", "leads:read", "interviews:read"],
            "team_id": team["id"],
            "expires_at": int((time.time() + 3 * 86400) * 1000),
        },
    )
    sign_in(phone, member)
    row = row_of(phone, "Nightly export")
    expect(row).to_be_visible()
    overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"
    assert_cells_beside_their_labels(row)  # the prefix's hint stays beside "Prefix"
    screenshot(phone, "keys-narrow", shows=row)


def test_a_long_name_without_spaces_wraps_inside_its_cell(
    page: Page, make_member: Callable[..., Member]
) -> None:
    """A name may be 100 characters with no space: it must not push Prefix and Scopes off
    the screen for every row."""
    member = make_member()
    long_name = "x" * 100
    member.api.ok("POST", "/api/keys", 201, json={"name": long_name, "scopes": ["people:read"]})
    member.api.ok("POST", "/api/keys", 201, json={"name": "Short", "scopes": ["people:read"]})
    sign_in(page, member)
    expect(row_of(page, long_name)).to_be_visible()
    overflow = page.locator(".table-wrap").first.evaluate("w => w.scrollWidth - w.clientWidth")
    assert overflow <= 0, f"the key table is {overflow}px wider than the page"
    expect(row_of(page, "Short").get_by_text("people:read")).to_be_in_viewport()
