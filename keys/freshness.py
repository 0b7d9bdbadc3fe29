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
* :class:`~keys.redis_lease.RedisStamp` — a Redis key (``REDIS_URL``), shared by every
  process on every host; each process reads its own copy while it holds a lease, which
  Redis renews only for a process that has applied the current value, and a change returns
  only once every lease holder has applied it (or its lease has run out).
* :class:`NoStamp` — nobody can be told: a shared database without Redis. Nothing is cached,
  every request reads the database, and revocation stays immediate that way.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path
from typing import Protocol

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


class NoStamp:
    def read(self) -> None:
        return None

    def bump(self) -> None:
        return None
