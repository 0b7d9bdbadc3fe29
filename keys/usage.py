"""Usage counting: in memory per process, written to the database in batches.

Verification must not write per request (a write per introspection would serialise the hot
path on the database). Each process tallies uses per key and a background thread adds them
to ``usage_count`` / ``last_used_at`` / ``last_used_ip`` every few seconds, one UPDATE per
key used, as ``usage_count = usage_count + n`` so processes never overwrite each other.
:meth:`UsageCounter.close` writes what is left; it runs at interpreter exit, which covers a
graceful shutdown of a gunicorn worker. A failed write keeps the tallies for the next try,
and is logged once until a write succeeds again (an outage of the database is one line, not
one every few seconds per process).
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing.util
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, case, or_, update
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


def _statement(model: Any) -> Any:
    table: Table = model.__table__
    newer = or_(table.c.last_used_at.is_(None), table.c.last_used_at < bindparam("at"))
    return (
        update(table)
        .where(table.c.id == bindparam("key_id"))
        .execution_options(**{state_cache.OPTION: False})  # counts only: no cached state
        .values(
            usage_count=table.c.usage_count + bindparam("n"),
            last_used_at=case((newer, bindparam("at")), else_=table.c.last_used_at),
            last_used_ip=case((newer, bindparam("ip")), else_=table.c.last_used_ip),
        )
    )


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

    def flush(self) -> int:
        """Write the tallies; returns how many keys' rows were updated."""
        with self._lock:
            batch, self._pending = self._pending, {}
        if not batch:
            return 0
        try:
            with self._session_factory() as session:
                for kind, model in _TABLES.items():
                    params = [
                        {"key_id": key_id, "n": t.count, "at": t.last_at, "ip": t.last_ip}
                        for (k, key_id), t in batch.items()
                        if k == kind
                    ]
                    if params:
                        session.execute(_statement(model), params)
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
            self.flush()
