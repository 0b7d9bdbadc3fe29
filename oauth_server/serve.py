"""How Latchkey's processes are served: ``python app.py`` (the embedded default), and what
``gunicorn app:app`` reads from the repository's ``gunicorn.conf.py``.

The embedded default runs gunicorn (the production server) in-process, with the app already
built, so it behaves like production, just on SQLite and one machine.

Under gunicorn, run from the repository root, so that ``gunicorn.conf.py`` is read (or name
it with ``-c``)::

    flask --app app db upgrade
    gunicorn app:app --workers 2 -k gthread --threads 4 --bind 0.0.0.0:5000

That file brings what any number of workers needs:

* **Logs**: JSON lines (:class:`JsonLogger`), and gunicorn's own access log off. Latchkey
  writes one line per request itself (:mod:`oauth_server.request_log`); gunicorn's default
  access line holds the query string (``%(r)s``) and the Basic user (``%(u)s``), where
  ``curl -u $KEY:`` puts a key. So ``--access-logfile`` is harmless: nothing is written there.
* **Metrics**: ``PROMETHEUS_MULTIPROC_DIR`` set before any worker imports prometheus_client
  (:func:`prepare_metrics_dir`), so ``/metrics`` adds up every worker's counts, and
  :func:`child_exit` does prometheus_client's bookkeeping for a worker that exited.

Other servers (granian, which the README recommends): set ``PROMETHEUS_MULTIPROC_DIR`` to an
empty folder in the server's environment, and turn its access log off (``--no-access-log``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn import glogging
from gunicorn.app.base import BaseApplication

from oauth_server.logs import JsonFormatter

#: prometheus_client's switch into multi-process mode: a folder, read when it is imported.
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


class JsonLogger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's logger, writing JSON lines, without an access log of its own."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(JsonFormatter())

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """Nothing: Latchkey's request log has the line, without query string or Basic user."""


def prepare_metrics_dir() -> str:
    """The folder every worker's counts go to, made ready before any worker exists.

    A ``PROMETHEUS_MULTIPROC_DIR`` that is set is emptied of an earlier run's files
    (prometheus_client requires it wiped between runs, or old counts come back). Unset, a
    new temporary folder is used, and removed when this process, the server's master,
    exits.
    """
    path = os.environ.get(MULTIPROC_DIR)
    if path:
        Path(path).mkdir(parents=True, exist_ok=True)
        for stale in Path(path).glob("*.db"):
            stale.unlink(missing_ok=True)
        return path
    path = tempfile.mkdtemp(prefix="latchkey-metrics-")
    os.environ[MULTIPROC_DIR] = path
    master = os.getpid()

    def remove() -> None:
        if os.getpid() == master:  # a forked worker's exit must not remove its siblings' files
            shutil.rmtree(path, ignore_errors=True)

    atexit.register(remove)
    return path


def child_exit(_server: Any, worker: Any) -> None:
    """gunicorn's hook for an exited worker: prometheus_client's ``mark_process_dead``."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


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


def main(create_app: Callable[[], Flask]) -> None:
    """Serve the embedded default. The app is built here, once the metrics folder is ready
    (prometheus_client reads it when it is first imported, which building the app does)."""
    from flask_migrate import upgrade

    from oauth_server import bootstrap_admin

    prepare_metrics_dir()
    app = create_app()
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
            "child_exit": child_exit,
            "logger_class": JsonLogger,
            "graceful_timeout": 10,
        },
    ).run()
