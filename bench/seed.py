"""What the benchmark introspects and asks tokens for, made as an operator would: through the
management API (a resource server, an opaque app, a JWT app signing RS256 and one signing
ES256, an API key), the
``import-user-keys`` command (a legacy user key), and the token endpoint (one access token of
each format)."""

from __future__ import annotations

import base64
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

ADMIN_EMAIL = "bench@example.com"
ADMIN_PASSWORD = "benchmark correct horse battery"
SCOPES = ["people:read", "leads:read"]
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#: A day: tokens made at the start stay valid through a long (--large) run.
TOKEN_TTL_SECONDS = 86400


@dataclass(frozen=True, slots=True)
class Fixture:
    """The credentials the cases replay."""

    org_id: int
    session_token: str
    resource_server_auth: str  # Authorization header value (Basic)
    opaque_app_auth: str
    jwt_app_auth: str  # RS256
    es256_app_auth: str
    api_key: str
    api_key_id: int
    user_key: str
    opaque_token: str
    jwt_token: str
    es256_token: str
    garbage: str


def basic(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1: form-urlencode the ID and secret, then Basic."""
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def garbage_api_key() -> str:
    """An ``lk_`` key of the right shape whose checksum is wrong ("zzzzzz" is beyond any
    CRC32), so it is refused at the checksum, before any lookup."""
    public_id = "".join(secrets.choice(BASE62) for _ in range(12))
    secret = "".join(secrets.choice(BASE62) for _ in range(32))
    return f"lk_{public_id}_{secret}zzzzzz"


class Admin:
    """The bootstrapped admin, signed in to the management API."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        r = self.http.post(
            f"{url}/api/sessions",
            json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
            timeout=30,
        )
        if r.status_code != 201:
            raise RuntimeError(f"sign-in failed: {r.status_code} {r.text}")
        self.token = str(r.json()["token"])
        self.http.headers["Authorization"] = f"Bearer {self.token}"

    def call(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        r = self.http.request(method, self.url + path, timeout=30, **kwargs)
        if r.status_code != status:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text}")
        return r.json()


def access_token(url: str, auth: str) -> str:
    r = requests.post(
        f"{url}/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": auth},
        timeout=30,
    )
    if r.status_code != 200:
        raise RuntimeError(f"token request failed: {r.status_code} {r.text}")
    return str(r.json()["access_token"])


def import_user_key(env: dict[str, str], root: Path, workdir: Path, org_id: int) -> str:
    """A legacy token for the admin, imported with ``flask import-user-keys``."""
    token = "legacy" + secrets.token_hex(20)
    csv = workdir / "user-keys.csv"
    csv.write_text(
        "email,name,token,created_at,scopes\n"
        f"{ADMIN_EMAIL},Bench Admin,{token},2024-01-01T00:00:00Z,{' '.join(SCOPES)}\n"
    )
    command = [sys.executable, "-m", "flask", "--app", "app", "import-user-keys"]
    subprocess.run(  # noqa: S603 (our own command line)
        [*command, "--org", str(org_id), str(csv)],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    csv.unlink()
    return token


def seed(url: str, env: dict[str, str], root: Path, workdir: Path) -> Fixture:
    admin = Admin(url)
    org_id = int(admin.call("GET", "/api/users")[0]["org_id"])
    rs = admin.call(
        "POST",
        "/api/resource-servers",
        201,
        json={"name": "Bench API", "audience": "https://api.bench.example"},
    )
    apps = {
        label: admin.call(
            "POST",
            "/api/apps",
            201,
            json={
                "name": f"Bench {label} app",
                "scopes": SCOPES,
                "team_id": None,
                "token_format": fmt,
                "jwt_signing_alg": alg,
                "token_ttl_seconds": TOKEN_TTL_SECONDS,
            },
        )
        for label, fmt, alg in (
            ("opaque", "opaque", "RS256"),
            ("jwt", "jwt", "RS256"),
            ("es256", "jwt", "ES256"),
        )
    }
    key = admin.call(
        "POST", "/api/keys", 201, json={"name": "Bench key", "scopes": SCOPES, "team_id": None}
    )
    auth = {fmt: basic(app["client_id"], app["client_secret"]) for fmt, app in apps.items()}
    return Fixture(
        org_id=org_id,
        session_token=admin.token,
        resource_server_auth=basic(rs["client_id"], rs["client_secret"]),
        opaque_app_auth=auth["opaque"],
        jwt_app_auth=auth["jwt"],
        es256_app_auth=auth["es256"],
        api_key=str(key["key"]),
        api_key_id=int(key["id"]),
        user_key=import_user_key(env, root, workdir, org_id),
        opaque_token=access_token(url, auth["opaque"]),
        jwt_token=access_token(url, auth["jwt"]),
        es256_token=access_token(url, auth["es256"]),
        garbage=garbage_api_key(),
    )
