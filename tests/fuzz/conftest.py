"""The fuzz tier: the app in process on a freshly migrated temporary database, records to find
at small ids, and the credentials of a signed-in admin and of a ``keys:write`` API key.

The fuzzers send thousands of requests, so they go through the WSGI app directly (Flask's
test client, schemathesis's WSGI transport): no server process, no sockets. The OAuth
endpoints are a WSGI middleware in front of Flask (``app.wsgi_app``), so they are reached the
same way.

How much to run: ``LATCHKEY_FUZZ_SCALE`` multiplies every fuzz test's number of examples
(default 1, CI's bounded run) and a scale above 1 also draws new examples each run instead of
CI's fixed ones, e.g. ``LATCHKEY_FUZZ_SCALE=15 pytest tests/fuzz``.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings

from tests.api import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.web.server import WebServer

SCOPES = ["people:read", "leads:read", "keys:write", "keys:delete"]
BACKENDS = ["sqlite", "postgresql"]

SCALE = int(os.environ.get("LATCHKEY_FUZZ_SCALE") or 1)


#: Every fuzzed request's answer: (interface, status) → count, shown after the run.
ANSWERS: Counter[tuple[str, int]] = Counter()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not ANSWERS:
        return
    for interface in sorted({i for i, _ in ANSWERS}):
        statuses = {s: n for (i, s), n in sorted(ANSWERS.items()) if i == interface}
        total = sum(statuses.values())
        errors = sum(n for s, n in statuses.items() if s >= 500)
        terminalreporter.write_line(
            f"fuzz {interface}: {total} requests, {errors} server errors, by status {statuses}"
        )


def fuzz_settings(examples: int) -> settings:
    """Hypothesis settings of a fuzz test that runs ``examples`` examples in CI.

    CI's run is derandomized (the same examples every run, so a red build is the code's and
    not the draw's) and keeps no example database; a longer run (``LATCHKEY_FUZZ_SCALE``)
    draws new ones. No deadline: a loaded 2-core machine is slow now and then, which is not
    a finding."""
    return settings(
        max_examples=examples * SCALE,
        derandomize=SCALE == 1,
        database=None,
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


def ok(response: Any, status: int) -> Any:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


@dataclass
class Caller:
    """The fuzzers' credentials, renewed when a fuzzed request spends them (signs out, or
    revokes, rotates or edits the key)."""

    client: FlaskClient
    session_token: str = ""
    key_id: int = 0
    key: str = ""
    org_id: int = 0
    turns: int = 0

    def sign_in(self) -> None:
        body = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        self.session_token = ok(self.client.post("/api/sessions", json=body), 201)["token"]

    def new_key(self) -> None:
        body = {"name": "fuzz caller", "scopes": SCOPES, "team_id": None}
        made = ok(self.client.post("/api/keys", json=body, headers=self.session()), 201)
        self.key_id, self.key = made["id"], made["key"]

    def session(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.session_token}"}

    def key_headers(self) -> dict[str, str]:
        """The API key as ``X-API-Key`` and as the bearer credential, by turns."""
        self.turns += 1
        if self.turns % 2:
            return {"X-API-Key": self.key}
        return {"Authorization": f"Bearer {self.key}"}

    def post(self, path: str, body: dict[str, Any] | None = None, status: int = 201) -> Any:
        return ok(self.client.post(path, json=body or {}, headers=self.session()), status)

    def restore_org(self) -> None:
        """API access on, as the run started: a fuzzed PATCH may switch it off, which would
        turn the rest of the run into 403s."""
        body = {"api_access": True}
        ok(self.client.patch(f"/api/orgs/{self.org_id}", json=body, headers=self.session()), 200)


def seed(caller: Caller) -> None:
    """Records of every kind at the small ids a fuzzer tries first, and a second org."""
    caller.sign_in()
    caller.new_key()
    caller.org_id = ok(caller.client.get("/api/users", headers=caller.session()), 200)[0]["org_id"]
    teams = [caller.post("/api/teams", {"name": f"Team {i}"})["id"] for i in range(3)]
    for i, team in enumerate([None, *teams]):
        body = {"name": f"Key {i}", "scopes": ["people:read"], "team_id": team}
        caller.post("/api/keys", body)
        body = {"name": f"App {i}", "scopes": ["people:read"], "team_id": team}
        caller.post("/api/apps", body)
    caller.post("/api/resource-servers", {"name": "API", "audience": "https://api.example.com"})
    caller.post("/api/orgs", {"name": "Other org", "api_access": True})
    hook = {"url": "https://hooks.example.com/latchkey", "events": ["*"], "auth": {"type": "none"}}
    with offline_resolver():
        caller.post("/api/webhooks", hook)
    caller.post(
        "/api/users",
        {
            "email": "member@example.com",
            "name": "Member",
            "role": "member",
            "org_id": caller.org_id,
            "password": ADMIN_PASSWORD,
        },
    )
    csv = "email,name,token,created_at,scopes\n" + "".join(
        f"member@example.com,Legacy {i},legacy-token-{secrets.token_hex(16)},"
        f"2020-01-0{i + 1}T00:00:00Z,people:read\n"
        for i in range(3)
    )
    app = caller.client.application
    result = app.test_cli_runner().invoke(
        args=["import-user-keys", "--org", str(caller.org_id), "-"], input=csv
    )
    assert result.exit_code == 0, result.output


#: Where every webhook receiver's name resolves during the fuzz (a public address, as a
#: receiver's must be; nothing is ever sent there: the fuzzed apps deliver nothing).
PUBLIC_ADDRESS = "93.184.215.14"


@contextmanager
def offline_resolver() -> Iterator[None]:
    """Webhook registration resolves the receiver's host name: the fuzzers' thousands of
    made-up names must not become DNS queries (the resolver is not our HTTP surface). An IP
    literal is itself, ``localhost`` is loopback, and any other name one public address."""
    from keys.webhooks import addresses

    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host == "localhost":
            host = "127.0.0.1"
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            host = PUBLIC_ADDRESS
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(addresses, "getaddrinfo", resolve)
        yield


@pytest.fixture(autouse=True)
def offline() -> Iterator[None]:
    """Every fuzz test resolves names offline (and only the fuzz tests)."""
    with offline_resolver():
        yield


@pytest.fixture(scope="session", params=BACKENDS)
def fuzz_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    """The app on a migrated database of its own (the web tier's :class:`WebServer`): a
    SQLite file, or a PostgreSQL database created for the run."""
    web = WebServer(
        request.param,
        tmp_path_factory.mktemp(f"fuzz-{request.param}"),
        extra_env={
            # The fuzzers' failed logins and client authentications are the point: the
            # limits would only turn the rest of the run into 429s from the one address.
            "LATCHKEY_LOGIN_LIMIT": "1000000 per minute",
            "LATCHKEY_LOGIN_IP_LIMIT": "1000000 per minute",
            "LATCHKEY_CLIENT_AUTH_LIMIT": "1000000 per minute",
        },
    )
    try:
        web.start()
        yield web.app
    finally:
        web.close()


@pytest.fixture(scope="session")
def caller(fuzz_app: Flask) -> Caller:
    """The signed-in admin and its ``keys:write`` API key, on a seeded database."""
    caller = Caller(fuzz_app.test_client())
    seed(caller)
    return caller
