"""The Redis stamp's leases (keys.freshness.RedisStamp): each process answers from its own
copy while its lease holds, Redis renews a lease only for a process that has applied the
current value, and a change does not return until every process that holds a lease has
applied it, or its lease has run out.

Two RedisStamp objects on one key stand for two processes: each has its own subscription,
lease and copy, as each worker does.
"""

from __future__ import annotations

import atexit
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from keys.redis_lease import LEASE_SECONDS, RedisStamp

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
    assert gets(client) - asked < 10  # 200 reads; the only GETs are the leases' renewals
    client.close()

    for _ in range(5):
        writer.bump()
        after = reader.read()  # no wait: bump returned only once the reader had applied it
        assert after is not None and after != before
        before = after
    assert reader.listener().trusted() is not None  # still from memory


#: A process of its own holding a lease: it reports its stamp, and whether it trusts its
#: copy, once leased and then for every line it reads.
HOLDER = """
import sys, time
from keys.redis_lease import RedisStamp
stamp = RedisStamp(sys.argv[1], sys.argv[2])
stamp.read()
while stamp.listener().trusted() is None:
    time.sleep(0.01)
print("trusted", stamp.read().hex(), flush=True)
for _ in sys.stdin:
    value = stamp.read()
    print("trusted" if stamp.listener().trusted() else "untrusted", value.hex(), flush=True)
"""


def test_a_process_that_stops_answering_holds_a_change_back_one_lease_at_most(
    key: str,
) -> None:
    """A hung process (stopped by a signal here) neither applies nor acknowledges: the change
    waits out its lease, and no longer. When it runs again, its copy is no longer trusted."""
    root = Path(__file__).parents[2]
    command = [sys.executable, "-c", HOLDER, REDIS, key]
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "text": True}
    writer = RedisStamp(REDIS, key)
    with subprocess.Popen(command, cwd=root, **pipes) as holder:  # type: ignore[call-overload]
        try:
            state, before = holder.stdout.readline().split()
            assert state == "trusted"
            holder.send_signal(signal.SIGSTOP)
            started = time.monotonic()
            writer.bump()
            waited = time.monotonic() - started
            assert LEASE_SECONDS - 0.3 <= waited <= LEASE_SECONDS + 0.5
            holder.send_signal(signal.SIGCONT)
            holder.stdin.write("\n")
            holder.stdin.flush()
            _, after = holder.stdout.readline().split()
            assert after != before
        finally:
            writer.close()
            holder.kill()


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
    client.delete(f"{key}:leases")  # a restart, an eviction, a stray DEL: the epoch with them
    client.close()
    started = time.monotonic()
    writer.bump()
    assert time.monotonic() - started >= LEASE_SECONDS - 0.1
    leased(reader)  # trusted again, in the new epoch


def test_a_process_that_missed_a_change_cannot_renew_its_lease(
    processes: tuple[RedisStamp, RedisStamp], key: str
) -> None:
    """A message lost on a connection that died silently, or a subscription left on a Redis
    that is no longer the primary: the value it applied is not the current one, so Redis
    refuses to renew its lease, and it subscribes again (a change in itself)."""
    _, reader = processes
    before = leased(reader)
    client = Redis.from_url(REDIS)
    client.set(key, b"changed, never published")
    client.close()
    deadline = time.monotonic() + LEASE_SECONDS
    while reader.read() == before:
        assert time.monotonic() < deadline, "a lease was renewed for a value that is not current"
        time.sleep(0.01)
    assert leased(reader) != before  # and trusted again, on the current value


def test_a_forked_child_that_exits_leaves_its_parent_s_lease_alone(
    processes: tuple[RedisStamp, RedisStamp], key: str
) -> None:
    _, reader = processes
    leased(reader)
    holder = reader.listener().id
    child = os.fork()
    if child == 0:  # a worker or a helper process that exits normally
        atexit._run_exitfuncs()
        os._exit(0)
    os.waitpid(child, 0)
    client = Redis.from_url(REDIS)
    assert client.zscore(f"{key}:leases", holder) is not None
    client.close()
