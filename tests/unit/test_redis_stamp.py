"""The Redis stamp's leases (keys.freshness.RedisStamp): each process answers from its own
copy while Redis vouches for it, and a change does not return until every process that
holds a lease has applied it, or its lease has run out.

Two RedisStamp objects on one key stand for two processes: each has its own subscription,
lease and copy, as each worker does.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import pytest
from redis import Redis

from keys.freshness import LEASE_SECONDS, RedisStamp

REDIS = "redis://127.0.0.1:6379/15"


@pytest.fixture
def key() -> Iterator[str]:
    key = f"latchkey:test-lease:{secrets.token_hex(6)}"
    yield key
    client = Redis.from_url(REDIS)
    for name in client.scan_iter(match=f"{key}*"):
        client.delete(name)
    client.close()


@pytest.fixture
def processes(key: str) -> Iterator[tuple[RedisStamp, RedisStamp]]:
    pair = (RedisStamp(REDIS, key), RedisStamp(REDIS, key))
    yield pair
    for stamp in pair:
        stamp.close()


def leased(stamp: RedisStamp) -> bytes:
    """The stamp once its process trusts its own copy (a new lease epoch begins a lease
    after it is first seen)."""
    stamp.read()
    deadline = time.monotonic() + 3 * LEASE_SECONDS
    while stamp.listener().trusted() is None:
        assert time.monotonic() < deadline, "the lease was never granted"
        time.sleep(0.02)
    value = stamp.read()
    assert value is not None
    return value


def gets(client: Redis) -> int:
    return int(client.info("commandstats").get("cmdstat_get", {}).get("calls", 0))


def test_a_leased_copy_is_read_from_memory_and_every_change_reaches_it_before_bump_returns(
    processes: tuple[RedisStamp, RedisStamp],
) -> None:
    writer, reader = processes
    leased(writer)
    before = leased(reader)
    client = Redis.from_url(REDIS)
    asked = gets(client)
    assert all(reader.read() == before for _ in range(200))
    assert gets(client) == asked  # 200 reads, no GET
    client.close()

    for _ in range(5):
        writer.bump()
        after = reader.read()  # no wait: bump returned only once the reader had applied it
        assert after is not None and after != before
        before = after
    assert reader.listener().trusted() is not None  # still from memory


def test_a_process_that_stops_answering_holds_a_change_back_one_lease_at_most(
    processes: tuple[RedisStamp, RedisStamp],
) -> None:
    writer, reader = processes
    leased(writer)
    before = leased(reader)
    reader.listener()._stopped.set()  # hung: it neither applies nor acknowledges, lease kept
    started = time.monotonic()
    writer.bump()
    waited = time.monotonic() - started
    assert waited <= LEASE_SECONDS + 0.5
    assert reader.listener().trusted() is None  # its lease is over: it reads Redis now
    assert reader.read() not in (None, before)


def test_a_lost_subscription_counts_as_a_change(
    processes: tuple[RedisStamp, RedisStamp], key: str
) -> None:
    """What was published while a subscription was away is lost, so coming back is a
    change in itself, even when nothing changed. (Until the process notices, its lease is
    still in Redis, so a change meanwhile waits for it to run out.)"""
    _, reader = processes
    before = leased(reader)
    client = Redis.from_url(REDIS)
    assert client.client_kill_filter(_type="pubsub") >= 1
    client.close()
    deadline = time.monotonic() + 2 * LEASE_SECONDS
    while reader.read() == before:
        assert time.monotonic() < deadline, "the lost subscription went unnoticed"
        time.sleep(0.01)
    assert leased(reader) != before


def test_after_redis_loses_its_leases_no_copy_is_trusted_until_a_new_epoch_begins(
    processes: tuple[RedisStamp, RedisStamp], key: str
) -> None:
    """A restarted Redis has no leases: a process that has not noticed yet may still trust
    its copy, so a change waits a lease before returning, and no process trusts a copy
    until then."""
    writer, reader = processes
    leased(writer)
    leased(reader)
    client = Redis.from_url(REDIS)
    client.delete(f"{key}:leases", f"{key}:epoch")
    client.close()
    started = time.monotonic()
    writer.bump()
    assert time.monotonic() - started >= LEASE_SECONDS - 0.1
    leased(reader)  # trusted again, in the new epoch
