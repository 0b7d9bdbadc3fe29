"""What 10,000 garbage credentials cost Latchkey itself, and that none reaches the database.

The HTTP burst in :mod:`run` measures a garbage introspection whole: server, Flask, the
resource server's authentication, Authlib, and the rejection. This measures the rejection
alone, through the introspection endpoint's own dispatch
(:meth:`LatchkeyIntrospectionEndpoint.query_token`) on a migrated SQLite database, with every
SQL statement counted: wrong-checksum API keys, malformed strings with our prefixes, forged
opaque tokens (unknown key ids) and forged JWTs.

    .venv/bin/python bench/garbage.py
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
COUNT = 10_000


def _b62(n: int) -> str:
    return "".join(secrets.choice(BASE62) for _ in range(n))


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _jwt_header() -> str:
    return _b64({"alg": "RS256", "typ": "at+jwt", "kid": _b62(16)})


def garbage(n: int) -> list[str]:
    """``n`` credentials of four kinds, none of which can be genuine."""
    kinds = (
        lambda: f"lk_{_b62(12)}_{_b62(32)}zzzzzz",  # checksum beyond any CRC32
        lambda: f"lk_{_b62(secrets.randbelow(40))}",  # our prefix, wrong shape
        lambda: f"lkat_{_b62(16)}.{_b62(120)}",  # an opaque token under a key id never made
        lambda: f"{_jwt_header()}.{_b62(200)}.{_b62(342)}",  # a JWT under an unknown key
    )
    return [kinds[i % len(kinds)]() for i in range(n)]


def measure(count: int = COUNT) -> tuple[float, int, int]:
    """(CPU seconds, SQL statements, credentials found) for ``count`` garbage credentials."""
    instance = tempfile.mkdtemp(prefix="latchkey-garbage-")
    os.environ.update(
        LATCHKEY_INSTANCE_PATH=instance,
        LATCHKEY_ADMIN_EMAIL="bench@example.com",
        LATCHKEY_ADMIN_PASSWORD="benchmark correct horse battery",
    )
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    from flask_migrate import upgrade

    from oauth_server import create_app
    from oauth_server.extensions import db
    from oauth_server.oauth.introspection import LatchkeyIntrospectionEndpoint

    app = create_app({"LATCHKEY_INSTANCE_PATH": instance, "LATCHKEY_ADMIN_EMAIL": None})
    with app.app_context():
        upgrade()
    app = create_app({"LATCHKEY_INSTANCE_PATH": instance})  # bootstraps on the migrated db
    server = app.extensions["latchkey_oauth"]
    endpoint = LatchkeyIntrospectionEndpoint(server)
    credentials = garbage(count)
    statements: list[str] = []
    with app.test_request_context("/oauth/introspect", method="POST"):
        app.extensions["latchkey"].keyring.current("seal")  # a ring loaded, as in service
        event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        started = time.process_time()
        found = sum(endpoint.query_token(c, None) is not None for c in credentials)
        cpu = time.process_time() - started
    return cpu, len(statements), found


def main() -> int:
    cpu, statements, found = measure()
    print(
        f"{COUNT:,} garbage credentials through introspection's dispatch: {cpu:.3f} CPU-s, "
        f"{statements} SQL statements, {found} accepted"
    )
    return 0 if statements == 0 and found == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
