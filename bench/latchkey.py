"""A Latchkey under test: its settings (the environment of its processes) and its database,
migrated to head before the server starts (the benchmark and the soak share them)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import data
import seed

ROOT = Path(__file__).resolve().parent.parent


def environment(
    database: data.Database, workdir: Path, port: int, redis_url: str | None
) -> dict[str, str]:
    """The settings of a Latchkey on ``database`` at 127.0.0.1:``port``, bootstrapping the
    bench's admin; Redis only on PostgreSQL (SQLite's processes share one host)."""
    env = {
        **os.environ,
        "DATABASE_URL": database.url,
        "LATCHKEY_INSTANCE_PATH": str(workdir / "instance"),
        "LATCHKEY_ISSUER": f"http://127.0.0.1:{port}",
        "LATCHKEY_PEPPER": secrets.token_urlsafe(48),
        "LATCHKEY_SECRET_KEY": secrets.token_urlsafe(48),
        "LATCHKEY_ADMIN_EMAIL": seed.ADMIN_EMAIL,
        "LATCHKEY_ADMIN_PASSWORD": seed.ADMIN_PASSWORD,
        # Only failed client authentications count; the load must never be throttled (the
        # soak's retired secrets fail on purpose).
        "LATCHKEY_CLIENT_AUTH_LIMIT": "1000000000 per minute",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("REDIS_URL", None)
    if database.backend == "postgresql" and redis_url:
        env["REDIS_URL"] = redis_url
    return env


def migrate(env: dict[str, str]) -> None:
    """``flask --app app db upgrade`` with these settings."""
    migrated = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=False,
        capture_output=True,
        text=True,
    )
    if migrated.returncode != 0:
        raise RuntimeError(f"flask db upgrade failed:\n{migrated.stderr[-3000:]}")
