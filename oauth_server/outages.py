"""A dependency that is down (the database, Redis): 503 with ``Retry-After``, never a 500
(DESIGN.md, "Operations endpoints"), logged once per outage, and over when it answers again.

Each interface renders the 503 in its own style (RFC 6749 ``temporarily_unavailable`` on
``/oauth``, RFC 9457 problem details on ``/api``, a page in the console) from the one
:class:`Unavailable` that :func:`unavailable` makes of the error. Nothing is retried or
cached around the outage: a request that needs the dependency fails at once, so a revoked
credential is never answered from anywhere but the database (fail closed), and the first
request after the dependency is back succeeds (no restart, no breaker to wait out).

"Once per outage" is per process: each worker logs the first failure it sees, and the
return of the dependency when it next reaches it (a connection checked out of the pool, a
throttle answered by Redis).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from flask import Flask, Response, jsonify
from limits.errors import StorageError
from redis import exceptions as redis_errors
from sqlalchemy import event
from sqlalchemy import exc as sql_errors
from sqlalchemy.engine import Engine

from oauth_server.extensions import db

log = logging.getLogger("latchkey")

DATABASE = "database"
REDIS = "Redis"

#: Seconds a client is asked to wait: long enough not to hammer a recovering dependency,
#: short enough that a brief failover costs little.
RETRY_AFTER_SECONDS = 5

_REDIS_DOWN = (
    redis_errors.ConnectionError,  # refused, reset, authentication, loading
    redis_errors.TimeoutError,
    redis_errors.ReadOnlyError,  # a replica after a failover
    redis_errors.ClusterDownError,
    redis_errors.TryAgainError,
    StorageError,  # ``limits``, when it wraps the client's errors
)
_DATABASE_DOWN = (
    sql_errors.OperationalError,  # refused, terminated, "database is locked"
    sql_errors.InterfaceError,
    sql_errors.TimeoutError,  # no connection free in the pool
)


@dataclass(frozen=True, slots=True)
class Unavailable:
    """A request refused because ``dependency`` is down."""

    dependency: str
    retry_after: int = RETRY_AFTER_SECONDS

    @property
    def description(self) -> str:
        subject = "The database is" if self.dependency == DATABASE else f"{self.dependency} is"
        return (
            f"{subject} unreachable, so Latchkey cannot answer this now; nothing was changed. "
            f"Retry in {self.retry_after} seconds."
        )

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


def dependency_of(error: BaseException) -> str | None:
    """Which dependency ``error`` says is down, looking through what caused it; None for
    any other error (a bug is a 500, and is logged with its traceback)."""
    seen: BaseException | None = error
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, _REDIS_DOWN):
            return REDIS
        if isinstance(seen, _DATABASE_DOWN) or (
            isinstance(seen, sql_errors.DBAPIError) and seen.connection_invalidated
        ):
            return DATABASE
        seen = seen.__cause__ or seen.__context__
    return None


class Outages:
    """This process's view of which dependencies are down, and since when."""

    def __init__(self) -> None:
        self._down: dict[str, float] = {}
        self._lock = threading.Lock()

    def failed(self, dependency: str, error: BaseException) -> None:
        """Log the first failure of an outage, not the ones after it."""
        if dependency in self._down:
            return
        with self._lock:
            if dependency in self._down:
                return
            self._down[dependency] = time.monotonic()
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        log.error(
            "%s unreachable (%s: %s): answering 503 with Retry-After until it is back",
            dependency,
            type(error).__name__,
            first_line[:200],
            extra={"outage": dependency},
        )

    def recovered(self, dependency: str) -> None:
        """``dependency`` answered: if it was down, the outage is over (logged once)."""
        if dependency not in self._down:  # the hot path: nothing is down
            return
        with self._lock:
            since = self._down.pop(dependency, None)
        if since is not None:
            log.warning(
                "%s reachable again after %.1f s",
                dependency,
                time.monotonic() - since,
                extra={"recovered": dependency},
            )

    def is_down(self, dependency: str) -> bool:
        return dependency in self._down


OUTAGES = Outages()


def unavailable(error: BaseException) -> Unavailable | None:
    """The 503 that ``error`` calls for (noting the outage), or None if it is no outage."""
    dependency = dependency_of(error)
    if dependency is None:
        return None
    OUTAGES.failed(dependency, error)
    return Unavailable(dependency)


def init_outages(app: Flask) -> None:
    """Outside the API's and the console's blueprints (each renders its own 503), an outage
    is answered as the OAuth endpoints answer it: the RFC 8414 metadata's JWKS, for one,
    reads the database. Registered for the outage errors only, so every other error keeps
    its own handling."""
    for error in _REDIS_DOWN + _DATABASE_DOWN:
        app.register_error_handler(error, _oauth_style)
    with app.app_context():
        watch_database(db.engine)


def _oauth_style(error: Exception) -> Response:
    down = unavailable(error)
    if down is None:  # an InterfaceError that is no outage, say: the usual 500
        raise error
    body = {"error": "temporarily_unavailable", "error_description": down.description}
    response = jsonify(body)
    response.status_code = 503
    response.headers.update({**down.headers, "Cache-Control": "no-store"})
    return response


def watch_database(engine: Engine) -> None:
    """A connection handed out by the pool means the database answers again (with
    ``pool_pre_ping``, a connection is checked before it is handed out)."""
    if not event.contains(engine, "checkout", _checked_out):
        event.listen(engine, "checkout", _checked_out)


def _checked_out(*_args: object) -> None:
    OUTAGES.recovered(DATABASE)
