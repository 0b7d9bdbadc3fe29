"""A secret is shown once and stored nowhere: not in the database, not in the server log."""

from __future__ import annotations

from typing import Any

import requests

from tests.live.server import ADMIN_PASSWORD, Api, LiveServer


def database_dump(server: LiveServer) -> bytes:
    """Every byte the database holds (SQLite: the files; PostgreSQL: every row as JSON)."""
    if server.backend == "sqlite":
        files = [server.sqlite_path, *server.sqlite_path.parent.glob("latchkey.db-*")]
        return b"".join(p.read_bytes() for p in files if p.exists())
    import psycopg

    with psycopg.connect(server.database_url) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        ]
        rows = []
        for table in tables:
            rows += [
                str(r[0])
                for r in conn.execute(f'SELECT row_to_json(t) FROM "{table}" t').fetchall()
            ]
    return "\n".join(rows).encode()


def test_no_issued_secret_is_stored_or_logged(
    server: LiveServer, admin: Api, make_app: Any, resource_server: dict[str, Any]
) -> None:
    app = make_app(token_format="jwt")
    opaque_app = make_app()
    rotated = admin.ok(
        "POST", f"/api/apps/{app['id']}/rotate-secret", json={"grace_period_seconds": 60}
    )
    issued = [
        app["client_secret"],
        rotated["client_secret"],
        opaque_app["client_secret"],
        resource_server["client_secret"],
        admin.http.headers["Authorization"].split()[1],
    ]
    for client in (rotated, opaque_app):
        token = requests.post(
            f"{server.url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client["client_id"], client["client_secret"]),
            timeout=10,
        ).json()["access_token"]
        issued.append(token)
        answer = requests.post(
            f"{server.url}/oauth/introspect",
            data={"token": token},
            auth=(resource_server["client_id"], resource_server["client_secret"]),
            timeout=10,
        ).json()
        assert answer["active"] is True
    # A failed attempt with a near-miss secret must not be logged either.
    near_miss = app["client_secret"][:-1] + "x"
    requests.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(app["client_id"], near_miss),
        timeout=10,
    )
    issued.append(near_miss)

    dump = database_dump(server)
    log = server.log_path.read_bytes()
    for secret in [*issued, ADMIN_PASSWORD]:
        assert secret.encode() not in dump
        assert secret.encode() not in log
