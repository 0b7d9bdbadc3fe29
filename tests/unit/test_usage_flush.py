"""The usage flush at scale: one statement per kind of key on PostgreSQL, one writer at a
time on SQLite, and every count written exactly once (issue 15)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from keys.base import Base
from keys.models import ApiKey, Org, User, UserKey
from keys.usage import UsageCounter
from tests.servers import PG_ADMIN_URL

KEYS = 3_000


@contextlib.contextmanager
def _database(kind: str, tmp_path: Path) -> Iterator[Engine]:
    """A file database of this kind, with KEYS API keys and KEYS user keys."""
    name = None
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'usage.db'}"
    else:
        name = f"latchkey_usage_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}".replace(
            "postgresql://", "postgresql+psycopg://", 1
        )
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        org = Org(name="Acme", api_access=True)
        s.add(org)
        s.flush()
        user = User(org_id=org.id, email="ada@example.com", name="Ada", role="member")
        s.add(user)
        s.flush()
        s.add_all(
            ApiKey(
                org_id=org.id,
                name=f"k{i}",
                public_id=f"p{i:011d}",
                prefix=f"lk_p{i:011d}",
                hint="abcd",
                secret_hash="h",
            )
            for i in range(KEYS)
        )
        s.add_all(
            UserKey(
                org_id=org.id,
                user_id=user.id,
                name=f"u{i}",
                prefix=f"lkuk_{i}",
                hint="abcd",
                token_hash=f"t{i}",
            )
            for i in range(KEYS)
        )
        s.commit()
    try:
        yield engine
    finally:
        engine.dispose()
        if name:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with _database(request.param, tmp_path) as engine:
        yield engine


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    with _database("sqlite", tmp_path) as engine:
        yield engine


def _ids(engine: Engine, model: type[ApiKey] | type[UserKey]) -> list[int]:
    with Session(engine) as s:
        return list(s.scalars(select(model.id)))


def _updates(engine: Engine) -> list[str]:
    """The UPDATE statements sent from now on (as executed: an executemany counts once)."""
    sent: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _record(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("UPDATE"):
            sent.append(statement)

    return sent


def test_a_flush_of_thousands_of_keys_is_one_statement_per_kind(engine: Engine) -> None:
    counter = UsageCounter(lambda: Session(engine), interval=3600)
    api_ids, user_ids = _ids(engine, ApiKey), _ids(engine, UserKey)
    for i, key_id in enumerate(api_ids):
        for _ in range(i % 3 + 1):
            counter.hit("api_key", key_id, f"10.0.0.{i % 250}")
    for key_id in user_ids:
        counter.hit("user_key", key_id, None)
    sent = _updates(engine)
    assert counter.flush() == 2 * KEYS
    assert len(sent) == 2  # one per kind of key, however many keys
    if engine.dialect.name == "postgresql":  # not an executemany: one multi-row UPDATE each
        assert all("unnest" in statement for statement in sent)
    with Session(engine) as s:
        total = s.scalar(select(func.sum(ApiKey.usage_count)))
        assert total == sum(i % 3 + 1 for i in range(KEYS))
        assert s.scalar(select(func.sum(UserKey.usage_count))) == KEYS
        first = s.get(ApiKey, api_ids[0])
        assert first is not None
        assert first.last_used_ip == "10.0.0.0" and first.last_used_at is not None


def test_an_older_use_does_not_replace_the_last_caller(engine: Engine) -> None:
    """Two processes' batches land in any order: the newest use's time and address stay."""
    key_id = _ids(engine, ApiKey)[0]
    late, early = (UsageCounter(lambda: Session(engine), interval=3600) for _ in range(2))
    early.hit("api_key", key_id, "10.0.0.1")
    late.hit("api_key", key_id, "10.0.0.2")
    late.flush()
    early.flush()
    with Session(engine) as s:
        row = s.get(ApiKey, key_id)
        assert row is not None
        assert (row.usage_count, row.last_used_ip) == (2, "10.0.0.2")


def test_on_sqlite_a_flush_waits_its_turn_without_losing_counts(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """One process writes at a time (PostgreSQL serialises flushes with an advisory lock)."""
    engine = sqlite_engine
    key_id = _ids(engine, ApiKey)[0]
    counter = UsageCounter(lambda: Session(engine), interval=3600)
    counter.hit("api_key", key_id, None)
    # Another process is flushing: it holds the lock file beside the database.
    fd = os.open(f"{tmp_path / 'usage.db'}.usage-lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert counter.flush(wait=False) == 0  # the background round puts it off ...
        assert counter.pending("api_key", key_id) == 1  # ... and keeps the count
    finally:
        os.close(fd)
    assert counter.flush(wait=False) == 1
    with Session(engine) as s:
        row = s.get(ApiKey, key_id)
        assert row is not None and row.usage_count == 1
