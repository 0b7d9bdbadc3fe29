"""The schema comes from migrations only, and the models agree with them."""

from __future__ import annotations

import subprocess
import sys

from tests.live.server import ROOT, LiveServer


def test_fresh_database_upgrades_to_head_and_matches_the_models(tmp_path, backend: str) -> None:  # type: ignore[no-untyped-def]
    live = LiveServer(backend, tmp_path)
    live.prepare()  # runs `flask --app app db upgrade` on a fresh database
    try:
        check = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", "db", "check"],
            cwd=ROOT,
            env=live.env,
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        down = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", "db", "downgrade", "base"],
            cwd=ROOT,
            env=live.env,
            capture_output=True,
            text=True,
        )
        assert down.returncode == 0, down.stderr
    finally:
        live.close()
