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
* :class:`RedisStamp` — a Redis key (``REDIS_URL``), shared by every process on every host.
* :class:`NoStamp` — nobody can be told: a shared database without Redis. Nothing is cached,
  every request reads the database, and revocation stays immediate that way.
"""

from __future__ import annotations

import logging
import mmap
import os
import threading
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


class RedisStamp:
    """A stamp in Redis, for processes on many hosts.

    If Redis cannot be reached the stamp is unknown and nothing is served from cache (the
    database answers), rather than trusting entries nobody can vouch for. A bump that cannot
    be written raises: the change is committed, but its caller must not report success while
    other processes may still serve the old state (``flask invalidate-caches`` repairs it).

    What a process reads is Redis's value followed by how many times this process has
    connected to Redis. After a reconnect (a Redis restart, a failover) Redis may hold an
    older value again — one restored from a snapshot, or a replica's that missed the last
    write — and entries read under it before must not match again.

    Each thread reads through a connection of its own, with the GET packed once: the read
    happens on every request, and going through the client (pool checkout, retry wrapper,
    command packing, response callbacks) cost a third of it again. A connection that fails
    is closed by redis-py and opens again on the next read.
    """

    def __init__(self, url: str, key: str) -> None:
        self._redis = Redis.from_url(url, socket_timeout=1, redis_connect_func=self._connected)
        self._key = key
        self._local = threading.local()
        self._connects = 0

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

    def read(self) -> bytes | None:
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
        try:
            self._redis.set(self._key, os.urandom(STAMP_SIZE))
        except RedisError:
            log.exception("could not announce a credential change through Redis; retrying")
            try:
                self._redis.set(self._key, os.urandom(STAMP_SIZE))
            except RedisError as exc:
                raise StampNotWritten(str(exc)) from exc


class NoStamp:
    def read(self) -> None:
        return None

    def bump(self) -> None:
        return None
