"""Legacy user keys (import, verification, replace) and batched usage counting, on a real
SQLite database."""

from __future__ import annotations

import io
import logging
import threading
import time
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from keys import user_keys, verification
from keys.audit import Actor
from keys.core import Core
from keys.errors import ValidationFailed
from keys.models import ApiKey, Org, User, UserKey
from keys.usage import UsageCounter
from tests.unit.conftest import new_api_key

TOKEN = "ghp_legacy_token_0123456789abcdef"
HEADER = "email,name,token,created_at,scopes\n"


def _import(session: Session, core: Core, org: Org, text: str) -> user_keys.ImportReport:
    report = user_keys.import_rows(
        session,
        core,
        org_id=org.id,
        rows=user_keys.read_csv(io.StringIO(text)),
        actor=Actor.system("test"),
    )
    session.commit()
    return report


def test_import_hashes_tokens_creates_members_and_is_idempotent(
    session: Session, core: Core, org: Org
) -> None:
    text = HEADER + f"grace@example.com,Grace,{TOKEN},2021-03-04T05:06:07Z,people:read\n"
    report = _import(session, core, org, text)
    assert (report.imported, report.members_created) == (1, ["grace@example.com"])
    key = session.scalars(select(UserKey)).one()
    assert key.hint == TOKEN[-4:] and TOKEN not in repr(key.__dict__)
    assert key.created_at == 1614834367000
    owner = session.get(User, key.user_id)
    assert owner is not None and owner.password_hash is None and owner.role == "member"
    assert _import(session, core, org, text).already_imported == 1
    assert len(session.scalars(select(UserKey)).all()) == 1


@pytest.mark.parametrize(
    ("row", "column"),
    [
        ("not-an-email,Ann,{t},2021-01-01,people:read", "email"),
        ("ann@example.com,,{t},2021-01-01,people:read", "name"),
        ("ann@example.com,Ann,short,2021-01-01,people:read", "token"),
        ("ann@example.com,Ann,lk_{t},2021-01-01,people:read", "token"),
        ("ann@example.com,Ann,{t},yesterday,people:read", "created_at"),
        ("ann@example.com,Ann,{t},2021-01-01,people:fly", "scopes"),
    ],
)
def test_one_bad_row_imports_nothing(
    session: Session, core: Core, org: Org, row: str, column: str
) -> None:
    good = f"bob@example.com,Bob,{TOKEN},2021-01-01,people:read\n"
    bad = row.format(t="x" * 24) + "\n"
    with pytest.raises(ValidationFailed) as caught:
        _import(session, core, org, HEADER + good + bad)
    session.rollback()
    assert [e.field for e in caught.value.errors] == [f"line 3: {column}"]
    assert session.scalars(select(UserKey)).all() == []
    assert session.scalars(select(User)).all() == []


def test_user_key_verifies_until_revoked_and_replace_keeps_it_working(
    session: Session, core: Core, org: Org, actor: Actor
) -> None:
    _import(session, core, org, HEADER + f"c@example.com,Cy,{TOKEN},2022-01-01,leads:read\n")
    key = session.scalars(select(UserKey)).one()
    found = verification.verify(session, core, TOKEN)
    assert (found.kind, found.subject, found.scopes) == ("user_key", str(key.user_id), "leads:read")
    new_api_key(session, core, org, actor)  # so the replacement's id is not the user key's
    made = user_keys.replace(session, core, key, actor, created_by=None)
    session.commit()
    assert made.key.scope_list == ["leads:read"] and made.key.team_id is None
    assert made.key.id != key.id and key.replaced_by == made.key.id
    assert verification.verify(session, core, TOKEN).kind == "user_key"
    user_keys.revoke(session, key, actor)
    session.commit()
    with pytest.raises(verification.KeyRejected) as caught:
        verification.verify(session, core, TOKEN)
    assert caught.value.reason == "revoked" and key.prefix in caught.value.message
    assert verification.verify(session, core, made.plaintext).kind == "api_key"


def _factory(engine: Engine) -> Any:
    return lambda: Session(engine)


def hit_from_four_threads(counter: UsageCounter, key_id: int, each: int) -> None:
    threads = [
        threading.Thread(
            target=lambda: [counter.hit("api_key", key_id, "10.0.0.1") for _ in range(each)]
        )
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_usage_is_written_in_batches_with_the_latest_caller(
    engine: Engine, session: Session, core: Core, org: Org, actor: Actor
) -> None:
    key, _ = new_api_key(session, core, org, actor)
    counter = UsageCounter(_factory(engine), interval=3600)
    hit_from_four_threads(counter, key.id, 250)
    counter.hit("api_key", key.id, "10.0.0.2")
    assert counter.pending("api_key", key.id) == 1001
    session.expire_all()
    assert session.get(ApiKey, key.id).usage_count == 0  # type: ignore[union-attr]
    assert counter.flush() == 1
    counter.hit("api_key", key.id, "10.0.0.3")
    counter.close()
    session.expire_all()
    row = session.get(ApiKey, key.id)
    assert row is not None
    assert (row.usage_count, row.last_used_ip) == (1002, "10.0.0.3")
    assert row.last_used_at is not None


def test_uses_counted_while_a_flush_runs_are_written_once(
    engine: Engine, session: Session, core: Core, org: Org, actor: Actor
) -> None:
    """Uses are counted without a lock; a flush running meanwhile neither loses one nor
    writes one twice."""
    key, _ = new_api_key(session, core, org, actor)
    counter = UsageCounter(_factory(engine), interval=3600)
    done = threading.Event()

    def flush_until_done() -> None:
        while not done.is_set():
            counter.flush()

    flusher = threading.Thread(target=flush_until_done)
    flusher.start()
    hit_from_four_threads(counter, key.id, 2000)
    done.set()
    flusher.join()
    counter.close()
    session.expire_all()
    assert session.get(ApiKey, key.id).usage_count == 8000  # type: ignore[union-attr]


def test_a_failed_write_keeps_the_counts_for_the_next_try(
    engine: Engine, core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy import create_engine

    from keys.base import Base

    empty = create_engine("sqlite://")  # no tables yet: the first write fails
    flushes: list[float | None] = []
    counter = UsageCounter(_factory(empty), interval=3600, on_flush=flushes.append)
    counter.hit("user_key", 1, None)
    counter.hit("user_key", 1, None)
    with caplog.at_level(logging.WARNING, logger="latchkey.usage"):
        assert counter.flush() == 0
        assert counter.flush() == 0
    assert counter.pending("user_key", 1) == 2
    assert flushes == [None, None]
    assert len(caplog.records) == 1  # one line for the outage, not one per try
    Base.metadata.create_all(empty)
    with Session(empty) as s:
        org = Org(name="o")
        s.add(org)
        s.flush()
        user = User(org_id=org.id, email="u@example.com", name="u", role="member")
        s.add(user)
        s.flush()
        s.add(
            UserKey(
                id=1,
                org_id=org.id,
                user_id=user.id,
                name="u",
                prefix="lkuk_x",
                hint="abcd",
                token_hash="h",
            )
        )
        s.commit()
    time.sleep(0.01)
    assert counter.flush() == 1
    assert len(flushes) == 3 and flushes[2] is not None and flushes[2] >= 0.01
    with Session(empty) as s:
        assert s.get(UserKey, 1).usage_count == 2  # type: ignore[union-attr]
