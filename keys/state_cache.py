"""Per-process snapshots of credential state, trusted only under the stamp they were read at.

The hot paths (client authentication, introspection, token issuance) read the same few rows
over and over: the resource server's client record, an app and its org, an API key. This
cache keeps those rows in memory, each tagged with the :mod:`keys.freshness` stamp observed
*before* the row was read. A request observes the stamp once (:meth:`StateCache.view`) and
takes only entries tagged with it; any committed change to credential state writes a new
stamp (:func:`watch`), so after a revoke returns no process can serve the old row again.

Ordering is what makes this exact: the stamp is read before the row, and bumped after the
commit. An entry tagged with the current stamp was therefore read after every change that
was announced before the stamp was read.
"""

from __future__ import annotations

import contextlib
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from keys.base import DbSession
from keys.freshness import Stamp
from keys.models import ApiKey, CryptoKey, OAuthApp, Org, ResourceServer, RevokedToken, UserKey

T = TypeVar("T")

#: Entries per process. An entry (a key's row, its cache key and stamp) is about 830 bytes, so
#: 20,000 of them are ~17 MB, which keeps a worker under 150 MB. A full cache drops its least
#: recently used entry: the credentials in steady use stay, and one that comes back after a
#: while costs one indexed read (:mod:`keys.lookups`).
MAX_ENTRIES = 20_000

#: What a cached answer can depend on. A change to any of these tables, by any statement
#: that does not say otherwise, announces a change.
TRACKED_MODELS = (Org, OAuthApp, ResourceServer, ApiKey, UserKey, RevokedToken, CryptoKey)
TRACKED_TABLES = frozenset(m.__tablename__ for m in TRACKED_MODELS)

#: Execution option for a statement that changes tracked tables only in columns no cache
#: holds (usage counts): ``.execution_options(changes_credential_state=False)``.
OPTION = "changes_credential_state"

_CHANGED = "latchkey_state_changed"
_ENGINE = "latchkey_engine"
_MISSING = object()


class Tally(Protocol):
    """Something that counts (a Prometheus counter fits): how the web layer watches the
    cache's hits and misses without ``keys/`` knowing who counts."""

    def inc(self, amount: float = 1) -> None: ...


class _Uncounted:
    def inc(self, amount: float = 1) -> None:
        return None


class StateCache:
    def __init__(
        self,
        stamp: Stamp,
        max_entries: int = MAX_ENTRIES,
        hits: Tally | None = None,
        misses: Tally | None = None,
    ) -> None:
        self.stamp = stamp
        self._entries: OrderedDict[Hashable, tuple[bytes, Any]] = OrderedDict()
        self._max_entries = max_entries
        self.hits: Tally = hits or _Uncounted()
        self.misses: Tally = misses or _Uncounted()

    def view(self) -> View:
        """The cache as one request sees it. Observe before the request reads any state."""
        return View(self, self.stamp.read())

    def _get(self, seen: bytes, key: Hashable) -> Any:
        entry = self._entries.get(key)
        if entry is None or entry[0] != seen:
            return _MISSING
        with contextlib.suppress(KeyError):  # evicted by another thread meanwhile
            self._entries.move_to_end(key)
        return entry[1]

    def _put(self, seen: bytes, key: Hashable, value: Any) -> None:
        entries = self._entries
        entries[key] = (seen, value)
        entries.move_to_end(key)
        while len(entries) > self._max_entries:
            try:
                entries.popitem(last=False)
            except KeyError:  # emptied by other threads meanwhile
                break

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(frozen=True, slots=True)
class View:
    """One request's view: entries read under the stamp it observed (none if unknown)."""

    cache: StateCache | None
    seen: bytes | None

    def get(
        self, key: Hashable, load: Callable[[], T], keep: Callable[[T], bool] | None = None
    ) -> T:
        """The entry for ``key`` if read under this view's stamp, else ``load()``, kept unless
        ``keep`` says otherwise (answers a caller can be made to ask for without end, such
        as failures for guessed secrets, would evict the rows everyone needs)."""
        cache = self.cache
        if cache is None:
            return load()
        if self.seen is None:  # the stamp cannot be told: nothing may be served from memory
            cache.misses.inc()
            return load()
        value = cache._get(self.seen, key)
        if value is _MISSING:
            cache.misses.inc()
            value = load()
            if keep is None or keep(value):
                cache._put(self.seen, key, value)
        else:
            cache.hits.inc()
        return value  # type: ignore[no-any-return]


#: Reads straight from the database, for callers with no cache (tools, unit tests).
UNCACHED = View(None, None)


# -- announcing changes -----------------------------------------------------------------------

_stamps: weakref.WeakKeyDictionary[Engine, Stamp] = weakref.WeakKeyDictionary()


def watch(engine: Engine, stamp: Stamp) -> None:
    """Bump ``stamp`` after every commit, on ``engine``, that changed credential state.

    Changes are seen in every session (the request's, the key ring's, a CLI command's):
    ORM inserts, updates and deletes of tracked models at flush, and DML statements on
    tracked tables.
    """
    _stamps[engine] = stamp
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_begin", _after_begin)
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "do_orm_execute", _do_orm_execute)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)


def announce(session: DbSession) -> None:
    """Bump now, for a request that found its change already made and commits nothing.

    Two revokes of the same key: the second finds it revoked and changes nothing, possibly
    before the first one's bump has landed. It must not answer success before every process
    can see the revoke, so it announces it too (a spare bump costs a cache refill).
    """
    engine = session.info.get(_ENGINE)
    stamp = _stamps.get(engine) if engine is not None else None
    if stamp is not None:
        stamp.bump()


def _after_begin(session: Session, _tx: SessionTransaction, connection: Connection) -> None:
    session.info[_ENGINE] = connection.engine


def _after_flush(session: Session, _context: Any) -> None:
    if any(
        isinstance(obj, TRACKED_MODELS)
        for group in (session.new, session.dirty, session.deleted)
        for obj in group
    ):
        session.info[_CHANGED] = True


def _do_orm_execute(state: ORMExecuteState) -> None:
    if state.is_select or not state.execution_options.get(OPTION, True):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in TRACKED_TABLES:
        state.session.info[_CHANGED] = True


def _after_commit(session: Session) -> None:
    engine = session.info.get(_ENGINE)
    if session.info.pop(_CHANGED, False) and engine is not None:
        stamp = _stamps.get(engine)
        if stamp is not None:
            stamp.bump()


def _after_rollback(session: Session) -> None:
    session.info.pop(_CHANGED, None)
