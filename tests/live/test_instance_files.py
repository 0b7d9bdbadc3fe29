"""What the embedded default leaves on disk is readable by its own user only.

The server is started as an operator would start it (``python app.py``, nothing set but the
instance folder) under the usual umask, 022, which alone would give 0755 and 0644.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.live.server import ROOT, free_port

USUAL_UMASK = 0o022


def plain_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of an operator who set nothing of Latchkey's but these."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LATCHKEY_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(LATCHKEY_INSTANCE_PATH=str(tmp_path / "instance"), PYTHONUNBUFFERED="1", **extra)
    return env


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_embedded_default_keeps_its_instance_folder_to_itself(tmp_path: Path) -> None:
    port = free_port()
    env = plain_env(
        tmp_path,
        LATCHKEY_BIND=f"127.0.0.1:{port}",
        LATCHKEY_ISSUER=f"http://127.0.0.1:{port}",
        LATCHKEY_ADMIN_EMAIL="admin@example.com",
        LATCHKEY_ADMIN_PASSWORD="correct horse battery staple",
    )
    log = tmp_path / "out.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "app.py"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            umask=USUAL_UMASK,
        )
    try:
        deadline = time.monotonic() + 40
        while True:
            try:
                url = f"http://127.0.0.1:{port}/api/sessions"
                body = {"email": "admin@example.com", "password": "correct horse battery staple"}
                if requests.post(url, json=body, timeout=2).status_code == 201:
                    break  # migrated, bootstrapped, serving: every file is there
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        instance = tmp_path / "instance"
        files = {p.name: mode(p) for p in instance.iterdir()}
        assert mode(instance) == 0o700
        expected = {"latchkey.db", "latchkey.db-wal", "latchkey.db-shm", "pepper", "secret_key"}
        assert expected <= set(files), files
        assert files == dict.fromkeys(files, 0o600), files
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def test_a_database_elsewhere_is_private_when_latchkey_creates_it_and_untouched_otherwise(
    tmp_path: Path,
) -> None:
    """A ``DATABASE_URL`` file outside the instance folder: one that Latchkey creates is
    0600; one the operator made keeps the mode the operator gave it."""
    elsewhere = tmp_path / "data"
    elsewhere.mkdir()
    made_by_operator = elsewhere / "operator.db"
    made_by_operator.touch()
    made_by_operator.chmod(0o640)
    for path in (elsewhere / "new.db", made_by_operator):
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
            cwd=ROOT,
            env=plain_env(tmp_path, DATABASE_URL=f"sqlite:///{path}"),
            check=True,
            capture_output=True,
            umask=USUAL_UMASK,
        )
    assert mode(elsewhere / "new.db") == 0o600
    assert mode(made_by_operator) == 0o640
    assert made_by_operator.stat().st_size > 0  # migrated, so Latchkey did use it
    assert mode(tmp_path / "instance") == 0o700
