"""The framework ceiling: bare Flask answering Latchkey's two hot URLs with constant JSON.

Served by the same server with the same settings as Latchkey and driven by the same wrk
scripts (same method, headers and body), it shows what the server and Flask alone cost: no
client authentication, no database, no crypto. ``ratio`` in the benchmark's table is
Latchkey's throughput divided by this.
"""

from __future__ import annotations

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
