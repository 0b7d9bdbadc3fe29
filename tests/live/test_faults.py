"""A dependency down: 503 with Retry-After wherever it is needed, on every surface (RFC 6749
JSON, problem+json, a console page), one log line per worker per outage, recovery without a
restart, and never a revoked credential answered active (DESIGN.md, "Operations endpoints";
issue 14, item 6). Without Redis, correct OAuth clients are still answered, from the
database; what needs Redis (counting a failed authentication, a sign-in's lock) is refused.

The outages are real and the test's own: a ``redis-server`` it starts on a free loopback port
(stopped and started again), and the live server's own PostgreSQL database, blocked with
``ALTER DATABASE … ALLOW_CONNECTIONS false`` and ``pg_terminate_backend`` on its connections,
then allowed again. The machine's PostgreSQL and Redis keep serving everyone else.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from redis import Redis

from tests.api import ADMIN_EMAIL, ADMIN_PASSWORD, Api
from tests.fixtures import unique
from tests.live.server import LiveServer, free_port, running
from tests.oauth_calls import introspect, issue
from tests.servers import PG_ADMIN_URL

#: Requests sent during each outage; the log must hold far fewer outage lines.
DURING = 12
#: How long a dependency's return may take to be seen (Redis: the stamp's lease and the
#: subscription's reconnect; PostgreSQL: the pool's next checkout).
RECOVERY_SECONDS = 20


class OwnRedis:
    """A ``redis-server`` of this test's own: loopback, a free port, nothing persisted."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
            finally:
                client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnRedis]:
    redis = OwnRedis(tmp_path_factory.mktemp("redis"))
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture(scope="module")
def faulty(own_redis: OwnRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Two workers on a PostgreSQL database of their own and the test's own Redis."""
    workdir = tmp_path_factory.mktemp("faulty")
    limit = "10000 per minute"
    with running(
        "postgresql", workdir, REDIS_URL=own_redis.url, LATCHKEY_CLIENT_AUTH_LIMIT=limit
    ) as live:
        yield live


class Scene:
    """What each outage test sets up beforehand, through the API as an admin would."""

    def __init__(self, live: LiveServer) -> None:
        self.live = live
        self.admin = Api.login(live.url, ADMIN_EMAIL, ADMIN_PASSWORD)
        # Used before the outage (so cached in some worker) and never used before it.
        self.rs = self.resource_server()
        self.cold_rs = self.resource_server()
        self.app = self.admin.ok("POST", "/api/apps", 201, json=app_body())
        self.cold_app = self.admin.ok("POST", "/api/apps", 201, json=app_body())
        self.key = self.admin.ok("POST", "/api/keys", 201, json=key_body())["key"]
        revoked = self.admin.ok("POST", "/api/keys", 201, json=key_body())
        assert introspect(live, self.rs, revoked["key"])["active"] is True
        self.admin.ok("POST", f"/api/keys/{revoked['id']}/revoke")  # just before the outage
        self.revoked = revoked["key"]
        self.token = issue(live, self.app)
        assert introspect(live, self.rs, self.key)["active"] is True
        assert introspect(live, self.rs, self.revoked) == {"active": False}
        self.login_page = requests.Session()
        page = self.login_page.get(f"{live.url}/login", timeout=10)
        match = re.search(r'name="csrf_token"[^>]* value="([^"]+)"', page.text)
        assert match, page.text
        self.csrf = match.group(1)
        self.log_from = len(live.log_path.read_text().splitlines())

    def resource_server(self) -> dict[str, Any]:
        return self.admin.ok(  # type: ignore[no-any-return]
            "POST",
            "/api/resource-servers",
            201,
            json={"name": unique("API"), "audience": f"https://{unique('api')}.example.com"},
        )

    def token_request(self, app: dict[str, Any]) -> requests.Response:
        return requests.post(
            f"{self.live.url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(app["client_id"], app["client_secret"]),
            headers={"Connection": "close"},
            timeout=10,
        )

    def introspection(self, rs: dict[str, Any], token: str) -> requests.Response:
        return requests.post(
            f"{self.live.url}/oauth/introspect",
            data={"token": token},
            auth=(rs["client_id"], rs["client_secret"]),
            headers={"Connection": "close"},
            timeout=10,
        )

    def sign_in(self) -> requests.Response:
        return requests.post(
            f"{self.live.url}/api/sessions",
            json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
            timeout=10,
        )

    def console_login(self) -> requests.Response:
        return self.login_page.post(
            f"{self.live.url}/login",
            data={"csrf_token": self.csrf, "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
            allow_redirects=False,
            timeout=10,
        )

    def revoked_is_never_active(self) -> None:
        """The key revoked before the outage, asked on a fresh connection: refused (503) or
        inactive, never active."""
        for rs in (self.rs, self.cold_rs):
            r = self.introspection(rs, self.revoked)
            assert r.status_code in (200, 503), r.text
            assert r.json().get("active") is not True, r.text

    def log_since(self) -> list[dict[str, Any]]:
        lines = self.live.log_path.read_text().splitlines()[self.log_from :]
        return [json.loads(line) for line in lines if line]


def app_body() -> dict[str, Any]:
    return {"name": unique("App"), "scopes": ["people:read"]}


def key_body() -> dict[str, Any]:
    return {"name": unique("Key"), "scopes": ["people:read"]}


def assert_unavailable_oauth(r: requests.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["Retry-After"].isdigit()
    assert r.headers["Content-Type"] == "application/json"
    assert r.json()["error"] == "temporarily_unavailable"


def assert_unavailable_problem(r: requests.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["Retry-After"].isdigit()
    assert r.headers["Content-Type"] == "application/problem+json"
    assert r.json()["status"] == 503 and "unreachable" in r.json()["detail"]


def assert_unavailable_page(r: requests.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["Retry-After"].isdigit()
    assert r.headers["Content-Type"].startswith("text/html")
    assert "Temporarily unavailable" in r.text and "Traceback" not in r.text


def assert_logged_once_per_outage(lines: list[dict[str, Any]], dependency: str) -> None:
    """One line per worker process that met the outage (two workers here), however many
    requests failed; no traceback; and the return logged too."""
    outage = [line for line in lines if line.get("outage") == dependency]
    assert 1 <= len(outage) <= 2, outage
    assert len({line["pid"] for line in outage}) == len(outage), outage
    assert not [line for line in lines if "error" in line]
    assert [line for line in lines if line.get("recovered") == dependency]
    failed = [line for line in lines if line.get("status") == 503]
    assert len(failed) >= DURING


def until_recovered(check: Callable[[], bool], scene: Scene) -> None:
    deadline = time.monotonic() + RECOVERY_SECONDS
    while not check():
        scene.revoked_is_never_active()
        assert time.monotonic() < deadline, "did not recover"
        time.sleep(0.2)


def test_redis_down_is_503_then_recovers_without_a_restart(
    faulty: LiveServer, own_redis: OwnRedis
) -> None:
    scene = Scene(faulty)
    revoked_during = scene.admin.ok("POST", "/api/keys", 201, json=key_body())
    wrong = {**scene.app, "client_secret": scene.app["client_secret"][:-1] + "x"}
    wrong_rs = {**scene.rs, "client_secret": scene.rs["client_secret"][:-1] + "x"}
    own_redis.stop()
    try:
        for _ in range(DURING // 4):
            # Correct clients are answered from the database (nothing is trusted from the
            # cache while the stamp cannot be read)...
            assert scene.token_request(scene.app).status_code == 200
            assert introspect(faulty, scene.rs, scene.key)["active"] is True
            scene.revoked_is_never_active()
            # ...but a failure that cannot be counted is refused, not let through uncounted,
            # and so is a sign-in, whose lock cannot be read.
            assert_unavailable_oauth(scene.token_request(wrong))
            assert_unavailable_oauth(scene.introspection(wrong_rs, scene.key))
            assert_unavailable_problem(scene.sign_in())
            assert_unavailable_page(scene.console_login())
        # A change made now is saved but cannot be announced: 503, and what to do.
        r = scene.admin.post(f"/api/keys/{revoked_during['id']}/revoke")
        assert r.status_code == 503 and r.headers["Retry-After"].isdigit(), r.text
        assert "invalidate-caches" in r.json()["detail"]
        ready = requests.get(f"{faulty.url}/readyz", timeout=10)
        assert ready.status_code == 503
        assert ready.json()["checks"] == {"database": "ok", "redis": "unreachable"}
        assert requests.get(f"{faulty.url}/healthz", timeout=10).status_code == 200
    finally:
        own_redis.start()

    until_recovered(lambda: scene.sign_in().status_code == 201, scene)
    for _ in range(6):  # every worker is back, fresh connections
        assert scene.token_request(scene.app).status_code == 200
        assert scene.token_request(wrong).status_code == 401
        assert introspect(faulty, scene.rs, scene.key)["active"] is True
        assert introspect(faulty, scene.rs, scene.revoked) == {"active": False}
        assert introspect(faulty, scene.rs, revoked_during["key"]) == {"active": False}
    assert scene.sign_in().status_code == 201
    assert scene.console_login().status_code == 302
    assert requests.get(f"{faulty.url}/readyz", timeout=10).status_code == 200
    assert_logged_once_per_outage(scene.log_since(), "Redis")


def _database(live: LiveServer, allow: bool) -> None:
    assert live.pg_name
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{live.pg_name}" ALLOW_CONNECTIONS {str(allow).lower()}')
        if not allow:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (live.pg_name,),
            )


def test_database_down_is_503_then_recovers_without_a_restart(faulty: LiveServer) -> None:
    scene = Scene(faulty)
    _database(faulty, allow=False)
    try:
        for _ in range(DURING // 4):
            # Clients no worker has cached need the database: refused, never a 500.
            assert_unavailable_oauth(scene.token_request(scene.cold_app))
            assert_unavailable_oauth(scene.introspection(scene.cold_rs, scene.key))
            assert_unavailable_problem(scene.admin.get("/api/keys"))
            assert_unavailable_page(scene.console_login())
            scene.revoked_is_never_active()
        assert_unavailable_problem(scene.sign_in())
        assert_unavailable_oauth(requests.get(f"{faulty.url}/oauth/jwks", timeout=10))
        ready = requests.get(f"{faulty.url}/readyz", timeout=10)
        assert ready.status_code == 503
        assert ready.json()["checks"] == {"database": "unreachable", "redis": "ok"}
        assert requests.get(f"{faulty.url}/healthz", timeout=10).status_code == 200
    finally:
        _database(faulty, allow=True)

    until_recovered(lambda: scene.admin.get("/api/keys").status_code == 200, scene)
    for _ in range(6):
        assert scene.token_request(scene.cold_app).status_code == 200
        assert introspect(faulty, scene.cold_rs, scene.key)["active"] is True
        assert introspect(faulty, scene.cold_rs, scene.revoked) == {"active": False}
        assert scene.admin.get("/api/keys").status_code == 200
    assert scene.console_login().status_code == 302
    assert requests.get(f"{faulty.url}/readyz", timeout=10).status_code == 200
    assert_logged_once_per_outage(scene.log_since(), "database")
