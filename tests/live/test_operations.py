"""The operations endpoints, the request log and ``flask --app app prune``, on a real server
with two workers (DESIGN.md, "Operations endpoints").

``/healthz`` and ``/readyz`` as a load balancer asks them; ``/metrics`` as Prometheus scrapes
it, with and without its token, its counts moving with the requests both workers answered;
the log after a scenario that hands the server secrets in every place a client might (the
query string, HTTP Basic, the body, a bearer session token): JSON lines, none of them.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from tests.api import ADMIN_EMAIL, ADMIN_PASSWORD, Api
from tests.fixtures import unique
from tests.live.server import LiveServer, running
from tests.oauth_calls import introspect, issue

METRICS_TOKEN = "metrics-" + "x" * 24
KEY = {"name": "Key", "scopes": ["people:read"]}
REQUEST_FIELDS = {"time", "request_id", "method", "path", "status", "duration_ms", "credential"}


@pytest.fixture(scope="module")
def ops(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of its own, with a metrics token and a log no other test writes to."""
    workdir = tmp_path_factory.mktemp(f"ops-{backend}")
    with running(backend, workdir, LATCHKEY_METRICS_TOKEN=METRICS_TOKEN) as live:
        yield live


@pytest.fixture(scope="module")
def ops_admin(ops: LiveServer) -> Api:
    return Api.login(ops.url, ADMIN_EMAIL, ADMIN_PASSWORD)


def scrape(live: LiveServer) -> dict[str, float]:
    """The samples of ``/metrics``: ``name{labels}`` → value."""
    r = requests.get(
        f"{live.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10
    )
    assert r.status_code == 200, r.text
    assert re.fullmatch(r"text/plain; version=[\d.]+; charset=utf-8", r.headers["Content-Type"])
    samples = {}
    for line in r.text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def moved(before: dict[str, float], after: dict[str, float], sample: str) -> float:
    return after.get(sample, 0.0) - before.get(sample, 0.0)


def scrape_once_counted(
    live: LiveServer, before: dict[str, float], expected: dict[str, float]
) -> dict[str, float]:
    """A scrape once the ``expected`` moves have happened (or after 5 s): a request is
    counted when its response has been sent, so the next scrape, perhaps answered by the
    other worker, can come a moment before the count."""
    deadline = time.monotonic() + 5
    while True:
        after = scrape(live)
        done = all(moved(before, after, name) >= n for name, n in expected.items())
        if done or time.monotonic() > deadline:
            return after
        time.sleep(0.05)


def request_lines(live: LiveServer) -> list[dict[str, Any]]:
    """Every line of the server's log, parsed (each must be JSON); the request log's lines."""
    lines = [json.loads(line) for line in live.log_path.read_text().splitlines() if line]
    return [line for line in lines if line["logger"] == "latchkey.requests"]


def test_healthz_answers_without_asking_anything(server: LiveServer) -> None:
    r = requests.get(f"{server.url}/healthz", timeout=10)
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_readyz_checks_the_database_and_redis(server: LiveServer) -> None:
    r = requests.get(f"{server.url}/readyz", timeout=10)
    assert r.status_code == 200, r.text
    expected = {"database": "ok"}
    if server.env.get("REDIS_URL"):
        expected["redis"] = "ok"
    assert r.json() == {"status": "ok", "checks": expected}


def test_readyz_is_503_while_the_schema_is_behind_the_code(server_factory: Any) -> None:
    live: LiveServer = server_factory()
    downgraded = live.flask("db", "downgrade")
    assert downgraded.returncode == 0, downgraded.stderr

    r = requests.get(f"{live.url}/readyz", timeout=10)
    assert r.status_code == 503
    assert r.headers["Retry-After"].isdigit()
    body = r.json()
    assert body["status"] == "not ready"
    assert "flask --app app db upgrade" in body["checks"]["database"]

    assert live.flask("db", "upgrade").returncode == 0
    assert requests.get(f"{live.url}/readyz", timeout=10).status_code == 200


def test_metrics_are_not_found_without_a_token_configured(server: LiveServer) -> None:
    r = requests.get(
        f"{server.url}/metrics", headers={"Authorization": "Bearer anything"}, timeout=10
    )
    assert r.status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {METRICS_TOKEN}", f"Bearer {METRICS_TOKEN}x"],
)
def test_metrics_need_their_bearer_token(ops: LiveServer, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    r = requests.get(f"{ops.url}/metrics", headers=headers, timeout=10)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer ")
    assert "latchkey_" not in r.text


def test_introspection_answers_are_counted_by_outcome(ops: LiveServer, ops_admin: Api) -> None:
    rs = ops_admin.ok(
        "POST",
        "/api/resource-servers",
        201,
        json={"name": unique("API"), "audience": f"https://{unique('api')}.example.com"},
    )
    live_key = ops_admin.ok("POST", "/api/keys", 201, json=KEY)
    revoked = ops_admin.ok("POST", "/api/keys", 201, json=KEY)
    ops_admin.ok("POST", f"/api/keys/{revoked['id']}/revoke")
    before = scrape(ops)

    assert introspect(ops, rs, live_key["key"])["active"] is True
    assert introspect(ops, rs, revoked["key"]) == {"active": False}
    assert introspect(ops, rs, "lk_not_a_key") == {"active": False}
    outcomes = 'latchkey_introspections_total{outcome="%s",reason="%s"}'
    route = 'latchkey_http_requests_total{endpoint="/oauth/introspect",method="POST",status="200"}'
    # ... and a usage flush (every 0.2 s here) has written the live key's use.
    after = scrape_once_counted(
        ops, before, {route: 3, "latchkey_usage_flush_lag_seconds_count": 1}
    )

    assert moved(before, after, outcomes % ("active", "")) == 1
    assert moved(before, after, outcomes % ("inactive", "revoked")) == 1
    assert moved(before, after, outcomes % ("inactive", "unknown")) == 1
    assert moved(before, after, route) == 3
    latency = 'latchkey_http_request_duration_seconds_count{endpoint="/oauth/introspect"}'
    assert moved(before, after, latency) == 3
    lookups = sum(
        moved(before, after, f'latchkey_cache_lookups_total{{cache="state",result="{result}"}}')
        for result in ("hit", "miss")
    )
    assert lookups >= 3
    assert moved(before, after, "latchkey_usage_flush_lag_seconds_count") >= 1


def test_routes_not_paths_label_the_requests(ops: LiveServer, ops_admin: Api) -> None:
    key = ops_admin.ok("POST", "/api/keys", 201, json=KEY)
    before = scrape(ops)
    ops_admin.ok("GET", f"/api/keys/{key['id']}")
    assert requests.get(f"{ops.url}/no/such/{unique('path')}", timeout=10).status_code == 404
    route = (
        'latchkey_http_requests_total{endpoint="/api/keys/<id:key_id>",method="GET",status="200"}'
    )
    unmatched = 'latchkey_http_requests_total{endpoint="unmatched",method="GET",status="404"}'
    after = scrape_once_counted(ops, before, {route: 1, unmatched: 1})
    assert moved(before, after, route) == 1
    assert moved(before, after, unmatched) == 1
    assert not any(f"/api/keys/{key['id']}" in s or "/no/such" in s for s in after)


def test_metrics_add_up_both_workers(ops: LiveServer) -> None:
    before = scrape(ops)
    seen_from = len(request_lines(ops))
    sent = 0
    pids: set[int] = set()
    while len(pids) < 2 and sent < 200:
        for _ in range(10):
            r = requests.get(f"{ops.url}/healthz", headers={"Connection": "close"}, timeout=10)
            assert r.status_code == 200
            sent += 1
        pids = {
            line["pid"] for line in request_lines(ops)[seen_from:] if line["path"] == "/healthz"
        }
    assert len(pids) == 2, "both workers should have answered"
    healthz = 'latchkey_http_requests_total{endpoint="/healthz",method="GET",status="200"}'
    after = scrape_once_counted(ops, before, {healthz: sent})
    assert moved(before, after, healthz) == sent


def test_the_log_is_json_lines_without_secrets_or_query_strings(
    ops: LiveServer, ops_admin: Api
) -> None:
    rs = ops_admin.ok(
        "POST",
        "/api/resource-servers",
        201,
        json={"name": unique("API"), "audience": f"https://{unique('api')}.example.com"},
    )
    app = ops_admin.ok(
        "POST", "/api/apps", 201, json={"name": unique("App"), "scopes": ["people:read"]}
    )
    key = ops_admin.ok("POST", "/api/keys", 201, json=KEY)["key"]
    session_token = ops_admin.http.headers["Authorization"].removeprefix("Bearer ")

    # A key in the query string, where the API and the OAuth endpoints refuse it, and in a
    # path.
    requests.get(f"{ops.url}/api/keys?api_key={key}", timeout=10)
    assert requests.get(f"{ops.url}/api/keys/{key}", timeout=10).status_code == 404
    r = requests.post(f"{ops.url}/oauth/introspect?token={key}", auth=(key, ""), timeout=10)
    assert r.status_code == 400
    # `curl -u $KEY:`: the key as the Basic user, on both surfaces.
    requests.get(f"{ops.url}/api/keys", auth=(key, ""), timeout=10)
    r = requests.post(
        f"{ops.url}/oauth/introspect", data={"token": key}, auth=(key, ""), timeout=10
    )
    assert r.status_code == 401
    # A client secret in the body, and a session token as the bearer.
    r = requests.post(
        f"{ops.url}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
        },
        headers={"X-Request-Id": "scenario-token-1"},
        timeout=10,
    )
    assert r.status_code == 200 and r.headers["X-Request-Id"] == "scenario-token-1"
    token = r.json()["access_token"]
    assert introspect(ops, rs, token)["active"] is True
    ops_admin.ok("GET", "/api/keys", headers={"X-Request-Id": "scenario-session-1"})
    # A request id that is not sane is replaced, never echoed or logged.
    r = requests.get(f"{ops.url}/healthz", headers={"X-Request-Id": key}, timeout=10)
    assert r.headers["X-Request-Id"] != key
    issue(ops, app)
    time.sleep(0.5)  # a request's line is written once its response has been sent

    text = ops.log_path.read_text()
    secrets = [key, key.rsplit("_", 1)[1], app["client_secret"], rs["client_secret"]]
    secrets += [session_token, token, ADMIN_PASSWORD]
    for secret in secrets:
        assert secret not in text, secret
    assert "api_key=" not in text and "token=" not in text

    lines = request_lines(ops)
    assert lines
    for line in lines:
        assert REQUEST_FIELDS <= set(line), line
        assert "?" not in line["path"], line
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
    by_id = {line["request_id"]: line for line in lines}
    token_line = by_id["scenario-token-1"]
    assert token_line["method"] == "POST" and token_line["path"] == "/oauth/token"
    assert token_line["status"] == 200 and token_line["credential"] == app["client_id"]
    session_line = by_id["scenario-session-1"]
    assert session_line["credential"].startswith("lkst_")
    assert session_line["credential"] in session_token
    introspections = [line for line in lines if line["path"] == "/oauth/introspect"]
    assert {line["status"] for line in introspections} == {400, 401, 200}
    assert rs["client_id"] in {line["credential"] for line in introspections}


# -- prune ------------------------------------------------------------------------------------


def database(live: LiveServer) -> sa.Engine:
    url = live.database_url.replace("postgresql://", "postgresql+psycopg://")
    return sa.create_engine(url)


def test_prune_deletes_expired_revocations_and_ended_sessions_in_batches(
    ops: LiveServer, ops_admin: Api
) -> None:
    app = ops_admin.ok(
        "POST", "/api/apps", 201, json={"name": unique("App"), "scopes": ["people:read"]}
    )
    for _ in range(4):
        r = requests.post(
            f"{ops.url}/oauth/revoke",
            data={"token": issue(ops, app)},
            auth=(app["client_id"], app["client_secret"]),
            timeout=10,
        )
        assert r.status_code == 200
    # Four more sessions: A signed out and B expired, both more than a day ago; C live;
    # D signed out just now (kept for a day).
    a, _b, c, d = (Api.login(ops.url, ADMIN_EMAIL, ADMIN_PASSWORD) for _ in range(4))
    a.ok("DELETE", "/api/sessions/current")
    d.ok("DELETE", "/api/sessions/current")

    engine = database(ops)
    day_ms = 24 * 3600 * 1000
    now = int(time.time() * 1000)
    with engine.begin() as conn:
        jtis = list(conn.execute(sa.text("SELECT jti FROM revoked_tokens ORDER BY jti")).scalars())
        assert len(jtis) == 4
        conn.execute(  # these three tokens have expired
            sa.text("UPDATE revoked_tokens SET expires_at = 1 WHERE jti IN (:x, :y, :z)"),
            dict(zip("xyz", jtis[:3], strict=True)),
        )
        ids = list(conn.execute(sa.text("SELECT id FROM api_sessions ORDER BY id")).scalars())
        id_a, id_b, id_c, id_d = ids[-4:]
        conn.execute(
            sa.text("UPDATE api_sessions SET revoked_at = :at WHERE id = :id"),
            {"at": now - 2 * day_ms, "id": id_a},
        )
        conn.execute(
            sa.text("UPDATE api_sessions SET expires_at = :at WHERE id = :id"),
            {"at": now - day_ms - 60_000, "id": id_b},
        )

    result = ops.flask("prune", "--batch-size", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "expired revocation entries: 3 deleted",
        "ended sign-in sessions: 2 deleted",
        "finished webhook deliveries: 0 deleted",
        "webhook events and expiry notices: 0 deleted",
    ]

    with engine.begin() as conn:
        assert list(conn.execute(sa.text("SELECT jti FROM revoked_tokens")).scalars()) == jtis[3:]
        left = set(conn.execute(sa.text("SELECT id FROM api_sessions")).scalars())
    engine.dispose()
    assert {id_c, id_d} <= left and not {id_a, id_b} & left
    c.ok("GET", "/api/users")  # a live session is untouched
    assert c.get("/api/users").status_code == 200

    again = ops.flask("prune")
    assert "expired revocation entries: 0 deleted" in again.stdout
    assert "ended sign-in sessions: 0 deleted" in again.stdout
