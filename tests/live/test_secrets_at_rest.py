"""A secret is shown once and stored nowhere: not in the database, not in the server log."""

from __future__ import annotations

import secrets
from typing import Any

import requests

from keys import format as fmt
from tests.api import ADMIN_PASSWORD, Api
from tests.fixtures import unique
from tests.live.server import LiveServer
from tests.oauth_calls import introspect


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


def oauth_app_secrets(
    server: LiveServer, admin: Api, make_app: Any, resource_server: dict[str, Any]
) -> list[str]:
    """Client secrets (one rotated), access tokens, a near-miss secret: all issued or sent."""
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
    last = app["client_secret"][-1]
    near_miss = app["client_secret"][:-1] + ("x" if last != "x" else "y")
    requests.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(app["client_id"], near_miss),
        timeout=10,
    )
    issued.append(near_miss)
    return issued


def api_key_secrets(
    server: LiveServer,
    make_org: Any,
    make_key: Any,
    make_team: Any,
    import_user_keys: Any,
    resource_server: dict[str, Any],
) -> tuple[list[str], list[str]]:
    """Every kind of API key (created, rotated with an overlap, temporary, made by a key,
    replacing a user key) and imported user keys, each used: their plaintexts, and the
    display prefixes that the database does hold (so the scan is known to reach them)."""
    org, api = make_org()
    issued = [api.http.headers["Authorization"].split()[1]]
    team = make_team(api)
    created = make_key(
        api, scopes=["keys:write", "keys:delete", "people:read", "leads:read"], team_id=None
    )
    rotated = api.ok("POST", f"/api/keys/{created['id']}/rotate", json={"grace_period_seconds": 60})
    temporary = api.ok("POST", "/api/keys/temporary", 201, json={})
    as_key = Api.with_key(server.url, rotated["key"])
    delegated = as_key.ok(
        "POST",
        "/api/keys",
        201,
        json={"name": unique("Delegated"), "scopes": ["people:read"], "team_id": team["id"]},
    )
    issued += [created["key"], rotated["key"], temporary["key"], delegated["key"]]

    tokens = [f"pat-{secrets.token_hex(20)}", f"legacy {secrets.token_urlsafe(24)}"]
    rows = [
        {
            "email": f"{unique('legacy')}@example.com",
            "name": "Legacy sync",
            "token": token,
            "created_at": "2021-06-07T08:09:10Z",
            "scopes": "people:read leads:read",
        }
        for token in tokens
    ]
    result = import_user_keys(org["id"], rows)
    assert result.returncode == 0, result.stderr
    issued += tokens
    user_key_ids = {k["hint"]: k["id"] for k in api.ok("GET", "/api/user-keys")}
    replaced, revoked = (user_key_ids[t[-4:]] for t in tokens)
    replacement = api.ok("POST", f"/api/user-keys/{replaced}/replace", 201, json={})
    issued.append(replacement["key"])

    # Use them all: introspection, and the management API in every header style.
    for key in issued[1:]:
        assert introspect(server, resource_server, key)["active"] is True, key
    for style in ("bearer", "bare", "x-api-key"):
        for key in (created["key"], rotated["key"]):  # the old one during the overlap
            Api.with_key(server.url, key, style).ok("GET", "/api/keys")
    as_key.ok("GET", f"/api/keys/{delegated['id']}")
    as_key.ok("POST", f"/api/keys/{delegated['id']}/revoke")
    api.ok("DELETE", f"/api/user-keys/{revoked}")
    assert introspect(server, resource_server, tokens[1]) == {"active": False}

    # Near misses, refused, must not be kept either.
    body = created["key"][: -fmt.CHECKSUM_LENGTH]
    body = body[:-5] + ("A" if body[-5] != "A" else "B") + body[-4:]
    wrong_secret = body + fmt.checksum(body)
    unknown = fmt.generate("lk").plaintext
    for near_miss in (wrong_secret, unknown, tokens[0][:-1] + "!"):
        assert introspect(server, resource_server, near_miss) == {"active": False}
        assert Api.with_key(server.url, near_miss).get("/api/keys").status_code == 401
        issued.append(near_miss)

    # A key's secret part, without its (public) display prefix, is a secret as well.
    parts = [k.rsplit("_", 1)[1] for k in issued if k.startswith("lk_")]
    shown = [created["prefix"], temporary["prefix"], delegated["prefix"], replacement["prefix"]]
    return issued + parts + [p[: fmt.SECRET_LENGTH] for p in parts], shown


def test_no_issued_secret_is_stored_or_logged(
    server: LiveServer,
    admin: Api,
    make_app: Any,
    make_org: Any,
    make_key: Any,
    make_team: Any,
    import_user_keys: Any,
    resource_server: dict[str, Any],
) -> None:
    key_secrets, key_prefixes = api_key_secrets(
        server, make_org, make_key, make_team, import_user_keys, resource_server
    )
    issued = [*oauth_app_secrets(server, admin, make_app, resource_server), *key_secrets]
    assert len(set(issued)) == len(issued)

    dump = database_dump(server)
    for prefix in key_prefixes:  # the keys' rows are in the dump; only their secrets are not
        assert prefix.encode() in dump
    log = server.log_path.read_bytes()
    for secret in [*issued, ADMIN_PASSWORD]:
        assert secret.encode() not in dump, secret
        assert secret.encode() not in log, secret
