"""A real Latchkey process for the live tests: migrated, gunicorn with two workers, HTTP.

Each server gets its own database: a SQLite file in a temporary folder, or a fresh
PostgreSQL database created on the machine's server (and dropped afterwards).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
from redis import Redis

from tests.servers import drop_pg_database, fresh_database, server_settings

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("LATCHKEY_TEST_REDIS", "redis://127.0.0.1:6379/15")


def forget_redis_state(redis_url: str, issuer: str) -> None:
    """Drop what an earlier server with the same issuer (a test server that had the same
    port, minutes ago) left in the shared Redis: its throttle counts would otherwise lock
    this one out from the start."""
    client = Redis.from_url(redis_url)
    try:
        stamp = f"latchkey:state-stamp:{issuer}"  # the stamp, and its leases and epoch
        for pattern in (f"LIMITS:*/{issuer} *", stamp, f"{stamp}:*"):
            for key in client.scan_iter(match=pattern):
                client.delete(key)
    finally:
        client.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    backend: str
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    database_url: str = ""
    pg_name: str | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    @property
    def sqlite_path(self) -> Path:
        return self.workdir / "latchkey.db"

    def prepare(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.database_url, self.pg_name = fresh_database(self.backend, self.sqlite_path)
        self.env = {
            **os.environ,
            **server_settings(self.database_url, self.url),
            "PYTHONUNBUFFERED": "1",
            **({"REDIS_URL": REDIS_URL} if self.backend == "postgresql" else {}),
            **self.extra_env,
        }
        if self.env.get("REDIS_URL"):
            forget_redis_state(self.env["REDIS_URL"], self.url)
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "app:app",
                    "--workers",
                    "2",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--graceful-timeout",
                    "10",
                    "--access-logfile",
                    "-",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(self.url + "/.well-known/oauth-authorization-server", timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.process.kill()  # never leave a half-started server behind
        self.process.wait()
        raise RuntimeError(f"server did not start: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        """Graceful stop (SIGTERM), as an operator's process manager would do it."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def flask(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``flask --app app <args>`` against this server's database and settings."""
        return subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        if self.pg_name:
            drop_pg_database(self.pg_name)


@contextmanager
def running(backend: str, workdir: Path, **env: str) -> Iterator[LiveServer]:
    """A prepared, started server with these extra settings, closed afterwards."""
    live = LiveServer(backend, workdir, extra_env=env)
    live.prepare()
    try:
        live.start()
        yield live
    finally:
        live.close()
