"""The management API (JSON under ``/api``): one blueprint, one error style (RFC 9457)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from keys.errors import DomainError
from keys.freshness import StampNotWritten
from oauth_server.api.problems import from_domain_error, problem
from oauth_server.extensions import csrf, db
from oauth_server.outages import OUTAGES, REDIS, RETRY_AFTER_SECONDS, unavailable

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api")
csrf.exempt(bp)


@bp.errorhandler(DomainError)
def domain_error(error: DomainError) -> Response:
    db.session.rollback()
    return from_domain_error(error)


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException) -> Response:
    db.session.rollback()
    status = error.code or 500
    detail = error.description or ""
    if status == 404:
        detail = f"No endpoint {request.method} {request.path}; see /openapi.json."
    elif status == 405:
        detail = f"{request.method} is not allowed on {request.path}; see /openapi.json."
    elif status == 413:
        detail = "The request body is too large."
    # What the exception says in headers stays said: a 405's Allow (RFC 9110 §15.5.6).
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    return problem(status, detail, headers=headers)


@bp.app_errorhandler(404)
@bp.app_errorhandler(405)
def routing_error(error: HTTPException) -> Response | HTTPException:
    """Routing errors (no such path or method) happen before any blueprint is chosen, so the
    blueprint's own handler never sees them: answer them as problems under ``/api`` too, and
    leave every other path's default response alone."""
    if request.path == "/api" or request.path.startswith("/api/"):
        if isinstance(error, MethodNotAllowed) and not _served(error.valid_methods or ()):
            error = NotFound()
        return http_error(error)
    return error


def _served(methods: Iterable[str]) -> bool:
    """Whether any of ``methods`` is served at this path.

    Werkzeug collects the methods of every rule whose pattern fits the path before it
    converts the path's values, so ``DELETE /api/keys/0`` is a 405 naming GET and PATCH
    (registered before DELETE) although no method serves it: 0 is no record id
    (:class:`oauth_server.RecordIdConverter`), and ``GET /api/keys/0`` is a 404. A path that
    no method serves is not found, whichever method asked."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    for method in methods:
        try:
            adapter.match(method=method)
        except (NotFound, MethodNotAllowed):
            continue
        except RequestRedirect:
            return True
        return True
    return False


@bp.errorhandler(StampNotWritten)
def not_announced(error: StampNotWritten) -> Response:
    """The change is committed, but Redis could not tell the other processes: say exactly
    that, and how to finish the job."""
    OUTAGES.failed(REDIS, error)
    return problem(
        503,
        "The change was saved, but other Latchkey processes could not be told (Redis is "
        "unreachable): they may still accept the old state. Once Redis is back, run "
        "`flask --app app invalidate-caches`.",
        code="change-not-announced",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


@bp.errorhandler(Exception)
def unexpected(error: Exception) -> Response:
    with contextlib.suppress(Exception):  # the connection may be the thing that is down
        db.session.rollback()
    down = unavailable(error)
    if down is not None:
        return problem(503, down.description, code="unavailable", headers=down.headers)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem(500, "Something went wrong on our side; the change was not saved.")


def register_views() -> None:
    """Import the view modules, which attach their routes to ``bp``."""
    from oauth_server.api import (  # noqa: F401
        apps,
        catalog,
        directory,
        keys,
        resource_servers,
        sessions,
        user_keys,
        webhooks,
    )
