"""Emails where a server process meets them: the first admin's, from the settings of a start
(normalized; an invisible character stops the start), and the migration that brings stored
emails under the rule. (The rule at the API, sign-in and the CSV import is
tests/web/test_emails.py.)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.api import ADMIN_PASSWORD, Api
from tests.credentials import fullwidth
from tests.live.server import LiveServer


def test_the_first_admin_email_is_normalized_and_an_invisible_one_stops_the_start(
    backend: str, server_factory: Callable[..., LiveServer], tmp_path: Path
) -> None:
    live = server_factory(LATCHKEY_ADMIN_EMAIL=fullwidth("Root@Example.COM"))
    api = Api.login(live.url, "root@example.com", ADMIN_PASSWORD)
    assert [u["email"] for u in api.ok("GET", "/api/users")] == ["root@example.com"]

    refused = LiveServer(
        backend, tmp_path / "refused", extra_env={"LATCHKEY_ADMIN_EMAIL": "ro\u00adot@example.com"}
    )
    refused.prepare()
    try:
        with pytest.raises(RuntimeError, match="LATCHKEY_ADMIN_EMAIL: must not contain invisible"):
            refused.start()
    finally:
        refused.close()


# -- stored emails --------------------------------------------------------------------------

BEFORE_NORMALIZATION = "7c2d9e41a0b3"


def test_the_migration_brings_stored_emails_under_the_rule(backend: str, tmp_path: Path) -> None:
    """Emails stored lower-cased by the old rule: those that normalize to a free address are
    rewritten (their members could not sign in otherwise); one that would become another
    member's address is left as it is and named, as is one holding an invisible character."""
    live = LiveServer(backend, tmp_path)
    live.prepare()
    try:
        down = live.flask("db", "downgrade", BEFORE_NORMALIZATION)
        assert down.returncode == 0, down.stderr
        stored = {
            "plain": "ada@example.com",
            "twin": fullwidth("ada") + "@example.com",  # str.lower() kept fullwidth letters
            "sharp": "straße@example.com",
            "wide": fullwidth("grace") + "@example.com",
            "hidden": "ev\u200be@example.com",
        }
        engine = sa.create_engine(
            live.database_url.replace("postgresql://", "postgresql+psycopg://")
        )
        try:
            with engine.begin() as conn:
                org_id = conn.execute(
                    sa.text(
                        "INSERT INTO orgs (name, api_access, tokens_valid_after, created_at, "
                        "updated_at) VALUES ('Old', true, 0, 0, 0) RETURNING id"
                    )
                ).scalar_one()
                for label, email in stored.items():
                    conn.execute(
                        sa.text(
                            "INSERT INTO users (org_id, email, name, role, is_platform_admin, "
                            "created_at) VALUES (:org, :email, :name, 'member', false, 0)"
                        ),
                        {"org": org_id, "email": email, "name": label},
                    )
            up = live.flask("db", "upgrade")
            assert up.returncode == 0, up.stderr
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.text("SELECT name, email FROM users WHERE org_id = :o"), {"o": org_id}
                )
                now = dict(rows.all())
        finally:
            engine.dispose()
    finally:
        live.close()
    assert now == {
        "plain": "ada@example.com",
        "twin": stored["twin"],
        "sharp": "strasse@example.com",
        "wide": "grace@example.com",
        "hidden": stored["hidden"],
    }
    assert "is the same address as another member's ('ada@example.com')" in up.stderr
    assert "holds invisible characters" in up.stderr
