"""Webhook delivery wired to the app: the embedded default's delivery thread (one per
server process, started by the process's first request, so that a server that forks its
workers starts one in each) and the worker that ``flask --app app worker`` runs.

The engine itself is :mod:`keys.webhooks.worker`; the database decides who delivers (a
lease on SQLite, ``SKIP LOCKED`` claims on PostgreSQL), so any number of threads and
workers may run at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from keys.process import process_id
from keys.webhooks.worker import DeliveryWorker, WorkerSettings
from oauth_server.extensions import db


def make_worker(app: Flask) -> DeliveryWorker:
    from oauth_server.metrics import webhook_attempted
    from oauth_server.services import services

    with app.app_context():
        engine = db.engine
        sealer = services().keyring
    config = app.config
    return DeliveryWorker(
        lambda: Session(engine, expire_on_commit=False),
        sealer,
        WorkerSettings(
            allow_private=config["LATCHKEY_WEBHOOK_ALLOW_PRIVATE"],
            poll_seconds=config["LATCHKEY_WEBHOOK_POLL_SECONDS"],
            claim_seconds=config["LATCHKEY_WEBHOOK_CLAIM_SECONDS"],
            skip_locked=engine.dialect.name == "postgresql",
        ),
        on_attempt=webhook_attempted,
    )


class EmbeddedDelivery:
    """WSGI middleware that starts this process's delivery thread on its first request
    (again in a forked child, whose parent's thread did not come along)."""

    def __init__(self, app: Flask, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app
        self._wsgi_app = wsgi_app
        self._pid: int | None = None
        self._lock = threading.Lock()
        self.worker: DeliveryWorker | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if self._pid != process_id():
            self._start()
        return self._wsgi_app(environ, start_response)

    def _start(self) -> None:
        with self._lock:
            if self._pid == process_id():
                return
            self.worker = make_worker(self._app)
            self.worker.start_thread()
            self._pid = process_id()


def init_webhooks(app: Flask) -> None:
    if app.config["LATCHKEY_WEBHOOK_DELIVERY"] == "embedded":
        embedded = EmbeddedDelivery(app, app.wsgi_app)
        app.extensions["latchkey_webhooks"] = embedded
        app.wsgi_app = embedded  # type: ignore[method-assign]
