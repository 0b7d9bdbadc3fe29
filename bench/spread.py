"""The spread cases: introspection among many live credentials, each request a random one.

The fixed cases replay one credential, so after the first request every one is a cache hit.
A real operator's resource servers see thousands of customers' keys, each used now and then;
these cases measure that. Credentials are made with real secrets (``keys.format`` and the
deployment's pepper, as Latchkey makes them) and bulk-inserted; opaque tokens are sealed with
the server's own key ring, for many bulk-inserted apps. wrk picks one at random per request
from a file (:func:`loadgen.write_spread_script`).

* ``introspect-api-key-one``: the same script with a list of one key, the baseline the spread
  cases are compared with (the same per-request work in wrk);
* ``introspect-api-key-spread``, ``introspect-user-key-spread``, ``introspect-opaque-spread``;
* ``introspect-api-key-spread-churn``: the API-key spread while another org creates a key every
  200 ms through the management API.
"""

from __future__ import annotations

import random
import secrets
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import seed
from data import API_KEY_COLUMNS, APP_COLUMNS, BASE62, Database, insert_rows
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from keys import format as fmt  # noqa: E402 (the repository root is on the path now)
from keys.access_tokens import AccessTokenCodec  # noqa: E402
from keys.hashing import SecretHasher  # noqa: E402
from keys.keyring import KEK_PURPOSE, KeyRing  # noqa: E402

SPREAD = 200_000
SPREAD_LARGE = 1_000_000
SPREAD_SMOKE = 2_000
#: Apps whose tokens the opaque spread introspects (each has SPREAD / APPS tokens).
APPS = 1_000
CHURN_SECONDS = 0.2

ONE = "introspect-api-key-one"
CASES = (
    ONE,
    "introspect-api-key-spread",
    "introspect-user-key-spread",
    "introspect-opaque-spread",
    "introspect-api-key-spread-churn",
)

SCOPES = " ".join(seed.SCOPES)


@dataclass(frozen=True, slots=True)
class SpreadSets:
    """One file per case: a credential per line."""

    api_keys: Path
    one_key: Path
    user_keys: Path
    opaque_tokens: Path
    count: int


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _api_keys(
    hasher: SecretHasher, org_id: int, count: int
) -> Iterator[tuple[str, tuple[Any, ...]]]:
    now = _now_ms()
    for i in range(count):
        new = fmt.generate("lk")
        row = (
            org_id,
            f"Spread key {i}",
            new.public_id,
            new.display_prefix,
            new.plaintext[-4:],
            hasher.digest(new.plaintext),
            SCOPES,
            False,
            now - count + i,
            now - count + i,
            0,
        )
        yield new.plaintext, row


def _user_keys(
    hasher: SecretHasher, org_id: int, user_id: int, count: int
) -> Iterator[tuple[str, tuple[Any, ...]]]:
    now = _now_ms()
    for i in range(count):
        token = "legacy" + secrets.token_hex(20)
        handle = "".join(random.choices(BASE62, k=12))
        row = (
            org_id,
            user_id,
            f"Spread user key {i}",
            f"lkuk_{handle}{i}",
            token[-4:],
            hasher.digest(token),
            SCOPES,
            now,
            now,
            0,
        )
        yield token, row


def _apps(org_id: int, count: int) -> list[tuple[Any, ...]]:
    now = _now_ms()
    rows = []
    for i in range(count):
        public_id = fmt.new_public_id()
        rows.append(
            (
                org_id,
                f"Spread app {i}",
                f"lkci_{public_id}",
                f"lkcs_{public_id}",
                "abcd",
                secrets.token_hex(32),  # nobody authenticates as these apps
                SCOPES,
                seed.TOKEN_TTL_SECONDS,
                "opaque",
                now,
                now,
                0,
            )
        )
    return rows


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


USER_KEY_COLUMNS = (
    "org_id",
    "user_id",
    "name",
    "prefix",
    "hint",
    "token_hash",
    "scopes",
    "created_at",
    "imported_at",
    "usage_count",
)


def make(
    database: Database, env: dict[str, str], org_id: int, user_id: int, count: int, folder: Path
) -> SpreadSets:
    """``count`` API keys, user keys and opaque tokens (of :data:`APPS` apps), live."""
    hasher = SecretHasher(env["LATCHKEY_PEPPER"].encode())
    keys = list(_api_keys(hasher, org_id, count))
    users = list(_user_keys(hasher, org_id, user_id, count))
    apps = _apps(org_id, min(APPS, count))
    insert_rows(
        database,
        [
            ("api_keys", API_KEY_COLUMNS, [row for _, row in keys]),
            ("user_keys", USER_KEY_COLUMNS, [row for _, row in users]),
            ("oauth_apps", APP_COLUMNS, apps),
        ],
    )
    tokens = _tokens(database, env, org_id, [str(app[2]) for app in apps], count)
    return SpreadSets(
        api_keys=_write(folder / "api-keys.txt", [k for k, _ in keys]),
        one_key=_write(folder / "one-key.txt", [keys[0][0]]),
        user_keys=_write(folder / "user-keys.txt", [t for t, _ in users]),
        opaque_tokens=_write(folder / "opaque-tokens.txt", tokens),
        count=count,
    )


def _tokens(
    database: Database, env: dict[str, str], org_id: int, client_ids: list[str], count: int
) -> list[str]:
    """Opaque tokens sealed with the server's current key (the seed's token requests made
    it), as the token endpoint would issue them to these apps."""
    hasher = SecretHasher(env["LATCHKEY_PEPPER"].encode())
    url = database.url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    try:
        ring = KeyRing(
            kek=hasher.derive_key(KEK_PURPOSE),
            session_factory=lambda: Session(engine, expire_on_commit=False),
        )
        codec = AccessTokenCodec(ring, "lkat", env["LATCHKEY_ISSUER"])
        tokens = []
        for i in range(count):
            claims = codec.claims_for(
                client_id=client_ids[i % len(client_ids)],
                org_id=org_id,
                team_id=None,
                scope=SCOPES,
                audience=None,
                ttl_seconds=seed.TOKEN_TTL_SECONDS,
            )
            tokens.append(codec.encode(claims, "opaque"))
        return tokens
    finally:
        engine.dispose()


def check_active(url: str, authorization: str, path: Path, samples: int = 50) -> None:
    """A sample of the set is answered active: the figures are never an error path's."""
    lines = path.read_text().split()
    for token in random.sample(lines, min(samples, len(lines))):
        r = requests.post(
            f"{url}/oauth/introspect",
            data={"token": token},
            headers={"Authorization": authorization},
            timeout=30,
        )
        if r.status_code != 200 or r.json().get("active") is not True:
            raise RuntimeError(f"{path.name}: a credential is not active: {r.status_code} {r.text}")


class Churn:
    """A management write every ``CHURN_SECONDS`` in another org, for the length of a run."""

    def __init__(self, url: str, admin: seed.Admin) -> None:
        org = admin.call("POST", "/api/orgs", 201, json={"name": "Churn", "api_access": True})
        email = f"churn-{secrets.token_hex(4)}@example.com"
        admin.call(
            "POST",
            "/api/users",
            201,
            json={
                "email": email,
                "name": "Churn admin",
                "role": "admin",
                "org_id": org["id"],
                "password": seed.ADMIN_PASSWORD,
            },
        )
        self._http = requests.Session()
        r = self._http.post(
            f"{url}/api/sessions",
            json={"email": email, "password": seed.ADMIN_PASSWORD},
            timeout=30,
        )
        r.raise_for_status()
        self._http.headers["Authorization"] = f"Bearer {r.json()['token']}"
        self._url = url
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="churn", daemon=True)
        self.writes = 0
        self.failures = 0

    def __enter__(self) -> Churn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(CHURN_SECONDS):
            r = self._http.post(
                f"{self._url}/api/keys",
                json={"name": f"Churn {self.writes}", "scopes": seed.SCOPES},
                timeout=30,
            )
            if r.status_code == 201:
                self.writes += 1
            else:
                self.failures += 1
