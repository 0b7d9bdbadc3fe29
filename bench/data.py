"""The benchmark's databases: a fresh one per server run, and bulk-inserted rows.

SQLite is a file in the run's temporary folder; PostgreSQL a new database on the local server
(dropped afterwards). Bulk rows go straight into the tables (COPY on PostgreSQL, one
``executemany`` transaction on SQLite): the management API would take hours for a million
keys, and what is measured is the cost of reading among them, not of making them.
"""

from __future__ import annotations

import random
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
PUBLIC_ID_LENGTH = 12
SCOPES = "people:read leads:read"

API_KEY_COLUMNS = (
    "org_id",
    "name",
    "public_id",
    "prefix",
    "hint",
    "secret_hash",
    "scopes",
    "temporary",
    "created_at",
    "updated_at",
    "usage_count",
)
APP_COLUMNS = (
    "org_id",
    "name",
    "client_id",
    "secret_prefix",
    "secret_hint",
    "secret_hash",
    "scopes",
    "token_ttl_seconds",
    "token_format",
    "created_at",
    "updated_at",
    "tokens_valid_after",
)
REVOKED_COLUMNS = ("jti", "expires_at")


@dataclass(frozen=True, slots=True)
class Volume:
    """How many rows of each kind to add."""

    api_keys: int
    apps: int
    revoked_tokens: int

    def minus(self, other: Volume) -> Volume:
        return Volume(
            max(0, self.api_keys - other.api_keys),
            max(0, self.apps - other.apps),
            max(0, self.revoked_tokens - other.revoked_tokens),
        )


@dataclass(frozen=True, slots=True)
class Database:
    backend: str
    url: str  # DATABASE_URL as Latchkey takes it
    pg_admin_url: str | None = None
    pg_name: str | None = None
    sqlite_path: Path | None = None


def create(backend: str, workdir: Path, pg_admin_url: str) -> Database:
    if backend == "sqlite":
        path = workdir / "latchkey.db"
        return Database(backend, f"sqlite:///{path}", sqlite_path=path)
    name = f"latchkey_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{pg_admin_url.rsplit('/', 1)[0]}/{name}"
    return Database(backend, url, pg_admin_url=pg_admin_url, pg_name=name)


def drop(database: Database) -> None:
    if database.pg_name and database.pg_admin_url:
        with psycopg.connect(database.pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database.pg_name}" WITH (FORCE)')


def version(database: Database) -> str:
    if database.backend == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    with psycopg.connect(database.url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {row[0] if row else '?'}"


# -- PostgreSQL backends' CPU -------------------------------------------------------------------


def backend_pids(database: Database) -> list[int]:
    """The PostgreSQL server processes serving this database's connections (none for SQLite,
    which runs inside Latchkey's own processes and is counted there)."""
    if not database.pg_name or not database.pg_admin_url:
        return []
    with psycopg.connect(database.pg_admin_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (database.pg_name,)
        ).fetchall()
    return [int(row[0]) for row in rows]


# -- bulk rows --------------------------------------------------------------------------------


def _public_ids(rng: random.Random, count: int) -> Iterator[str]:
    seen: set[str] = set()
    while len(seen) < count:
        public_id = "".join(rng.choices(BASE62, k=PUBLIC_ID_LENGTH))
        if public_id not in seen:
            seen.add(public_id)
            yield public_id


def _api_key_rows(org_id: int, count: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    now = int(time.time() * 1000)
    for i, public_id in enumerate(_public_ids(rng, count)):
        secret_hash = f"{rng.getrandbits(256):064x}"
        hint = "".join(rng.choices(BASE62, k=4))
        created = now - (count - i)  # older than anything the benchmark creates itself
        yield (
            org_id,
            f"Bulk key {i}",
            public_id,
            f"lk_{public_id}",
            hint,
            secret_hash,
            SCOPES,
            False,
            created,
            created,
            0,
        )


def _app_rows(org_id: int, count: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    now = int(time.time() * 1000)
    for i, public_id in enumerate(_public_ids(rng, count)):
        yield (
            org_id,
            f"Bulk app {i}",
            f"lkci_{public_id}",
            f"lkcs_{public_id}",
            "".join(rng.choices(BASE62, k=4)),
            f"{rng.getrandbits(256):064x}",
            SCOPES,
            900,
            "opaque",
            now,
            now,
            0,
        )


def _revoked_rows(count: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    expires = int(time.time()) + 86400  # seconds, like the tokens' exp
    for _ in range(count):
        yield (f"{rng.getrandbits(128):032x}", expires)


def bulk_insert(database: Database, org_id: int, volume: Volume) -> float:
    """Add ``volume`` rows to ``org_id`` (API keys, apps) and the revocation list; returns the
    seconds it took. PostgreSQL is ANALYZEd afterwards, as autovacuum would do."""
    rng = random.Random()
    tables: list[tuple[str, Sequence[str], Iterator[tuple[Any, ...]]]] = [
        ("api_keys", API_KEY_COLUMNS, _api_key_rows(org_id, volume.api_keys, rng)),
        ("oauth_apps", APP_COLUMNS, _app_rows(org_id, volume.apps, rng)),
        ("revoked_tokens", REVOKED_COLUMNS, _revoked_rows(volume.revoked_tokens, rng)),
    ]
    started = time.monotonic()
    insert_rows(database, tables)
    return time.monotonic() - started


def insert_rows(
    database: Database, tables: Sequence[tuple[str, Sequence[str], Iterable[tuple[Any, ...]]]]
) -> None:
    """Rows straight into the tables: one transaction on SQLite, COPY on PostgreSQL."""
    if database.sqlite_path is not None:
        _insert_sqlite(database.sqlite_path, tables)
    else:
        _copy_postgresql(database.url, tables)


def _insert_sqlite(
    path: Path, tables: Sequence[tuple[str, Sequence[str], Iterable[tuple[Any, ...]]]]
) -> None:
    conn = sqlite3.connect(path, timeout=60)
    try:
        with conn:
            for table, columns, rows in tables:
                marks = ", ".join("?" for _ in columns)
                conn.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608
                    rows,
                )
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _copy_postgresql(
    url: str, tables: Sequence[tuple[str, Sequence[str], Iterable[tuple[Any, ...]]]]
) -> None:
    with psycopg.connect(url) as conn:
        with conn.cursor() as cur:
            for table, columns, rows in tables:
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        conn.commit()
        conn.autocommit = True
        for table, _, _ in tables:
            conn.execute(f"ANALYZE {table}")
