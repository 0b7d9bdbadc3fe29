"""What every test server is made of, live (``tests/live``) or in this process
(``tests/web``): a fresh database of its own, and the settings it starts with."""

from __future__ import annotations

import os
import secrets
import uuid
from pathlib import Path

from tests.api import ADMIN_EMAIL, ADMIN_PASSWORD

PG_ADMIN_URL = os.environ.get("LATCHKEY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def create_pg_database() -> tuple[str, str]:
    """A new, empty database on the machine's PostgreSQL: its name, and its URL."""
    import psycopg

    name = f"latchkey_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return name, f"{base}/{name}"


def drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_database(backend: str, sqlite_path: Path) -> tuple[str, str | None]:
    """A new database of ``backend``: its URL, and the name of the PostgreSQL database to
    drop afterwards (None for SQLite, a file at ``sqlite_path``)."""
    if backend == "postgresql":
        name, url = create_pg_database()
        return url, name
    return f"sqlite:///{sqlite_path}", None


def server_settings(database_url: str, issuer: str) -> dict[str, str]:
    """The settings of a test server: its database and issuer, a pepper and secret key of
    its own, and the first admin that every test signs in as."""
    return {
        "DATABASE_URL": database_url,
        "LATCHKEY_ISSUER": issuer,
        "LATCHKEY_PEPPER": secrets.token_urlsafe(48),
        "LATCHKEY_SECRET_KEY": secrets.token_urlsafe(48),
        "LATCHKEY_ADMIN_EMAIL": ADMIN_EMAIL,
        "LATCHKEY_ADMIN_PASSWORD": ADMIN_PASSWORD,
        # Usage counts are written in batches; short batches keep the tests quick.
        "LATCHKEY_USAGE_FLUSH_SECONDS": "0.2",
    }
