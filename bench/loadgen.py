"""wrk as the load generator: one Lua script per request shape, results as JSON from ``done()``.

wrk builds the request once (method, path, headers, form body) and replays it on every
connection; a ``done()`` hook prints the counts and latency percentiles as one JSON line, so
nothing depends on the layout of wrk's human-readable report. wrk counts a response with a
status of 400 or more as a status error (``non2xx`` here); the benchmark's checks before each
run make sure the request is answered 200 in the first place.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from string import Template

#: Prints the counts and latency percentiles as one JSON line when wrk is done.
_DONE = """\
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"p50_us":%.1f,"p99_us":%.1f,'
    .. '"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.timeout, e.status))
end
"""

_SCRIPT = Template(
    """\
wrk.method = "POST"
wrk.path = [==[$path]==]
wrk.body = [==[$body]==]
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = [==[$authorization]==]

local limit = $limit
local answered = 0

$response_hook

"""
    + _DONE
)

# Only for a run of a fixed number of requests: a response() hook makes wrk parse every
# response, which costs the load generator (and so the shared CPU) more.
_STOP_AFTER_LIMIT = """\
response = function(status, headers, body)
  answered = answered + 1
  if answered >= limit then
    wrk.thread:stop()
  end
end"""


@dataclass(frozen=True, slots=True)
class Request:
    """One POST as wrk replays it."""

    path: str
    body: str
    authorization: str


@dataclass(frozen=True, slots=True)
class LoadResult:
    requests: int
    duration_s: float
    p50_ms: float
    p99_ms: float
    socket_errors: int
    non2xx: int

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0


def wrk_path() -> str | None:
    return shutil.which("wrk")


def write_script(request: Request, path: Path, per_thread_limit: int | None = None) -> Path:
    """A wrk script replaying ``request``; with a limit, each wrk thread stops after that
    many responses."""
    path.write_text(
        _SCRIPT.substitute(
            path=request.path,
            body=request.body,
            authorization=request.authorization,
            limit=per_thread_limit or 0,
            response_hook=_STOP_AFTER_LIMIT if per_thread_limit else "",
        )
    )
    return path


_SPREAD = Template(
    """\
local credentials = {}
for line in io.lines([==[$file]==]) do
  credentials[#credentials + 1] = line
end
local count = #credentials
local headers = {
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["Authorization"] = [==[$authorization]==],
}

local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("seed", threads)
end

init = function(args)
  math.randomseed(os.time() * 1000 + seed)
end

request = function()
  return wrk.format("POST", [==[$path]==], headers, "token=" .. credentials[math.random(count)])
end
"""
)


def write_spread_script(
    path: Path, endpoint_path: str, authorization: str, credentials: Path
) -> Path:
    """A wrk script that sends one credential of the file (one per line, URL-safe) at random
    per request. Each wrk thread loads the list; building the request per call costs wrk a
    little, so the spread cases are compared with the same script over a list of one."""
    path.write_text(
        _SPREAD.substitute(file=credentials, authorization=authorization, path=endpoint_path)
        + "\n"
        + _DONE
    )
    return path


def run(url: str, script: Path, duration_s: float, connections: int, threads: int) -> LoadResult:
    """Run wrk against ``url`` for ``duration_s`` seconds and parse its ``done()`` line."""
    threads = max(1, min(threads, connections))
    completed = subprocess.run(  # noqa: S603 (our own command line)
        [
            wrk_path() or "wrk",
            f"--threads={threads}",
            f"--connections={connections}",
            f"--duration={max(1, round(duration_s))}s",
            "--timeout=10s",
            f"--script={script}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration_s + 120,
    )
    for line in completed.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            return _parse(json.loads(line.removeprefix("BENCH_RESULT ")))
    raise RuntimeError(f"wrk printed no result:\n{completed.stdout}\n{completed.stderr}")


def _parse(raw: dict[str, float]) -> LoadResult:
    return LoadResult(
        requests=int(raw["requests"]),
        duration_s=raw["duration_us"] / 1e6,
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        socket_errors=int(raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]),
        non2xx=int(raw["status"]),
    )
