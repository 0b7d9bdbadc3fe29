"""What a credential the process has not cached costs: the introspection endpoint called in
process (raw WSGI, no server, no load generator), one key over and over against keys at
random among N, on SQLite, with the usage flush off (it would run on its own thread).

    .venv/bin/python bench/miss_cost.py 200000          # CPU per request, both ways
    .venv/bin/python bench/miss_cost.py 200000 --profile  # and cProfile of the misses
    .venv/bin/python bench/miss_cost.py 1000 --no-request-log  # without the outermost layer
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import io
import os
import pstats
import random
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import data  # noqa: E402
import spread  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("keys", type=int, nargs="?", default=200_000)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--no-request-log",
        action="store_true",
        help="call inside the request log and metrics middleware, to measure what it costs",
    )
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="latchkey-miss-")
    pepper = secrets.token_urlsafe(48)
    os.environ.update(
        LATCHKEY_PEPPER=pepper,
        LATCHKEY_SECRET_KEY=secrets.token_urlsafe(48),
        LATCHKEY_ADMIN_EMAIL="bench@example.com",
        LATCHKEY_ADMIN_PASSWORD="benchmark correct horse battery",
        LATCHKEY_USAGE_FLUSH_SECONDS="3600",
    )
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    from flask_migrate import upgrade

    from keys.hashing import SecretHasher
    from oauth_server import create_app

    app = create_app({"LATCHKEY_INSTANCE_PATH": tmp, "LATCHKEY_ADMIN_EMAIL": None})
    with app.app_context():
        upgrade()
    app = create_app({"LATCHKEY_INSTANCE_PATH": tmp})
    client = app.test_client()
    token = client.post(
        "/api/sessions",
        json={"email": "bench@example.com", "password": "benchmark correct horse battery"},
    ).json["token"]
    admin = {"Authorization": f"Bearer {token}"}
    rs = client.post(
        "/api/resource-servers",
        json={"name": "Bench API", "audience": "https://api.bench.example"},
        headers=admin,
    ).json
    auth = "Basic " + base64.b64encode(f"{rs['client_id']}:{rs['client_secret']}".encode()).decode()
    org_id = client.get("/api/users", headers=admin).json[0]["org_id"]
    made = list(spread._api_keys(SecretHasher(pepper.encode()), org_id, args.keys))
    database = data.Database("sqlite", "", sqlite_path=Path(tmp) / "latchkey.db")
    data.insert_rows(database, [("api_keys", spread.API_KEY_COLUMNS, [r for _, r in made])])
    keys = [k for k, _ in made]
    served = app.wsgi_app._downstream if args.no_request_log else app  # type: ignore[attr-defined]

    def introspect(key: str) -> bytes:
        body = f"token={key}".encode()
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/oauth/introspect",
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_AUTHORIZATION": auth,
            "REMOTE_ADDR": "127.0.0.1",
            "SERVER_NAME": "bench",
            "SERVER_PORT": "80",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
        }
        answer = served(environ, lambda *_: None)
        try:
            return b"".join(answer)
        finally:
            close = getattr(answer, "close", None)
            if close is not None:
                close()

    assert b'"active":true' in introspect(keys[0]).replace(b" ", b"")
    sys.stderr = open(os.devnull, "w")
    for key in random.sample(keys, min(3000, len(keys))):
        introspect(key)
    for label, pick in (
        ("one key", lambda: keys[0]),
        ("keys at random", lambda: random.choice(keys)),
    ):
        started = time.process_time()
        for _ in range(args.requests):
            introspect(pick())
        cpu = (time.process_time() - started) / args.requests
        print(f"{label} of {args.keys:,}: {cpu * 1e6:.1f} us CPU per request")
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.requests // 2):
            introspect(random.choice(keys))
        profile.disable()
        pstats.Stats(profile, stream=sys.stdout).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
