"""The stamp that says "credential state changed": what keeps every process's caches honest.

Every commit that changes an org, app, resource server, API key, user key, revoked token id
or crypto key writes a new stamp (:mod:`keys.state_cache` does it, after the commit and before
the change's response is sent). A request reads the stamp once, before it reads any state,
and trusts only cache entries read under that same stamp. So a revoke is seen by the very
next request in every process that shares the stamp: caches are invalidated, not aged.

Where the stamp lives decides who shares it:

* :class:`FileStamp` — eight bytes of a memory-mapped file in the instance folder, shared
  by every process on the host (a read is a memory read). The embedded default: SQLite is
  one host's database anyway.
* :class:`RedisStamp` — a Redis key (``REDIS_URL``), shared by every process on every host;
  each process reads its own copy while a lease from Redis vouches for it, and a change
  returns only once every lease holder has applied it (or its lease has run out).
* :class:`NoStamp` — nobody can be told: a shared database without Redis. Nothing is cached,
  every request reads the database, and revocation stays immediate that way.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import mmap
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger("latchkey")

STAMP_SIZE = 8


class StampNotWritten(Exception):
    """A committed change could not be announced: other processes may serve the old state
    until the next announcement (``flask invalidate-caches``)."""


class Stamp(Protocol):
    def read(self) -> bytes | None:
        """The current stamp, or None when it cannot be told (then nothing may be cached)."""

    def bump(self) -> None:
        """Announce a change to every process that reads this stamp."""


class FileStamp:
    """A stamp in shared memory: a file every process on the host maps.

    A bump writes eight fresh random bytes, so two processes bumping at once can never land
    on a value some cache entry was read under (a counter's read-modify-write could).
    """

    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < STAMP_SIZE:
                os.pwrite(fd, os.urandom(STAMP_SIZE), 0)
            self._map = mmap.mmap(fd, STAMP_SIZE)
        finally:
            os.close(fd)

    def read(self) -> bytes:
        return self._map[:STAMP_SIZE]

    def bump(self) -> None:
        self._map[:STAMP_SIZE] = os.urandom(STAMP_SIZE)


#: How long a process trusts its own copy of a Redis stamp after Redis last answered it in
#: order (:class:`RedisStamp`); also the longest a change waits for a process that has
#: stopped answering.
LEASE_SECONDS = 1.0
_PING_SECONDS = LEASE_SECONDS / 4
#: Added to every wait on another process's lease: clocks that run at slightly different
#: rates, and the time between Redis's clock and the waiter's.
_LEASE_MARGIN_SECONDS = 0.05
#: How long Redis keeps a renewed lease: the holder's trust, plus the margin.
_LEASE_MS = int((LEASE_SECONDS + _LEASE_MARGIN_SECONDS) * 1000)

#: A lease holder renews its lease; true once the lease epoch has begun (see RedisStamp).
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local epoch = tonumber(redis.call('GET', KEYS[2]))
if not epoch then
  epoch = now + tonumber(ARGV[2])
  redis.call('SET', KEYS[2], epoch)
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
if epoch <= now then return 1 end
return 0
"""

#: A writer's view of the lease holders: Redis's time, the epoch, and [id, lease end, ...].
_HOLDERS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local epoch = tonumber(redis.call('GET', KEYS[2]))
if not epoch then
  epoch = now + tonumber(ARGV[1])
  redis.call('SET', KEYS[2], epoch)
end
return {now, epoch, redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')}
"""


class RedisStamp:
    """A stamp in Redis, for processes on many hosts, read from memory while Redis vouches
    for it.

    Reading Redis on every request cost a PostgreSQL deployment a third of an introspection's
    CPU under load (the round trip, and the thread switches around it). So each process keeps
    a copy of its own, and trusts it only under a lease that Redis keeps renewing:

    * The process subscribes to the stamp's channel, and every quarter of a lease sends a
      PING down the same connection. Redis answers in order, so when the PONG arrives every
      change published before the PING has been received, and applied (a new local value:
      entries read under the old one never match again). The process then renews its lease
      in Redis and trusts its copy until the PING's time plus ``LEASE_SECONDS``; Redis keeps
      the lease a little longer than that.
    * A change (:meth:`bump`) writes the value, publishes, and waits for every other
      process holding a lease to say it applied it, or for that lease to run out. So when
      the change's response is sent, no process answers from the state before it: the same
      guarantee as reading Redis on every request, paid by the write, not by every read.
    * Lost messages: a (re)connected subscription counts as a change, since anything may
      have been published while it was away. A process whose PONGs stop coming stops
      trusting its copy when its lease ends, and reads Redis on every request meanwhile.
    * A restarted Redis has lost its leases: the lease epoch, kept beside them, is then
      missing, and whoever finds it missing starts a new one a lease from now. Until then no
      process trusts a copy, and a change waits for it to begin (any lease from before the
      restart has run out by then).

    When it is not trusted, the stamp is read from Redis: Redis's value followed by how many
    times this process has connected to Redis (after a reconnect, Redis may hold an older
    value again, one restored from a snapshot or a replica's that missed the last write, and
    entries read under it before must not match again). Each thread reads through a
    connection of its own, with the GET packed once.

    If Redis cannot be reached the stamp is unknown and nothing is served from cache (the
    database answers), rather than trusting entries nobody can vouch for. A bump that cannot
    be written raises: the change is committed, but its caller must not report success while
    other processes may still serve the old state (``flask invalidate-caches`` repairs it).
    """

    def __init__(self, url: str, key: str) -> None:
        self._url = url
        self._redis = Redis.from_url(url, socket_timeout=1, redis_connect_func=self._connected)
        self._key = key
        self.channel = f"{key}:changes"
        self._leases = f"{key}:leases"
        self._epoch = f"{key}:epoch"
        self._local = threading.local()
        self._connects = 0
        self._listener: _Listener | None = None
        self._lock = threading.Lock()
        self._renew = self._redis.register_script(_RENEW)
        self._holders = self._redis.register_script(_HOLDERS)

    def _connected(self, connection: Any) -> None:
        connection.on_connect()  # what redis-py does when no callback is given
        self._connects += 1

    def _own(self) -> tuple[Any, Any]:
        """This thread's connection and its packed GET (a forked child makes its own: sockets
        are not shared)."""
        own: tuple[int, Any, Any] | None = getattr(self._local, "own", None)
        if own is None or own[0] != os.getpid():
            connection = self._redis.connection_pool.make_connection()
            own = self._local.own = (
                os.getpid(),
                connection,
                connection.pack_command("GET", self._key),  # type: ignore[no-untyped-call]
            )
        return own[1], own[2]

    def listener(self) -> _Listener:
        """This process's subscription (started on first use: a forked child starts its own)."""
        listener = self._listener
        if listener is None or listener.pid != os.getpid():
            with self._lock:
                listener = self._listener
                if listener is None or listener.pid != os.getpid():
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
                # Never set, or lost (a Redis restart, an eviction): a fresh random stamp,
                # so no entry read under the lost one can match again.
                self._redis.set(self._key, os.urandom(STAMP_SIZE), nx=True)
                value = self._redis.get(self._key)
        except RedisError:
            log.warning("Redis unreachable: serving credential state from the database")
            return None
        if not isinstance(value, bytes):
            return None
        return value + self._connects.to_bytes(8, "big")

    def bump(self) -> None:
        message = secrets.token_hex(8)
        try:
            holders = self._announce(message)
        except RedisError:
            log.exception("could not announce a credential change through Redis; retrying")
            try:
                holders = self._announce(message)
            except RedisError as exc:
                raise StampNotWritten(str(exc)) from exc
        listener = self._listener
        if listener is not None and listener.pid == os.getpid():
            listener.advance()  # this process sees its own change at once
            holders.pop(listener.id, None)
        self._await_holders(message, holders)

    def _announce(self, message: str) -> dict[str, float]:
        """Write and publish the change; the lease holders, each with the monotonic time by
        which it has applied the change or stopped trusting its copy."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(self._key, os.urandom(STAMP_SIZE))
        pipe.publish(self.channel, message)
        self._holders(
            keys=[self._leases, self._epoch], args=[int(LEASE_SECONDS * 1000)], client=pipe
        )
        _, _, (now_ms, epoch_ms, flat) = pipe.execute()
        at = time.monotonic() + _LEASE_MARGIN_SECONDS
        holders = {
            holder.decode(): at + (float(ends_ms) - now_ms) / 1000
            for holder, ends_ms in zip(flat[::2], flat[1::2], strict=True)
        }
        if epoch_ms > now_ms:  # a new epoch: a lease from before it may still be trusted
            holders[""] = at + (epoch_ms - now_ms) / 1000
        return holders

    def _await_holders(self, message: str, holders: dict[str, float]) -> None:
        acks = f"{self._key}:ack:{message}"
        try:
            while holders:
                now = time.monotonic()
                holders = {holder: ends for holder, ends in holders.items() if ends > now}
                if not holders:
                    break
                if set(holders) == {""}:
                    time.sleep(holders[""] - now)
                    break
                popped = self._redis.blpop([acks], timeout=min(0.25, max(holders.values()) - now))
                if popped is not None:
                    holder = popped[1]
                    holders.pop(holder.decode() if isinstance(holder, bytes) else holder, None)
            self._redis.delete(acks)
        except RedisError:
            # Announced, but the acknowledgements cannot be read: wait the leases out.
            time.sleep(max(0.0, max(holders.values(), default=0.0) - time.monotonic()))

    def acknowledge(self, message: bytes, holder: str) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.rpush(f"{self._key}:ack:{message.decode()}", holder)
        pipe.expire(f"{self._key}:ack:{message.decode()}", 60)
        pipe.execute()

    def renew(self, holder: str) -> bool:
        """Renew ``holder``'s lease; whether the lease epoch has begun."""
        return bool(self._renew(keys=[self._leases, self._epoch], args=[holder, _LEASE_MS]))

    def close(self) -> None:
        """Stop this process's subscription and give up its lease (tests, shutdown)."""
        listener = self._listener
        if listener is not None and listener.pid == os.getpid():
            listener.close()


class _Listener:
    """One process's subscription to a :class:`RedisStamp`'s changes, and its lease."""

    def __init__(self, stamp: RedisStamp) -> None:
        self.pid = os.getpid()
        self.id = secrets.token_hex(8)
        self._stamp = stamp
        self._changes = itertools.count(1)
        self.value = b""
        self.advance()
        self._trusted_until = 0.0
        self._stopped = threading.Event()
        self._client = Redis.from_url(
            stamp._url, socket_timeout=LEASE_SECONDS, redis_connect_func=self._connected
        )
        self._thread = threading.Thread(target=self._run, name="latchkey-stamp", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def trusted(self) -> bytes | None:
        """The local stamp while the lease holds, else None (then Redis is asked)."""
        return self.value if time.monotonic() < self._trusted_until else None

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
            except (RedisError, OSError) as exc:
                if not failing:
                    log.warning("Redis subscription lost (%s): reading the stamp each time", exc)
                failing = True
            self._trusted_until = 0.0
            self._stopped.wait(_PING_SECONDS)

    def _listen(self) -> None:
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        try:
            pubsub.subscribe(self._stamp.channel)
            pings: dict[bytes, float] = {}
            next_ping = 0.0
            while not self._stopped.is_set():
                now = time.monotonic()
                if now >= next_ping:
                    token = str(now).encode()
                    pings[token] = now
                    pubsub.ping(token.decode())
                    next_ping = now + _PING_SECONDS
                message = pubsub.get_message(timeout=max(0.0, next_ping - time.monotonic()))
                if message is None:
                    continue
                if message["type"] == "message":
                    self.advance()
                    self._stamp.acknowledge(message["data"], self.id)
                elif message["type"] == "pong" and message["data"] in pings:
                    sent = pings.pop(message["data"])
                    pings = {token: at for token, at in pings.items() if at > sent}
                    if self._stamp.renew(self.id):
                        self._trusted_until = sent + LEASE_SECONDS
        finally:
            pubsub.close()

    def close(self) -> None:
        self._stopped.set()
        self._trusted_until = 0.0
        with contextlib.suppress(RedisError):
            self._stamp._redis.zrem(self._stamp._leases, self.id)


class NoStamp:
    def read(self) -> None:
        return None

    def bump(self) -> None:
        return None
