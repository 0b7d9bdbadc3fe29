"""Fixtures of the webhook web tests: an app of their own per test on a migrated temporary
SQLite database, driven through Flask's test client (not ``requests``: requests-mock stands
in for the receivers, and would catch requests to the app too). Delivery is left to the
tests, which run the worker themselves."""

from __future__ import annotations

import secrets
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from keys.webhooks.worker import DeliveryWorker

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "correct horse battery staple"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    from flask_migrate import upgrade

    from oauth_server import bootstrap_admin, create_app
    from oauth_server.extensions import db

    app = create_app(
        {
            "LATCHKEY_INSTANCE_PATH": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'latchkey.db'}",
            "LATCHKEY_PEPPER": secrets.token_urlsafe(48),
            "LATCHKEY_SECRET_KEY": secrets.token_urlsafe(48),
            "LATCHKEY_ADMIN_EMAIL": ADMIN_EMAIL,
            "LATCHKEY_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "LATCHKEY_WEBHOOK_DELIVERY": "worker",  # the tests run the worker themselves
        }
    )
    with app.app_context(), warnings.catch_warnings():
        # Flask-Migrate's generated env.py asks Flask-SQLAlchemy the deprecated way first.
        warnings.simplefilter("ignore", DeprecationWarning)
        upgrade()
    bootstrap_admin(app)
    yield app
    app.extensions["latchkey"].usage.close()
    with app.app_context():
        db.engine.dispose()


class Caller:
    """A signed-in caller of the management API."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        assert response.status_code == status, f"{method} {path}: {response.get_data(True)}"
        return response.get_json()


def sign_in(client: FlaskClient, email: str, password: str = ADMIN_PASSWORD) -> Caller:
    response = client.post("/api/sessions", json={"email": email, "password": password})
    assert response.status_code == 201, response.get_data(True)
    return Caller(client, response.get_json()["token"])


@pytest.fixture
def admin(app: Flask) -> Caller:
    return sign_in(app.test_client(), ADMIN_EMAIL)


@pytest.fixture
def worker(app: Flask) -> DeliveryWorker:
    """The delivery worker of this app's database (one: on SQLite it holds the delivery
    lease, and a second would stand by until the lease expires)."""
    from oauth_server.webhooks import make_worker

    return make_worker(app)
