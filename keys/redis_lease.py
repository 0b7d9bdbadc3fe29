"""The Redis stamp (:class:`RedisStamp`), read from each process's memory under a lease.

One of the stamps of :mod:`keys.freshness`: a Redis key shared by every process on every
host. The lease protocol below is what lets a process trust its own copy of the stamp
without asking Redis on every request, while a change still returns only once every other
process has applied it.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import os
import secrets
import threading
import time
from typing import Any

from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from keys.freshness import STAMP_SIZE, StampNotWritten
from keys.process import process_id

log = logging.getLogger("latchkey")


#: How long a process trusts its own copy of a Redis stamp after it last renewed its lease
#: (:class:`RedisStamp`); also the longest a change waits for a process that stopped answering.
LEASE_SECONDS = 1.0
_RENEW_SECONDS = LEASE_SECONDS / 4
#: Added to every lease Redis keeps and every wait on one: clocks that run at slightly
#: different rates, and the time between the holder's clock and Redis's.
_LEASE_MARGIN_SECONDS = 0.05
_LEASE_MS = int((LEASE_SECONDS + _LEASE_MARGIN_SECONDS) * 1000)

#: Both scripts start here: Redis's time (ms), and when the lease epoch begins. An epoch
#: belongs to one Redis server (its run_id): a restarted server, or another one after a
#: failover, may have lost leases that are still trusted, so a new epoch begins a lease
#: later, and no lease counts before it does. The epoch is a member of the lease set itself
#: (score +inf), so whatever loses the leases (an eviction, a stray DEL) loses it with them.
_EPOCH = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local run_id = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)')
local begins = nil
for _, mark in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '+inf', '+inf')) do
  local server, at = string.match(mark, '^epoch:(%w+):(%d+)$')
  if server == run_id then begins = tonumber(at) end
end
if not begins then
  begins = now + tonumber(ARGV[2])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '+inf', '+inf')
  redis.call('ZADD', KEYS[2], '+inf', 'epoch:' .. run_id .. ':' .. string.format('%d', begins))
end
"""

#: A holder renews its lease only if it has applied the stamp's current value: 1 when it may
#: trust its copy, 0 before the epoch begins, -1 when its value is not the current one.
_RENEW = (
    _EPOCH
    + """
if redis.call('GET', KEYS[1]) ~= ARGV[3] then return -1 end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
if begins <= now then return 1 end
return 0
"""
)

#: A change: the new value, set and published in one step (so every subscriber receives the
#: values in the order they were set), and the lease holders: Redis's time, when the epoch
#: begins, and [holder, lease end, ...].
_CHANGE = (
    _EPOCH
    + """
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[3], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
return {now, begins, redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(+inf', 'WITHSCORES')}
"""
)

#: Redis's clients here never resend a command on their own: a script resent after a reply
#: timed out could set a value twice, and a value must never come back (a holder that missed
#: the change in between would be renewed). Latchkey retries with a new value instead.
_NO_RETRY = Retry(NoBackoff(), 0)


_CLOCK = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)


def _clock() -> float:
    """Seconds that keep counting while the host is suspended (Linux's boot time clock): a
    lease must not outlive a suspension. Elsewhere, the monotonic clock."""
    return time.clock_gettime(_CLOCK)


class RedisStamp:
    """A stamp in Redis, for processes on many hosts, read from memory while a lease says the
    copy is current.

    Reading Redis on every request cost a PostgreSQL deployment about a third of an
    introspection's CPU under load (the round trip, and the thread switches around it). So
    each process keeps a copy of its own, and trusts it only under a lease:

    * A process subscribes to the stamp's channel and applies every value published there (a
      new local value: entries read under the old one never match again). Four times a lease
      it renews its lease, and Redis grants the renewal only if the value the process last
      applied is the stamp's current value. The process then trusts its copy until the
      renewal's start plus ``LEASE_SECONDS``; Redis keeps the lease a margin longer.
    * A change (:meth:`bump`) sets and publishes a new value in one step, then waits until
      every other lease holder has acknowledged it, or until that holder's lease has run out.
      A holder that renews later has, by the renewal's condition, applied the change. So
      when the change's response is sent, no process answers from the state before it: the
      guarantee of reading Redis on every request, paid by the write, not by every read.
    * A process whose renewal is refused stops trusting its copy at once; still refused a
      renewal later (a message lost on a connection that died silently, or a subscription
      left on a Redis that is no longer the primary), it subscribes again. A (re)connected
      subscription counts as a change, since anything may have been published while it was
      away. Every value is new (a retried change sets another; these clients never resend a
      command by themselves), so an old value can never be current again.
    * The leases share one sorted set with an epoch tied to the Redis server's run id. A
      restart, a failover to another server, or the set's loss starts a new epoch a lease
      later: leases trusted under the old one may be lost, so no lease counts before then,
      and a change waits for it. Lease ends are Redis's clock, which must slew, not step.

    Without a lease the stamp is read from Redis: Redis's value followed by how many times
    this process has connected to Redis (after a reconnect, Redis may hold an older value
    again, one restored from a snapshot or a replica's that missed the last write, and
    entries read under it before must not match again). Each thread reads through a
    connection of its own, with the GET packed once.

    If Redis cannot be reached the stamp is unknown and nothing is served from cache (the
    database answers), rather than trusting entries nobody can vouch for. A bump that cannot
    be written raises: the change is committed, but its caller must not report success while
    other processes may still serve the old state (``flask invalidate-caches`` repairs it).
    """

    def __init__(self, url: str, key: str) -> None:
        self._url = url
        self._redis = Redis.from_url(
            url, socket_timeout=1, retry=_NO_RETRY, redis_connect_func=self._connected
        )
        self._key = key
        self.channel = f"{key}:changes"
        self._lease_keys = [key, f"{key}:leases"]
        self._local = threading.local()
        self._connects = 0
        self._unreachable = False
        self._listener: _Listener | None = None
        self._lock = threading.Lock()
        self._renew = self._redis.register_script(_RENEW)
        self._change = self._redis.register_script(_CHANGE)
        os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        self._lock = threading.Lock()  # another thread may have held it across the fork

    def _connected(self, connection: Any) -> None:
        connection.on_connect()  # what redis-py does when no callback is given
        self._connects += 1

    def _own(self) -> tuple[Any, Any]:
        """This thread's connection and its packed GET (a forked child makes its own: sockets
        are not shared)."""
        own: tuple[int, Any, Any] | None = getattr(self._local, "own", None)
        if own is None or own[0] != process_id():
            connection = self._redis.connection_pool.make_connection()
            own = self._local.own = (
                process_id(),
                connection,
                connection.pack_command("GET", self._key),  # type: ignore[no-untyped-call]
            )
        return own[1], own[2]

    def listener(self) -> _Listener:
        """This process's subscription (started on first use: a forked child starts its own)."""
        listener = self._listener
        if listener is None or listener.pid != process_id():
            with self._lock:
                listener = self._listener
                if listener is None or listener.pid != process_id():
                    listener = self._listener = _Listener(self)
        return listener

    def read(self) -> bytes | None:
        trusted = self.listener().trusted()
        if trusted is not None:
            return trusted
        try:
            connection, get = self._own()
            connection.send_packed_command(get, check_health=False)
            value = connection.read_response()
            if value is None:
                value = self.current()
        except RedisError as exc:
            if not self._unreachable:  # once per outage, not once per request
                self._unreachable = True
                log.warning("Redis unreachable (%s): credential state from the database", exc)
            return None
        if self._unreachable:
            self._unreachable = False
            log.warning("Redis reachable again: credential state cached again")
        if not isinstance(value, bytes):
            return None
        return value + self._connects.to_bytes(8, "big")

    def current(self) -> bytes:
        """Redis's value; if it was never set or was lost (a Redis restart, an eviction), a
        fresh random one, so no entry read under the lost one can match again."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(self._key, os.urandom(STAMP_SIZE), nx=True)
        pipe.get(self._key)
        _, value = pipe.execute()
        return bytes(value)

    def bump(self) -> None:
        value = os.urandom(STAMP_SIZE)
        try:
            holders = self._announce(value)
        except RedisError:
            log.warning("could not announce a credential change through Redis; retrying")
            value = os.urandom(STAMP_SIZE)  # the first may have been set: never set one twice
            try:
                holders = self._announce(value)
            except RedisError as exc:
                raise StampNotWritten(str(exc)) from exc
        listener = self._listener
        if listener is not None and listener.pid == process_id():
            listener.advance()  # this process sees its own change at once
            holders.pop(listener.id, None)
        self._await(value, holders)

    def _announce(self, value: bytes) -> dict[str, float]:
        """Set and publish ``value``; the lease holders, each with the :func:`_clock` time by
        which it has applied the change or stopped trusting its copy ("" for an epoch not
        begun)."""
        now_ms, begins_ms, flat = self._change(
            keys=self._lease_keys, args=[value, _LEASE_MS, self.channel]
        )
        at = _clock() + _LEASE_MARGIN_SECONDS
        holders = {
            holder.decode(): at + (float(ends_ms) - now_ms) / 1000
            for holder, ends_ms in zip(flat[::2], flat[1::2], strict=True)
        }
        if begins_ms > now_ms:
            holders[""] = at + (begins_ms - now_ms) / 1000
        return holders

    def _await(self, value: bytes, holders: dict[str, float]) -> None:
        """Until every holder has acknowledged ``value`` or its lease has run out."""
        acks = _ack_key(self._key, value)
        try:
            while holders:
                now = _clock()
                holders = {holder: ends for holder, ends in holders.items() if ends > now}
                if set(holders) <= {""}:
                    time.sleep(max(0.0, holders.get("", now) - now))
                    break
                popped = self._redis.blpop([acks], timeout=min(0.25, max(holders.values()) - now))
                if popped is not None:
                    holder = popped[1]
                    holders.pop(holder.decode() if isinstance(holder, bytes) else holder, None)
            self._redis.delete(acks)
        except RedisError:
            # Announced, but the acknowledgements cannot be read: wait the leases out.
            time.sleep(max(0.0, max(holders.values(), default=0.0) - _clock()))

    def acknowledge(self, value: bytes, holder: str) -> None:
        acks = _ack_key(self._key, value)
        pipe = self._redis.pipeline(transaction=False)
        pipe.rpush(acks, holder)
        pipe.expire(acks, 10)
        pipe.execute()

    def renew(self, holder: str, applied: bytes) -> int:
        """Renew ``holder``'s lease if ``applied`` is the current value (see ``_RENEW``)."""
        return int(self._renew(keys=self._lease_keys, args=[holder, _LEASE_MS, applied]))

    def give_up(self, holder: str) -> None:
        with contextlib.suppress(RedisError):
            self._redis.zrem(self._lease_keys[1], holder)

    def close(self) -> None:
        """Stop this process's subscription and give up its lease (tests, shutdown)."""
        listener = self._listener
        if listener is not None:
            listener.close()


def _ack_key(key: str, value: bytes) -> str:
    return f"{key}:ack:{value.hex()}"


def _confirmed(pubsub: Any) -> None:
    """Wait for Redis to confirm the subscription: only then is every later change heard."""
    deadline = _clock() + LEASE_SECONDS
    while True:
        message = pubsub.get_message(timeout=_RENEW_SECONDS)
        if message is not None and message["type"] == "subscribe":
            return
        if _clock() > deadline:
            raise RedisError("the subscription was not confirmed")


class _Listener:
    """One process's subscription to a :class:`RedisStamp`'s changes, and its lease."""

    def __init__(self, stamp: RedisStamp) -> None:
        self.pid = process_id()
        self.id = secrets.token_hex(8)
        self._stamp = stamp
        self._changes = itertools.count(1)
        self.value = b""
        self.advance()
        self._trusted_until = 0.0
        self._stopped = threading.Event()
        self._client = Redis.from_url(
            stamp._url,
            socket_timeout=LEASE_SECONDS,
            socket_keepalive=True,
            retry=_NO_RETRY,
            redis_connect_func=self._connected,
        )
        self._thread = threading.Thread(target=self._run, name="latchkey-stamp", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def trusted(self) -> bytes | None:
        """The local stamp while the lease holds, else None (then Redis is asked)."""
        return self.value if _clock() < self._trusted_until else None

    def advance(self) -> None:
        """A change (or one that may have been missed): a value never used before."""
        self.value = f"lease:{self.id}:{next(self._changes)}".encode()

    def _connected(self, connection: Any) -> None:
        connection.on_connect()
        self._trusted_until = 0.0
        self.advance()  # what was published while it was away is lost

    def _run(self) -> None:
        failing = False
        while not self._stopped.is_set():
            try:
                self._listen()
                failing = False
            except Exception as exc:  # the thread must outlive any failure
                if not failing:
                    log.warning("Redis subscription lost (%s): reading the stamp each time", exc)
                failing = True
                self._stopped.wait(_RENEW_SECONDS)
            finally:
                self._trusted_until = 0.0

    def _listen(self) -> None:
        """Apply what is published; renew the lease while what was applied is current.
        Returns to subscribe again when it is not."""
        pubsub = self._client.pubsub()  # type: ignore[no-untyped-call]
        try:
            pubsub.subscribe(self._stamp.channel)
            _confirmed(pubsub)
            applied = self._stamp.current()  # subscribed first: nothing set after is missed
            self.advance()
            renew_at = 0.0
            missed = 0
            while not self._stopped.is_set():
                message = pubsub.get_message(timeout=max(0.0, renew_at - _clock()))
                if message is not None:  # apply everything waiting before renewing
                    if message["type"] == "message":
                        applied = message["data"]
                        self.advance()
                        self._stamp.acknowledge(applied, self.id)
                    continue
                started = _clock()
                granted = self._stamp.renew(self.id, applied)
                if granted < 0:
                    # Not the current value: a change whose message is still on its way (it
                    # is applied and acknowledged next), or one this subscription lost.
                    self._trusted_until = 0.0
                    self.advance()
                    missed += 1
                    if missed > 1:
                        return  # still not current a renewal later: subscribe again
                else:
                    missed = 0
                if granted > 0:
                    self._trusted_until = started + LEASE_SECONDS
                renew_at = started + _RENEW_SECONDS
        finally:
            pubsub.close()

    def close(self) -> None:
        if process_id() != self.pid:
            return  # a forked child's exit: the lease is its parent's
        self._stopped.set()
        self._trusted_until = 0.0
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=2 * LEASE_SECONDS)
        self._stamp.give_up(self.id)
