"""The WSGI servers under test: their command lines, start and stop, and what their processes
cost, read from /proc (CPU: utime + stime; memory: each worker's peak RSS, VmHWM).

A server is its master process and every process below it. CPU is summed over that tree,
including ``cutime``/``cstime`` (what reaped children used), so a worker that is replaced
mid-run still counts.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

SERVERS = ("gunicorn-sync", "gunicorn-gthread", "granian")
#: The production server the README recommends, until measurement picks another.
RECOMMENDED = "granian"

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
BIN = Path(sys.executable).parent


@dataclass(frozen=True, slots=True)
class ServerSettings:
    kind: str
    workers: int
    threads: int

    def describe(self) -> str:
        if self.kind == "gunicorn-sync":
            return f"gunicorn -k sync -w {self.workers}"
        if self.kind == "gunicorn-gthread":
            return f"gunicorn -k gthread -w {self.workers} --threads {self.threads}"
        return (
            f"granian --interface wsgi --workers {self.workers} --blocking-threads {self.threads}"
        )


def command(settings: ServerSettings, target: str, port: int) -> list[str]:
    """The command line that serves ``target`` (``module:app``) on 127.0.0.1:``port``.

    No access log: the figures are the server's and the app's, not the log's.
    """
    if settings.kind == "granian":
        return [
            str(BIN / "granian"),
            "--interface",
            "wsgi",
            "--workers",
            str(settings.workers),
            "--blocking-threads",
            str(settings.threads),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
            target,
        ]
    worker_class = "sync" if settings.kind == "gunicorn-sync" else "gthread"
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        target,
        "--workers",
        str(settings.workers),
        "--worker-class",
        worker_class,
        "--bind",
        f"127.0.0.1:{port}",
        "--graceful-timeout",
        "10",
    ]
    if worker_class == "gthread":
        cmd += ["--threads", str(settings.threads)]
    return cmd


# -- /proc ------------------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after ``comm`` (field 3 onwards), or None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def _parents() -> dict[int, int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None:
                parents[int(entry)] = int(fields[1])
    return parents


def descendants(root: int) -> list[int]:
    """Every process below ``root`` (children, grandchildren, ...)."""
    children: dict[int, list[int]] = {}
    for pid, ppid in _parents().items():
        children.setdefault(ppid, []).append(pid)
    found: list[int] = []
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime + cutime + cstime of ``pids``, in seconds (fields 14-17 of stat)."""
    ticks = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            ticks += sum(int(v) for v in fields[11:15])
    return ticks / CLOCK_TICKS


def memory_mb(pid: int, field: str) -> float:
    """A memory field of /proc/<pid>/status (``VmHWM``: peak RSS, ``VmRSS``: RSS now) in MB;
    0 when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def free_port() -> int:
    """A TCP port free on loopback just now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- a running server -------------------------------------------------------------------------


@dataclass
class RunningServer:
    settings: ServerSettings
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def workers(self) -> list[int]:
        """The worker processes (the master itself when it has none)."""
        return descendants(self.pid) or [self.pid]

    def cpu_seconds(self) -> float:
        return cpu_seconds([self.pid, *descendants(self.pid)])

    def peak_rss_mb(self) -> float:
        """The largest worker's peak RSS so far."""
        return max(memory_mb(pid, "VmHWM") for pid in self.workers())

    def rss_mb(self) -> float:
        """The largest worker's RSS now."""
        return max(memory_mb(pid, "VmRSS") for pid in self.workers())

    def stop(self) -> None:
        """SIGTERM (graceful, as a process manager would); SIGKILL to its group after 20 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start(
    settings: ServerSettings,
    target: str,
    cwd: Path,
    env: dict[str, str],
    port: int,
    log_path: Path,
    ready_path: str,
) -> RunningServer:
    """Start the server in its own process group and wait until ``ready_path`` answers."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 (our own command line)
            command(settings, target, port),
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = RunningServer(settings, process, port, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{settings.kind} exited: {log_path.read_text()[-3000:]}")
        try:
            if requests.get(server.url + ready_path, timeout=2).status_code < 500:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{settings.kind} did not start: {log_path.read_text()[-3000:]}")
