"""Fixtures of the web tests: an app in this process per database backend (the record
factories that go through its management API are :mod:`tests.fixtures`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient, FlaskCliRunner

from tests.web.server import WebServer

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    """The shared app of a backend. Its failure limits are raised so that the many
    deliberate failures of the error-path tests do not lock each other out (every request
    here comes from 127.0.0.1, into one process's counts); the limits themselves are tested
    on apps of their own (``server_factory``) and on live servers."""
    web = WebServer(
        backend,
        tmp_path_factory.mktemp(f"web-{backend}"),
        extra_env={
            "LATCHKEY_CLIENT_AUTH_LIMIT": "10000 per minute",
            "LATCHKEY_LOGIN_IP_LIMIT": "10000 per 15 minutes",
        },
    )
    try:
        web.start()
        yield web
    finally:
        web.close()  # also after a failed start: its PostgreSQL database is dropped


@pytest.fixture
def server_factory(backend: str, tmp_path: Path) -> Iterator[Callable[..., WebServer]]:
    """An app of this backend with extra settings; closed after the test."""
    started: list[WebServer] = []

    def start(**env: str) -> WebServer:
        web = WebServer(backend, tmp_path / f"web-{len(started)}", extra_env=env)
        started.append(web)
        web.start()
        return web

    yield start
    for web in started:
        web.close()


@pytest.fixture
def client(server: WebServer) -> FlaskClient:
    """Flask's test client on the shared app, for a test that speaks to it without
    ``requests`` (the record factories and ``Api`` reach it through :mod:`tests.transport`)."""
    return server.app.test_client()


@pytest.fixture
def runner(server: WebServer) -> FlaskCliRunner:
    """Flask's CLI runner on the shared app (``server.flask(...)`` answers as a process)."""
    return server.app.test_cli_runner()
