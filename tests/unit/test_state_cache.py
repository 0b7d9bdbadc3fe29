"""The credential-state cache: served from memory until any credential state changes, and
never after (keys.state_cache, keys.freshness)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import event, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from keys import api_keys, state_cache, verification
from keys.audit import Actor
from keys.core import Core
from keys.freshness import FileStamp, NoStamp
from keys.models import ApiKey, AuditEvent, Org
from keys.state_cache import StateCache
from keys.usage import UsageCounter
from tests.unit.conftest import new_api_key

REDIS = "redis://127.0.0.1:6379/15"


class CountingStamp:
    """A stamp that counts its bumps (a real FileStamp underneath)."""

    def __init__(self, path: Path) -> None:
        self.file = FileStamp(path)
        self.bumps = 0

    def read(self) -> bytes:
        return self.file.read()

    def bump(self) -> None:
        self.bumps += 1
        self.file.bump()


@pytest.fixture
def stamp(engine: Engine, tmp_path: Path) -> CountingStamp:
    stamp = CountingStamp(tmp_path / "stamp")
    state_cache.watch(engine, stamp)
    return stamp


@pytest.fixture
def statements(engine: Engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    return seen


def test_a_cached_key_costs_no_query_until_state_changes(
    session: Session,
    core: Core,
    org: Org,
    actor: Actor,
    stamp: CountingStamp,
    statements: list[str],
) -> None:
    key, plaintext = new_api_key(session, core, org, actor)
    cache = StateCache(stamp)
    verify: Callable[[], verification.VerifiedKey] = lambda: verification.verify(  # noqa: E731
        session, core, plaintext, cache.view()
    )
    assert verify().id == key.id
    before = len(statements)
    for _ in range(5):
        assert verify().id == key.id
    assert len(statements) == before  # all five from memory

    api_keys.revoke(session, key, actor)
    session.commit()
    with pytest.raises(verification.KeyRejected) as rejected:
        verify()
    assert rejected.value.reason == "revoked"


def test_every_committed_change_to_credential_state_announces_itself(
    session: Session, core: Core, org: Org, actor: Actor, stamp: CountingStamp
) -> None:
    key, _ = new_api_key(session, core, org, actor)
    assert stamp.bumps == 1  # the insert

    org.api_access = False
    session.commit()
    assert stamp.bumps == 2  # an ORM update of a tracked model

    session.execute(update(ApiKey).where(ApiKey.id == key.id).values(name="renamed"))
    session.commit()
    assert stamp.bumps == 3  # a bulk statement on a tracked table

    key.name = "rolled back"
    session.flush()
    session.rollback()
    assert stamp.bumps == 3  # nothing was committed

    session.add(AuditEvent(org_id=org.id, action="x", actor_type="system", target_type="x"))
    session.commit()
    assert stamp.bumps == 3  # audit events are no credential state


def test_usage_counts_do_not_empty_the_caches(
    engine: Engine, session: Session, core: Core, org: Org, actor: Actor, stamp: CountingStamp
) -> None:
    key, _ = new_api_key(session, core, org, actor)
    bumps = stamp.bumps
    counter = UsageCounter(lambda: Session(engine), interval=3600)
    counter.hit("api_key", key.id, "10.0.0.1")
    assert counter.flush() == 1
    counter.close()
    assert stamp.bumps == bumps


def test_without_a_stamp_nothing_is_cached(
    session: Session, core: Core, org: Org, actor: Actor, statements: list[str]
) -> None:
    _, plaintext = new_api_key(session, core, org, actor)
    cache = StateCache(NoStamp())
    verification.verify(session, core, plaintext, cache.view())
    before = len(statements)
    verification.verify(session, core, plaintext, cache.view())
    assert len(statements) == before + 1


def test_garbage_never_reaches_the_database(
    session: Session, core: Core, stamp: CountingStamp, statements: list[str]
) -> None:
    cache = StateCache(stamp)
    good_shape = "lk_AAAAAAAAAAAA_" + "b" * 32 + "zzzzzz"  # checksum beyond any CRC32
    for candidate in (good_shape, "lk_", "lk_short", "lkat_x", "lkcs_x_y", "x" * 5, ""):
        with pytest.raises(verification.KeyRejected):
            verification.verify(session, core, candidate, cache.view())
    assert statements == []


def test_a_full_cache_drops_its_least_recently_used_entry(stamp: CountingStamp) -> None:
    cache = StateCache(stamp, max_entries=3)
    view = cache.view()
    for i in range(4):
        view.get(i, lambda i=i: i)  # type: ignore[misc]
    assert len(cache) == 3
    assert view.get(3, lambda: -1) == 3  # the newest entry stays
    assert view.get(0, lambda: -1) == -1  # the oldest was dropped (and is back now)
    # A credential in steady use stays while others come and go.
    view.get("steady", lambda: "kept")
    for i in range(10, 14):
        view.get(i, lambda i=i: i)  # type: ignore[misc]
        assert view.get("steady", lambda: "reloaded") == "kept"
    assert len(cache) == 3


def test_a_file_stamp_bump_is_seen_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "stamp"
    here = FileStamp(path)
    before = here.read()
    script = (
        "from pathlib import Path; from keys.freshness import FileStamp; "
        f"FileStamp(Path({str(path)!r})).bump()"
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=Path(__file__).parents[2])
    assert here.read() != before
    assert FileStamp(path).read() == here.read()


def test_a_redis_stamp_moves_on_every_bump_and_when_redis_loses_it() -> None:
    import secrets

    from redis import Redis

    from keys.redis_lease import RedisStamp

    client = Redis.from_url(REDIS)
    key = f"latchkey:test-stamp:{secrets.token_hex(6)}"
    stamp = RedisStamp(REDIS, key)
    stamp.listener().close()  # no lease: Redis is read each time (tests/unit/test_redis_stamp)
    try:
        first = stamp.read()
        assert first and stamp.read() == first
        stamp.bump()
        second = stamp.read()
        assert second and second != first
        client.delete(key)  # a Redis restart or an eviction
        third = stamp.read()
        assert third and third not in (first, second)

        # A reconnect (a restart, a failover) may bring back an older value: what was
        # read before it must not match again, even for the very same value.
        old_value = client.get(key)
        stamp._own()[0].disconnect()
        after = stamp.read()
        assert client.get(key) == old_value and after and after != third
    finally:
        client.delete(key)


def test_an_unreachable_redis_means_no_cache_and_a_failed_announcement() -> None:
    from keys.freshness import StampNotWritten
    from keys.redis_lease import RedisStamp

    stamp = RedisStamp("redis://127.0.0.1:1/0", "k")
    assert stamp.read() is None
    stamp.close()
    with pytest.raises(StampNotWritten):
        stamp.bump()  # a change nobody could be told of must not look announced
    view = StateCache(stamp).view()
    loads: list[int] = []
    view.get("x", lambda: loads.append(1))
    view.get("x", lambda: loads.append(1))
    assert loads == [1, 1]


def test_a_revoke_that_finds_the_key_already_revoked_still_announces(
    session: Session, core: Core, org: Org, actor: Actor, stamp: CountingStamp
) -> None:
    """Its caller answers success; the first revoke's bump may not have landed yet."""
    key, _ = new_api_key(session, core, org, actor)
    api_keys.revoke(session, key, actor)
    session.commit()
    bumps = stamp.bumps
    api_keys.revoke(session, key, actor)  # nothing left to change
    session.commit()
    assert stamp.bumps == bumps + 1


def test_an_answer_the_caller_declines_to_keep_is_asked_again(stamp: CountingStamp) -> None:
    """Failures for guessed secrets are not kept: a stream of guesses cannot fill the cache
    (and so evict the rows every request needs)."""
    cache = StateCache(stamp, max_entries=3)
    asked: list[str] = []

    def check(guess: str) -> bool | None:
        asked.append(guess)
        return True if guess == "right" else None

    view = cache.view()
    for guess in ("right", *(f"wrong {i}" for i in range(10)), "right"):
        view.get(("secret", guess), lambda g=guess: check(g), keep=lambda ok: ok is not None)
    assert asked == ["right", *(f"wrong {i}" for i in range(10))]  # "right" asked once
    view.get(("secret", "wrong 0"), lambda: check("wrong 0"), keep=lambda ok: ok is not None)
    assert asked[-1] == "wrong 0"  # a failure is asked again every time


class Tally:
    def __init__(self) -> None:
        self.count = 0

    def inc(self, amount: float = 1) -> None:
        self.count += int(amount)


def test_hits_and_misses_are_counted_for_whoever_watches(
    session: Session, core: Core, org: Org, actor: Actor, stamp: CountingStamp
) -> None:
    _, plaintext = new_api_key(session, core, org, actor)
    hits, misses = Tally(), Tally()
    cache = StateCache(stamp, hits=hits, misses=misses)
    verification.verify(session, core, plaintext, cache.view())
    first = misses.count
    assert first >= 1 and hits.count == 0
    verification.verify(session, core, plaintext, cache.view())
    assert (hits.count, misses.count) == (first, first)

    unknown = StateCache(NoStamp(), hits=hits, misses=misses)  # nothing may be kept
    verification.verify(session, core, plaintext, unknown.view())
    assert (hits.count, misses.count) == (first, 2 * first)
