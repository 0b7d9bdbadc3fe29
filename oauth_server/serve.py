"""``python app.py``: the embedded default. Migrates, makes the first admin, serves.

It runs gunicorn (the production server) in-process, with the app already built, so the
embedded default behaves like production, just on SQLite and one machine.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


class _Embedded(BaseApplication):  # type: ignore[misc]
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def _post_fork(server: Any, worker: Any) -> None:
    """Each worker opens its own database connections (none cross a fork)."""
    from oauth_server.extensions import db

    with worker.app.application.app_context():
        db.engine.dispose(close=False)


def main(app: Flask) -> None:
    from flask_migrate import upgrade

    from oauth_server import bootstrap_admin

    with app.app_context():
        upgrade()
    bootstrap_admin(app)
    bind = os.environ.get("LATCHKEY_BIND", "127.0.0.1:5000")
    issuer = app.config["LATCHKEY_ISSUER"]
    print(
        f"\n  Latchkey is running: {issuer}\n"
        f"  Sign in to the console: {issuer}/login\n"
        f"  API docs: {issuer}/docs\n",
        flush=True,
    )
    _Embedded(
        app,
        {
            "bind": bind,
            # One process by default: without Redis, throttles are per process, and one
            # process keeps them exact. More workers want REDIS_URL.
            "workers": int(os.environ.get("LATCHKEY_WORKERS", "1")),
            "worker_class": "gthread",
            "threads": 8,
            "post_fork": _post_fork,
            "accesslog": "-",
            "graceful_timeout": 10,
        },
    ).run()
