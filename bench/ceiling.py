"""The framework ceiling: bare Flask answering Latchkey's two hot URLs with constant JSON.

Served by the same server with the same settings as Latchkey and driven by the same wrk
scripts (same method, headers and body), it shows what the server and Flask alone cost: no
client authentication, no database, no crypto. ``ratio`` in the benchmark's table is
Latchkey's throughput divided by this.

:func:`floor` is the server's own floor: a bare WSGI function, no framework at all, giving
the same answers (Latchkey's OAuth POST endpoints do not go through Flask's request cycle).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, jsonify

TOKEN = {
    "access_token": "lkat_ceiling." + "x" * 150,
    "token_type": "Bearer",
    "expires_in": 900,
    "scope": "people:read leads:read",
}
INTROSPECTION = {
    "active": True,
    "scope": "people:read leads:read",
    "client_id": "lkci_000000000000",
    "token_type": "Bearer",
    "exp": 2000000000,
    "iat": 1999999100,
    "sub": "lkci_000000000000",
    "aud": "http://127.0.0.1",
    "iss": "http://127.0.0.1",
    "jti": "0000000000000000000000",
    "org_id": 1,
    "team_id": None,
    "key_prefix": "lkcs_000000000000",
    "name": "Ceiling",
}

app = Flask(__name__)


def _no_store(body: dict[str, object]) -> Response:
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@app.post("/oauth/token")
def token() -> Response:
    return _no_store(TOKEN)


@app.post("/oauth/introspect")
def introspect() -> Response:
    return _no_store(INTROSPECTION)


@app.get("/ready")
def ready() -> str:
    return "ok"


_FLOOR_BODIES = {
    "/oauth/token": json.dumps(TOKEN).encode(),
    "/oauth/introspect": json.dumps(INTROSPECTION).encode(),
}


def floor(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The same answers as :data:`app`, from a plain WSGI function."""
    body = _FLOOR_BODIES.get(environ.get("PATH_INFO", ""))
    if body is None:
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response(
        "200 OK",
        [
            ("Content-Type", "application/json"),
            ("Cache-Control", "no-store"),
            ("Content-Length", str(len(body))),
        ],
    )
    return [body]
