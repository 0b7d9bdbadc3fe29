"""Usage counting: in memory per process, written to the database in batches.

Verification must not write per request (a write per introspection would serialise the hot
path on the database). Each process tallies uses per key and a background thread adds them
to ``usage_count`` / ``last_used_at`` / ``last_used_ip`` every few seconds, as
``usage_count = usage_count + n`` so processes never overwrite each other.

However many keys were used, a flush is one short transaction: on PostgreSQL one statement
per kind of key (``UPDATE … FROM unnest(…)``, the batch as four arrays), under a
transaction-level advisory lock so that two processes' flushes never deadlock on each
other's rows; on SQLite one ``executemany`` per kind, by one process at a time (a lock file
beside the database: a process that finds another flushing keeps its tallies for the next
round rather than wait on SQLite's write lock). Readers never wait for it: PostgreSQL's
readers take no row locks, and SQLite runs in WAL mode.
:meth:`UsageCounter.close` writes what is left; it runs at interpreter exit, which covers a
graceful shutdown of a gunicorn worker. A failed write keeps the tallies for the next try,
and is logged once until a write succeeds again (an outage of the database is one line, not
one every few seconds per process).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import multiprocessing.util
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    Table,
    bindparam,
    case,
    column,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from keys import state_cache
from keys.clock import now_ms
from keys.models import ApiKey, UserKey
from keys.process import process_id
from keys.verification import KeyKind

log = logging.getLogger("latchkey.usage")

_TABLES: dict[KeyKind, Any] = {"api_key": ApiKey, "user_key": UserKey}


@dataclass
class _Tally:
    count: int
    last_at: int
    last_ip: str | None
    first_at: int


#: The flush's hook (the web layer's metrics): the age in seconds of the oldest use a batch
#: wrote, or None for a write that failed.
FlushHook = Callable[[float | None], None]


def _add_counts(table: Table, key_id: Any, n: Any, at: Any, ip: Any) -> Any:
    """``usage_count += n`` for the key ``key_id``, and its last use if ``at`` is newer."""
    newer = or_(table.c.last_used_at.is_(None), table.c.last_used_at < at)
    return (
        update(table)
        .where(table.c.id == key_id)
        .execution_options(**{state_cache.OPTION: False})  # counts only: no cached state
        .values(
            usage_count=table.c.usage_count + n,
            last_used_at=case((newer, at), else_=table.c.last_used_at),
            last_used_ip=case((newer, ip), else_=table.c.last_used_ip),
        )
    )


def _statement(model: Any) -> Any:
    """One row's UPDATE, for ``executemany``."""
    return _add_counts(
        model.__table__, bindparam("key_id"), bindparam("n"), bindparam("at"), bindparam("ip")
    )


def _batch_statement(model: Any) -> Any:
    """PostgreSQL: the whole batch in one UPDATE, joined to ``unnest`` of four arrays (a
    statement of four parameters, however many keys)."""
    batch = (
        func.unnest(
            bindparam("key_ids", type_=ARRAY(Integer)),
            bindparam("ns", type_=ARRAY(BigInteger)),
            bindparam("ats", type_=ARRAY(BigInteger)),
            bindparam("ips", type_=ARRAY(String)),
        )
        .table_valued(
            column("key_id", Integer),
            column("n", BigInteger),
            column("at", BigInteger),
            column("ip", String),
        )
        .render_derived(name="batch")
    )
    return _add_counts(model.__table__, batch.c.key_id, batch.c.n, batch.c.at, batch.c.ip)


#: Any number that is Latchkey's alone among the advisory locks of its database.
_FLUSH_LOCK = 0x4C4B5553  # "LKUS"


def _write(session: Session, batch: dict[tuple[KeyKind, int], _Tally]) -> None:
    """Add ``batch`` to the stored counts (the caller commits)."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql:
        session.execute(select(func.pg_advisory_xact_lock(_FLUSH_LOCK)))
    for kind in _TABLES:
        rows = [(key_id, t) for (k, key_id), t in batch.items() if k == kind]
        if not rows:
            continue
        if postgresql:
            session.execute(
                _BATCH_STATEMENTS[kind],
                {
                    "key_ids": [key_id for key_id, _ in rows],
                    "ns": [t.count for _, t in rows],
                    "ats": [t.last_at for _, t in rows],
                    "ips": [t.last_ip for _, t in rows],
                },
            )
        else:
            session.execute(
                _STATEMENTS[kind],
                [
                    {"key_id": key_id, "n": t.count, "at": t.last_at, "ip": t.last_ip}
                    for key_id, t in rows
                ],
            )


_STATEMENTS = {kind: _statement(model) for kind, model in _TABLES.items()}
_BATCH_STATEMENTS = {kind: _batch_statement(model) for kind, model in _TABLES.items()}


@contextlib.contextmanager
def _one_writer(session: Session, wait: bool) -> Iterator[bool]:
    """SQLite: whether this process holds the flush lock file (beside the database), so one
    process writes at a time; without ``wait``, another's flush means "not now". Other
    databases serialise flushes themselves (:func:`_write`)."""
    url = session.get_bind().engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        yield True
        return
    fd = os.open(f"{url.database}.usage-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing the descriptor releases the lock


class UsageCounter:
    """Per-process tallies of key uses, flushed every ``interval`` seconds."""

    def __init__(
        self,
        session_factory: Callable[[], Session],
        interval: float = 2.0,
        on_flush: FlushHook | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._interval = interval
        self._on_flush = on_flush
        self._failing = False
        self._lock = threading.Lock()
        self._pending: dict[tuple[KeyKind, int], _Tally] = {}
        self._pid: int | None = None
        self._stop = threading.Event()
        # Graceful shutdown writes what is left: atexit for gunicorn's workers and
        # `python app.py`; granian's workers are multiprocessing children, which leave
        # through os._exit after running multiprocessing's own exit finalizers instead.
        atexit.register(self.close)
        multiprocessing.util.Finalize(None, self.close, exitpriority=10)

    def hit(self, kind: KeyKind, key_id: int, ip: str | None) -> None:
        """Count one use now. Starts this process's flusher on first use (after a fork the
        parent's thread does not exist in the child)."""
        at = now_ms()
        with self._lock:
            if self._pid != process_id():
                self._start()
            tally = self._pending.get((kind, key_id))
            if tally is None:
                self._pending[(kind, key_id)] = _Tally(1, at, ip, at)
            else:
                tally.count += 1
                tally.last_at, tally.last_ip = at, ip

    def pending(self, kind: KeyKind, key_id: int) -> int:
        """Uses counted here and not yet written."""
        with self._lock:
            tally = self._pending.get((kind, key_id))
            return tally.count if tally else 0

    def flush(self, wait: bool = True) -> int:
        """Write the tallies; returns how many keys' rows were updated. Without ``wait``, a
        flush that another process is making (on SQLite) puts this one off."""
        with self._lock:
            batch, self._pending = self._pending, {}
        if not batch:
            return 0
        try:
            with self._session_factory() as session, _one_writer(session, wait) as mine:
                if not mine:
                    self._merge_back(batch)
                    return 0
                _write(session, batch)
                session.commit()
        except Exception as exc:
            if not self._failing:
                log.warning(
                    "could not write usage counts (%s: %s); keeping them and retrying every %s s",
                    type(exc).__name__,
                    str(exc).splitlines()[0] if str(exc) else "",
                    self._interval,
                )
            self._failing = True
            self._merge_back(batch)
            if self._on_flush is not None:
                self._on_flush(None)
            return 0
        if self._failing:
            log.warning("usage counts written again")
            self._failing = False
        if self._on_flush is not None:
            oldest = min(t.first_at for t in batch.values())
            self._on_flush(max(0.0, (now_ms() - oldest) / 1000))
        return len(batch)

    def close(self) -> None:
        """Stop the flusher and write what is left (graceful shutdown)."""
        self._stop.set()
        self.flush()

    def _merge_back(self, batch: dict[tuple[KeyKind, int], _Tally]) -> None:
        with self._lock:
            for ident, old in batch.items():
                tally = self._pending.get(ident)
                if tally is None:
                    self._pending[ident] = old
                else:
                    tally.count += old.count
                    tally.first_at = min(tally.first_at, old.first_at)
                    if old.last_at > tally.last_at:
                        tally.last_at, tally.last_ip = old.last_at, old.last_ip

    def _start(self) -> None:
        self._pid = process_id()
        self._pending = {}  # a forked child must not write its parent's tallies twice
        self._stop = threading.Event()
        threading.Thread(target=self._run, name="latchkey-usage", daemon=True).start()

    def _run(self) -> None:
        stop = self._stop
        while not stop.wait(self._interval):
            self.flush(wait=False)
