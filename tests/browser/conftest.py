"""Fixtures of the browser tests: one live server (SQLite), headless Chromium, and an org of
its own for every test (``make_member``, :mod:`tests.fixtures`), so that what a test sees
depends on that test alone.

Chromium is Debian's ``chromium`` (installed by ``.ci/run``), driven by Playwright without
``playwright install``. Where it is missing the tests skip, except in CI (``CI`` set), where
a missing browser must fail loudly rather than pass silently.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, expect, sync_playwright

from tests.fixtures import Member
from tests.live.server import ROOT, LiveServer

CHROMIUM = Path("/usr/bin/chromium")
#: Where the tests save screenshots (CI keeps ``test-artifacts/``); ``docs/screenshots`` holds
#: the set reviewed at the last change to the console.
SCREENSHOTS = Path(os.environ.get("LATCHKEY_SCREENSHOTS", ROOT / "test-artifacts" / "screenshots"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

expect.set_options(timeout=10_000)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists() and not os.environ.get("CI"):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium; .ci/run does it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def server(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer("sqlite", tmp_path_factory.mktemp("browser-server"))
    live.prepare()
    live.start()
    yield live
    live.close()


def _open_page(browser: Browser, base_url: str, **context: Any) -> Iterator[Page]:
    """A page in a fresh browser context; fails the test on a script error or on anything
    the Content-Security-Policy refused (an inline script or style, a foreign asset)."""
    # Clipboard access lets a test read what the Copy button copied.
    ctx = browser.new_context(
        base_url=base_url, permissions=["clipboard-read", "clipboard-write"], **context
    )
    page = ctx.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    yield page
    ctx.close()
    assert not problems, problems


@pytest.fixture
def page(browser: Browser, server: LiveServer) -> Iterator[Page]:
    yield from _open_page(browser, server.url, viewport={"width": 1280, "height": 860})


@pytest.fixture
def phone(browser: Browser, server: LiveServer) -> Iterator[Page]:
    """A narrow screen (a phone held upright)."""
    yield from _open_page(
        browser, server.url, viewport={"width": 390, "height": 844}, is_mobile=True
    )


def sign_in(page: Page, member: Member) -> None:
    """Sign in through the login form, as a person would."""
    page.goto("/login")
    page.get_by_label("Email").fill(member.email)
    page.get_by_label("Password").fill(member.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def screenshot(page: Page, name: str, *, shows: Locator, dialog: bool = False) -> None:
    """Save the page for review into ``SCREENSHOTS``, once it ``shows`` what the picture is
    of (the dialog or heading the last action led to) and the console's script has run
    (dialogs modal, times local): a click that navigates returns before the next page is
    there, and a picture taken then shows the old page, or half of the new one. A page
    with a dialog open is taken as the screen shows it: a modal's backdrop covers only that."""
    expect(shows).to_be_visible()
    page.wait_for_load_state("load")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=not dialog)


def read_secret(page: Page, title: str, label: str) -> str:
    """Reveal the one-time secret in its dialog and read it, as a person would copy it."""
    dialog = page.get_by_role("dialog", name=title)
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("will not be shown again")
    field = dialog.get_by_label(label, exact=True)
    expect(field).to_have_attribute("type", "password")  # masked until revealed
    reveal = dialog.get_by_role("button", name="Reveal")
    expect(reveal).not_to_have_attribute("aria-pressed", re.compile(".*"))  # the label says it
    reveal.click()
    expect(field).to_have_attribute("type", "text")
    expect(dialog.get_by_role("button", name="Hide")).to_be_visible()
    return field.input_value()


def assert_cells_beside_their_labels(row: Locator) -> None:
    """On a narrow screen a table row is a card whose lines are its cells: the label, and
    beside it (not dropped under it) the cell's whole value."""
    misplaced = row.evaluate(
        """row => Array.from(row.cells).filter(td => {
            if (!td.textContent.trim()) return false;
            if (td.children.length !== 1) return true;
            const value = td.children[0].getBoundingClientRect();
            const box = td.getBoundingClientRect();
            return value.left < box.left + 60 || value.top > box.top + 8;
        }).map(td => td.dataset.label)"""
    )
    assert not misplaced, f"values not beside their labels: {misplaced}"


def row_of(page: Page, name: str) -> Locator:
    return page.get_by_role("row").filter(has_text=name)


def reload_until(
    page: Page, locator: Locator, shows: Callable[[str], bool], seconds: float = 15
) -> None:
    """Reload until the text of ``locator`` ``shows`` what is expected: usage is written in
    batches, every few seconds, not on each request."""
    deadline = time.monotonic() + seconds
    while not shows(locator.inner_text()):
        assert time.monotonic() < deadline, f"{locator} still shows {locator.inner_text()!r}"
        time.sleep(0.5)
        page.reload()
