"""First start: the embedded default (``python app.py``) and the first-admin bootstrap."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.api import Api
from tests.live.server import ROOT, LiveServer, free_port


def test_embedded_default_migrates_prints_password_once_and_serves(tmp_path: Path) -> None:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LATCHKEY_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        LATCHKEY_INSTANCE_PATH=str(tmp_path / "instance"),
        LATCHKEY_BIND=f"127.0.0.1:{port}",
        LATCHKEY_ISSUER=f"http://127.0.0.1:{port}",
        PYTHONUNBUFFERED="1",
    )
    log = tmp_path / "out.log"

    def run() -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            try:
                if requests.get(
                    f"http://127.0.0.1:{port}/.well-known/oauth-authorization-server", timeout=1
                ).ok:
                    return proc
            except requests.RequestException:
                time.sleep(0.2)
        proc.kill()
        raise AssertionError(log.read_text())

    proc = run()
    try:
        text = log.read_text()
        assert f"Sign in to the console: http://127.0.0.1:{port}/login" in text
        passwords = re.findall(r"Password:\s+(\S+)", text)
        assert len(passwords) == 1, text
        Api.login(f"http://127.0.0.1:{port}", "admin@localhost", passwords[0])
        # Nothing secret is kept in plaintext next to the database.
        assert passwords[0].encode() not in (tmp_path / "instance" / "latchkey.db").read_bytes()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)

    # A second start reuses the database and prints no new password.
    proc = run()
    try:
        assert len(re.findall(r"Password:", log.read_text())) == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def test_two_workers_starting_together_make_exactly_one_admin(server_factory) -> None:  # type: ignore[no-untyped-def]
    live: LiveServer = server_factory()
    api = Api.login(live.url, "admin@example.com", "correct horse battery staple")
    users = api.ok("GET", "/api/users")
    orgs = api.ok("GET", "/api/orgs")
    assert [u["email"] for u in users] == ["admin@example.com"]
    assert [o["name"] for o in orgs] == ["Default"]
    assert users[0]["role"] == "admin" and users[0]["is_platform_admin"] is True
