"""Sampling profiles of the server's workers with py-spy, and where the time goes.

py-spy attaches from outside (ptrace) and changes nothing in the app. Profiles are saved in
the collapsed-stack format (``--format raw``), which speedscope.app and flamegraph tools open
as they are; :func:`summarize` reads them for the report:

* samples whose leaf is a wait (a lock, a socket, a poll) are set apart, since py-spy's
  idle detection misses some of them; the shares below are of the other, busy samples;
* by area: each sample goes to the nearest frame (from the leaf up) in a library we can
  name (SQLAlchemy, psycopg, Authlib, Flask/Werkzeug, ...), or to Latchkey's own code;
* the leaf functions with the most samples (self time);
* Latchkey's own functions by total (inclusive) share, to see which step costs what.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent

#: (marker in the file path, area), first match wins.
AREAS = (
    (f"{ROOT}/keys/", "Latchkey keys/"),
    (f"{ROOT}/oauth_server/", "Latchkey oauth_server/"),
    ("/sqlalchemy/", "SQLAlchemy"),
    ("/flask_sqlalchemy/", "SQLAlchemy"),
    ("/psycopg", "psycopg"),
    ("/sqlite3/", "sqlite3"),
    ("/authlib/", "Authlib"),
    ("/limits/", "limits/redis"),
    ("/redis/", "limits/redis"),
    ("/cryptography/", "crypto"),
    ("/joserfc/", "crypto"),
    ("/flask_login/", "Flask/Werkzeug"),
    ("/flask_wtf/", "Flask/Werkzeug"),
    ("/flask/", "Flask/Werkzeug"),
    ("/werkzeug/", "Flask/Werkzeug"),
    ("/gunicorn/", "server"),
    ("/granian/", "server"),
)
#: Leaf functions that wait rather than compute (py-spy's idle detection misses them on
#: some kernels): locks, sockets, pollers, idle thread-pool workers, gunicorn's arbiter.
WAITS = frozenset(
    (
        "wait",
        "select",
        "poll",
        "recv",
        "recv_into",
        "readinto",
        "accept",
        "acquire",
        "sleep",
        "_worker",
        "wait_for_signals",
    )
)


@dataclass(frozen=True, slots=True)
class Frame:
    function: str
    self_pct: float
    total_pct: float


@dataclass
class Summary:
    samples: int = 0
    waiting: int = 0
    by_area: dict[str, float] = field(default_factory=dict)
    top_self: list[Frame] = field(default_factory=list)
    top_latchkey: list[Frame] = field(default_factory=list)


def py_spy_path() -> str | None:
    """py-spy from the venv (pip-installed if missing), else from PATH, else None."""
    local = BIN / "py-spy"
    if not local.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "py-spy"],
            check=False,
            capture_output=True,
        )
    if local.exists():
        return str(local)
    return shutil.which("py-spy")


MODES = ("cpu", "wall")


def start(pid: int, duration_s: float, output: Path, mode: str) -> subprocess.Popen[bytes]:
    """Record ``pid`` and its subprocesses (the workers) for ``duration_s`` s at 200 Hz.

    ``cpu``: only threads holding the GIL, i.e. Python at work (C code that released the GIL,
    such as a socket wait or SQLite's own search, is left out). ``wall``: every thread py-spy
    does not see idle, so blocking calls (a Redis or PostgreSQL round trip) show their time.
    """
    return subprocess.Popen(  # noqa: S603 (our own command line)
        [
            py_spy_path() or "py-spy",
            "record",
            *(["--gil"] if mode == "cpu" else []),
            "--pid",
            str(pid),
            "--subprocesses",
            "--duration",
            str(max(1, round(duration_s))),
            "--rate",
            "200",
            "--format",
            "raw",
            "--nolineno",
            "--full-filenames",
            "--output",
            str(output),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def finish(process: subprocess.Popen[bytes], output: Path) -> str | None:
    """Wait for py-spy; None on success, else what went wrong (ptrace refused, ...)."""
    out, _ = process.communicate(timeout=120)
    if process.returncode != 0 or not output.exists():
        return out.decode(errors="replace").strip()[-500:] or f"exit {process.returncode}"
    return None


def _split(frame: str) -> tuple[str, str]:
    """``function (path)`` → (function, path)."""
    name, _, where = frame.partition(" (")
    return name, where.rstrip(")")


def _short(frame: str) -> str:
    name, where = _split(frame)
    for marker in ("site-packages/", f"{ROOT}/", "lib/python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})"


def _area(path: str) -> str | None:
    for marker, area in AREAS:
        if marker in path:
            return area
    return None


def _is_wait(frame: str) -> bool:
    name = _split(frame)[0].rsplit(".", 1)[-1]
    return name in WAITS or name.startswith("_wait")


def _sample_area(frames: list[str]) -> str:
    for frame in reversed(frames):
        area = _area(_split(frame)[1])
        if area:
            return area
    return "other (stdlib)"


def summarize(raw: Path, limit: int = 12) -> Summary:
    """Shares of the busy samples: those whose leaf is not a wait."""
    self_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    samples = waiting = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        frames = [f for f in stack.split(";") if f and not f.startswith("process ")]
        if not frames or not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        if _is_wait(frames[-1]):
            waiting += count
            continue
        areas[_sample_area(frames)] += count
        self_counts[_short(frames[-1])] += count
        for frame in {_short(f) for f in frames}:
            total_counts[frame] += count
    busy = samples - waiting
    if not busy:
        return Summary(samples=samples, waiting=waiting)

    def pct(n: int) -> float:
        return 100 * n / busy

    return Summary(
        samples=samples,
        waiting=waiting,
        by_area={area: pct(n) for area, n in areas.most_common()},
        top_self=[
            Frame(f, pct(n), pct(total_counts[f])) for f, n in self_counts.most_common(limit)
        ],
        top_latchkey=[
            Frame(f, pct(self_counts.get(f, 0)), pct(n))
            for f, n in total_counts.most_common()
            if _is_latchkey(f)
        ][:limit],
    )


def _is_latchkey(short_frame: str) -> bool:
    where = _split(short_frame)[1]
    return where.startswith(("keys/", "oauth_server/")) and "site-packages" not in where
