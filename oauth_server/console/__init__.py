"""The admin console: server-rendered pages on Flask-WTF forms and Flask-Login sessions.

One blueprint, one error style: HTML pages, with messages next to the fields they concern.
Views call the credential services of ``keys/`` directly and commit once.
"""

from __future__ import annotations

import contextlib
import logging

from flask import Blueprint, g, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from keys.errors import DomainError
from oauth_server.extensions import db, login_manager
from oauth_server.outages import unavailable

log = logging.getLogger(__name__)

bp = Blueprint("console", __name__)

Page = tuple[str, int] | tuple[str, int, dict[str, str]]


@bp.errorhandler(CSRFError)
def csrf_failed(error: CSRFError) -> Page:
    """A form without a valid token: stale (signed for an hour), or posted by another site."""
    db.session.rollback()
    return (
        render_template(
            "console/error.html",
            title="This form has expired",
            message="The form was open too long, or it did not come from this site. "
            "Go back, reload the page and try again.",
        ),
        400,
    )


@bp.errorhandler(DomainError)
def domain_error(error: DomainError) -> Page:
    db.session.rollback()
    return (
        render_template("console/error.html", title=error.title, message=error.message),
        error.status,
    )


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException) -> Page:
    db.session.rollback()
    status = error.code or 500
    messages = {
        403: "Your role does not allow this page. Ask an admin of your organization.",
        404: "There is nothing here. It may have been deleted.",
        405: f"{request.method} is not allowed here.",
    }
    return (
        render_template(
            "console/error.html",
            title=error.name,
            message=messages.get(status, error.description or ""),
        ),
        status,
    )


@bp.errorhandler(Exception)
def unexpected(error: Exception) -> Page:
    with contextlib.suppress(Exception):  # the connection may be the thing that is down
        db.session.rollback()
    down = unavailable(error)
    if down is not None:
        # The page's header asks who is signed in; unanswered (the database is down), that
        # would raise again inside this handler. Nobody is, for this page.
        g._login_user = login_manager.anonymous_user()
        page = render_template(
            "console/error.html", title="Temporarily unavailable", message=down.description
        )
        return page, 503, down.headers
    log.exception("unhandled error on %s %s", request.method, request.path)
    return (
        render_template(
            "console/error.html",
            title="Something went wrong",
            message="Something went wrong on our side; the change was not saved.",
        ),
        500,
    )


def register_views() -> None:
    """Import the view modules, which attach their routes to ``bp``."""
    from oauth_server.console import (  # noqa: F401
        api_keys,
        apps,
        audit,
        auth,
        directory,
        display,
        docs,
        home,
        user_keys,
        webhooks,
    )
