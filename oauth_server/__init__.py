"""Latchkey's web service: the app factory is the one place that wires everything."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

from keys.limits import MAX_RECORD_ID

log = logging.getLogger("latchkey")

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class RecordIdConverter(IntegerConverter):
    """``<id:…>`` in routes: a record id (1 to :data:`keys.limits.MAX_RECORD_ID`); anything
    else is simply not found."""

    def __init__(self, url_map: Map) -> None:
        super().__init__(url_map, min=1, max=MAX_RECORD_ID)


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app from the environment (``overrides`` wins, for tests and tools)."""
    from oauth_server import config, logs
    from oauth_server.extensions import csrf, db, migrate

    logs.configure()

    instance_path = (overrides or {}).get("LATCHKEY_INSTANCE_PATH") or os.environ.get(
        "LATCHKEY_INSTANCE_PATH"
    )
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    app.config.update(config.load(app.instance_path, overrides))
    app.url_map.converters["id"] = RecordIdConverter

    from oauth_server.request_log import note_route

    app.url_value_preprocessor(note_route)  # first: it runs even where routing failed

    db.init_app(app)
    migrate.init_app(
        app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True, compare_type=True
    )
    csrf.init_app(app)

    from oauth_server.console.auth import init_login

    init_login(app)

    from oauth_server.services import init_services

    init_services(app)

    from oauth_server.throttle import init_throttles

    init_throttles(app)

    from oauth_server.outages import init_outages

    init_outages(app)

    from oauth_server.oauth.server import create_authorization_server
    from oauth_server.oauth.views import bp as oauth_bp
    from oauth_server.oauth.wsgi import OAuthEndpoints

    with app.app_context():
        server = create_authorization_server(app)
    app.register_blueprint(oauth_bp)
    # Inside ProxyFix (wrapped below), so the endpoints see the client's forwarded address.
    app.wsgi_app = OAuthEndpoints(app, server, app.wsgi_app)  # type: ignore[method-assign]

    from oauth_server.bodies import KnownLengthBodies

    max_body = app.config["MAX_CONTENT_LENGTH"]
    app.wsgi_app = KnownLengthBodies(app.wsgi_app, max_body)  # type: ignore[method-assign]

    from oauth_server.api import bp as api_bp
    from oauth_server.api import register_views

    register_views()
    app.register_blueprint(api_bp)

    from oauth_server.api.catalog import openapi_json

    app.add_url_rule("/openapi.json", "openapi_json", openapi_json)

    from oauth_server.console import bp as console_bp
    from oauth_server.console import register_views as register_console_views

    register_console_views()
    app.register_blueprint(console_bp)

    from oauth_server.headers import add_security_headers

    app.after_request(add_security_headers)

    from oauth_server.metrics import init_metrics
    from oauth_server.operations import init_operations

    init_operations(app)
    init_metrics(app)

    from oauth_server.webhooks import init_webhooks

    init_webhooks(app)

    from oauth_server.cli import register_commands

    register_commands(app)

    hops = app.config["LATCHKEY_PROXY_HOPS"]
    if hops:
        # Behind the TLS proxy every client has the proxy's address: trust exactly that many
        # X-Forwarded-For / -Proto hops, so per-address limits and last-used addresses see
        # the real client (and a client cannot forge its address past the proxy).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    from oauth_server.oauth.wsgi import ENDPOINTS
    from oauth_server.request_log import RequestLog

    # Outermost: every request is logged and counted, the OAuth endpoints answered in front
    # of Flask included.
    prefixes = app.extensions["latchkey"].core.prefixes
    app.wsgi_app = RequestLog(app.wsgi_app, prefixes, ENDPOINTS)  # type: ignore[method-assign]

    bootstrap_admin(app)
    return app


def bootstrap_admin(app: Flask) -> None:
    """Create the first admin when the database is migrated and has no user yet."""
    from oauth_server.bootstrap import ensure_first_admin
    from oauth_server.extensions import db
    from oauth_server.outages import unavailable

    with app.app_context():
        try:
            created = ensure_first_admin(
                db.session,
                app.config["LATCHKEY_ADMIN_EMAIL"],
                app.config["LATCHKEY_ADMIN_PASSWORD"],
            )
        except Exception as exc:
            # A worker (re)started during an outage serves 503s until the database is back,
            # rather than failing to boot and taking the server down with it.
            if unavailable(exc) is None:
                raise
            created = None
        finally:
            db.session.remove()
    if created is None:
        return
    log.warning("Created org 'Default' and its admin %s", created.email)
    if created.generated_password:
        # Printed once, to the terminal of whoever started the server; never logged.
        print(
            f"\n  First admin: {created.email}\n  Password:    {created.generated_password}\n"
            "  (shown once; set LATCHKEY_ADMIN_PASSWORD to choose it)\n",
            flush=True,
        )
