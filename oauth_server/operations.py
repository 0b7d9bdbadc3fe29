"""The operations endpoints (DESIGN.md, "Operations endpoints"), for load balancers and
orchestrators: is the process alive (``/healthz``), may it be sent traffic (``/readyz``);
``/metrics`` is :mod:`oauth_server.metrics`.

``/healthz`` touches nothing, so a database outage does not get every process restarted
(which would not help). ``/readyz`` asks each dependency, with short timeouts, and names
what is not ready: the database unreachable, its schema behind the code's migrations (run
``flask --app app db upgrade``), Redis unreachable where ``REDIS_URL`` is set.
"""

from __future__ import annotations

from functools import cache

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, Response, current_app, jsonify
from redis import Redis

from oauth_server import outages
from oauth_server.extensions import db

#: Seconds a readiness probe waits for Redis; a probe must answer before the prober gives up.
REDIS_TIMEOUT = 1.0

_REDIS = "latchkey_readiness_redis"


def init_operations(app: Flask) -> None:
    app.add_url_rule("/healthz", "healthz", healthz)
    app.add_url_rule("/readyz", "readyz", readyz)


def healthz() -> Response:
    """200 while the process serves; no dependency is asked."""
    response = jsonify(status="ok")
    response.headers["Cache-Control"] = "no-store"
    return response


def readyz() -> Response:
    """200 when the database answers at the migrations' head (and Redis answers, where
    configured); otherwise 503 with ``Retry-After`` and, per check, what is wrong."""
    checks = {"database": _database()}
    if current_app.config["REDIS_URL"]:
        checks["redis"] = _redis()
    ready = all(result == "ok" for result in checks.values())
    response = jsonify(status="ok" if ready else "not ready", checks=checks)
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    if not ready:
        response.headers["Retry-After"] = str(outages.RETRY_AFTER_SECONDS)
    return response


@cache
def migration_heads() -> frozenset[str]:
    """The revisions the code expects (read once: the files do not change under a process)."""
    from oauth_server import MIGRATIONS_DIR

    return frozenset(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())


def _database() -> str:
    try:
        with db.engine.connect() as connection:
            current = frozenset(MigrationContext.configure(connection).get_current_heads())
    except Exception as exc:
        down = outages.unavailable(exc)
        if down is None:
            raise
        return "unreachable"
    expected = migration_heads()
    if current != expected:
        at = ", ".join(sorted(current)) or "no migration"
        return (
            f"schema at {at}, the code needs {', '.join(sorted(expected))}: run "
            "`flask --app app db upgrade`"
        )
    return "ok"


def _redis() -> str:
    client: Redis | None = current_app.extensions.get(_REDIS)
    if client is None:
        client = current_app.extensions[_REDIS] = Redis.from_url(
            current_app.config["REDIS_URL"],
            socket_timeout=REDIS_TIMEOUT,
            socket_connect_timeout=REDIS_TIMEOUT,
        )
    try:
        client.ping()
    except Exception as exc:
        if outages.unavailable(exc) is None:
            raise
        return "unreachable"
    outages.OUTAGES.recovered(outages.REDIS)
    return "ok"
