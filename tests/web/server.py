"""Latchkey in this process, for the web tests: ``create_app`` on a freshly migrated database,
answered through Flask's test client.

Each app gets its own database, as each live server does (a SQLite file in a temporary
folder, or a fresh PostgreSQL database, dropped afterwards), migrated by the migrations the
app uses (Flask-Migrate's ``upgrade``), and its own base URL, under which it is mounted on
:mod:`tests.transport`: ``requests`` made by the tests reach it there with no socket and no
server process. The OAuth POST endpoints are WSGI middleware in front of Flask
(``oauth_server/oauth/wsgi.py``), installed as ``app.wsgi_app``, so the test client goes
through them as a server would.
"""

from __future__ import annotations

import itertools
import logging
import subprocess
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask
from flask_migrate import upgrade

from oauth_server import bootstrap_admin, create_app
from oauth_server.extensions import db
from tests import transport
from tests.servers import drop_pg_database, fresh_database, server_settings

_numbers = itertools.count(1)


@contextmanager
def _logging_kept() -> Iterator[None]:
    """Alembic's env.py configures logging from alembic.ini (a stderr handler on the root
    logger, in place of pytest's capture): put back what was there."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@dataclass
class WebServer:
    backend: str
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    url: str = ""
    database_url: str = ""
    pg_name: str | None = None
    #: The settings the app was made with (``create_app``'s overrides).
    env: dict[str, str] = field(default_factory=dict)
    _app: Flask | None = None

    @property
    def app(self) -> Flask:
        assert self._app is not None, "not started"
        return self._app

    @property
    def sqlite_path(self) -> Path:
        return self.workdir / "latchkey.db"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        # A host of its own per app, so that apps alive at once never answer for each other.
        self.url = f"http://{self.backend}-{next(_numbers)}.web.test"
        self.database_url, self.pg_name = fresh_database(self.backend, self.sqlite_path)
        self.env = {
            **server_settings(self.database_url, self.url),
            "LATCHKEY_INSTANCE_PATH": str(self.workdir / "instance"),
            # One process: its caches and limits stay in it (Redis is the live tier's).
            "REDIS_URL": "",
            # No delivery thread: it would outlive the app (and its dropped database); web
            # tests of webhooks run the worker themselves.
            "LATCHKEY_WEBHOOK_DELIVERY": "worker",
            **self.extra_env,
        }
        app = create_app(self.env)
        with _logging_kept(), app.app_context():
            upgrade()
        bootstrap_admin(app)  # create_app looked before there was a schema
        self._app = app
        transport.mount(self.url, app)

    def flask(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``flask --app app <args>`` on this app, through Flask's CLI runner; answered as the
        live tier's subprocess is (exit status, stdout, stderr)."""
        result = self.app.test_cli_runner().invoke(args=list(args))
        stderr = result.stderr
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            stderr += "".join(traceback.format_exception(result.exception))
        return subprocess.CompletedProcess(
            ["flask", "--app", "app", *args], result.exit_code, result.stdout, stderr
        )

    def close(self) -> None:
        transport.unmount(self.url)
        if self._app is not None:
            self._app.extensions["latchkey"].usage.close()  # its flusher thread stops
            with self._app.app_context():
                for engine in db.engines.values():
                    engine.dispose()
            self._app = None
        if self.pg_name:
            drop_pg_database(self.pg_name)
