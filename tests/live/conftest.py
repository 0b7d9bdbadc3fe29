"""Fixtures of the live tests: a real server per database backend (the record factories
that go through its management API are :mod:`tests.fixtures`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.live.server import LiveServer

BACKENDS = ["sqlite", "postgresql"]

pytestmark = pytest.mark.live


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The shared server of a backend. Client-auth limits are raised here so that the many
    deliberate failures of the error-path tests do not lock each other out; the limits
    themselves are tested on servers of their own (``server_factory``)."""
    live = LiveServer(
        backend,
        tmp_path_factory.mktemp(f"server-{backend}"),
        extra_env={"LATCHKEY_CLIENT_AUTH_LIMIT": "10000 per minute"},
    )
    live.prepare()
    live.start()
    yield live
    live.close()


@pytest.fixture
def server_factory(backend: str, tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start a server of this backend with extra settings; stopped after the test."""
    started: list[LiveServer] = []

    def start(**env: str) -> LiveServer:
        live = LiveServer(backend, tmp_path / f"server-{len(started)}", extra_env=env)
        live.prepare()
        live.start()
        started.append(live)
        return live

    yield start
    for live in started:
        live.close()
