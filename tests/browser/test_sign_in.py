"""Signing in and out through the console's forms, and the plan-gated page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot, sign_in
from tests.fixtures import Member

pytestmark = pytest.mark.browser


def test_sign_in_through_the_form_then_sign_out(
    page: Page, make_member: Callable[..., Member]
) -> None:
    member = make_member()
    page.goto("/settings/api-access")
    expect(page).to_have_url("/login?next=%2Fsettings%2Fapi-access")
    screenshot(page, "login", shows=page.get_by_role("heading", name="Sign in to Latchkey"))

    page.get_by_label("Email").fill(member.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")

    page.get_by_label("Password").fill(member.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url("/settings/api-access/keys")
    expect(page.get_by_role("heading", name="API access", exact=True)).to_be_visible()
    expect(page.get_by_role("banner")).to_contain_text(member.email)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto("/settings/api-access/apps")
    expect(page.get_by_role("heading", name="Sign in to Latchkey")).to_be_visible()


def test_org_without_api_access_sees_upgrade_required(
    page: Page, make_member: Callable[..., Member]
) -> None:
    member = make_member(api_access=False)
    sign_in(page, member)
    expect(page.get_by_text("does not include API access")).to_be_visible()
    expect(page.get_by_role("link", name="Create an API key")).to_have_count(0)
    screenshot(page, "upgrade-required", shows=page.get_by_role("heading", name="Upgrade required"))

    # Teams manage no credential: still open.
    page.get_by_role("link", name="Teams").click()
    expect(page.get_by_role("heading", name="Teams", exact=True)).to_be_visible()
