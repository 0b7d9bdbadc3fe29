"""Latchkey's benchmark: token issuance and introspection under load, against the ceiling.

For each server (``--server``) and database (``--backend``): a fresh database, migrated; a
production server started on it; credentials seeded through the management API; then each
case driven by wrk after a warm-up, with the server's CPU (all its processes, from /proc),
peak worker RSS and, on PostgreSQL, the database backends' CPU measured around the run. The
framework ceiling (bare Flask, :mod:`ceiling`) and the server's floor (a bare WSGI function)
run under the same server and settings in the same run. Results: a Markdown table on stdout,
and JSON in ``--out``.

    .venv/bin/python bench/run.py                      # both databases, the recommended server
    .venv/bin/python bench/run.py --smoke --backend sqlite
    .venv/bin/python bench/run.py --server gunicorn-sync,gunicorn-gthread,granian
    .venv/bin/python bench/run.py --large --backend sqlite --profile cpu

It asserts nothing about speed; it fails when a request is not answered as it should be (so a
figure is never the cost of an error path).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import data
import latchkey
import loadgen
import profiler
import requests
import seed
import servers
import spread
from data import Volume
from loadgen import Request
from seed import Fixture
from servers import RunningServer, ServerSettings

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
BACKENDS = ("sqlite", "postgresql")
SMALL = Volume(api_keys=1_000, apps=10, revoked_tokens=100)
LARGE = Volume(api_keys=1_000_000, apps=10_000, revoked_tokens=100_000)
GARBAGE_BURST = 10_000
PROFILED = ("token-opaque", "introspect-api-key")
LARGE_CASES = ("introspect-api-key", "introspect-opaque")


class CheckFailed(RuntimeError):
    """A request was not answered as the case expects: its figures would be an error path's."""


# -- cases ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    endpoint: str  # "token" | "introspect"
    credential: Callable[[Fixture], str]  # the app's Authorization, or the token introspected
    expect_active: bool | None = None  # introspection's answer; None for token requests


CASES = (
    Case("token-opaque", "token", lambda f: f.opaque_app_auth),
    Case("token-jwt", "token", lambda f: f.jwt_app_auth),
    Case("token-jwt-es256", "token", lambda f: f.es256_app_auth),
    Case("introspect-opaque", "introspect", lambda f: f.opaque_token, True),
    Case("introspect-jwt", "introspect", lambda f: f.jwt_token, True),
    Case("introspect-jwt-es256", "introspect", lambda f: f.es256_token, True),
    Case("introspect-api-key", "introspect", lambda f: f.api_key, True),
    Case("introspect-user-key", "introspect", lambda f: f.user_key, True),
    Case("introspect-garbage", "introspect", lambda f: f.garbage, False),
)
CASE_NAMES = tuple(c.name for c in CASES) + spread.CASES


def token_request(authorization: str) -> Request:
    return Request("/oauth/token", "grant_type=client_credentials", authorization)


def introspect_request(authorization: str, token: str) -> Request:
    return Request("/oauth/introspect", urlencode({"token": token}), authorization)


def request_for(case: Case, fixture: Fixture) -> Request:
    if case.endpoint == "token":
        return token_request(case.credential(fixture))
    return introspect_request(fixture.resource_server_auth, case.credential(fixture))


def check_once(url: str, request: Request, expect_active: bool | None) -> None:
    """One request before the load: 200, and the answer the case is about."""
    r = requests.post(
        url + request.path,
        data=request.body,
        headers={
            "Authorization": request.authorization,
            "Content-Type": "application/x-www-form-urlencoded",
        },
        timeout=30,
    )
    if r.status_code != 200:
        raise CheckFailed(f"{request.path}: {r.status_code} {r.text[:300]}")
    body = r.json()
    if expect_active is None and "access_token" not in body:
        raise CheckFailed(f"{request.path}: no access_token in {body}")
    if expect_active is not None and body.get("active") is not expect_active:
        raise CheckFailed(f"{request.path}: expected active={expect_active}, got {body}")


# -- options ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Options:
    backends: tuple[str, ...]
    servers: tuple[str, ...]
    workers: int
    threads: int
    duration: float
    connections: int
    warmup: float
    smoke: bool
    large: bool
    profile: str | None  # py-spy mode: cpu | wall
    cases: tuple[str, ...]
    out: Path
    pg_url: str
    redis_url: str

    @property
    def wrk_threads(self) -> int:
        return max(1, min(os.cpu_count() or 1, self.connections))


def _choices(value: str, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    chosen = tuple(v.strip() for v in value.split(",") if v.strip())
    unknown = [v for v in chosen if v not in allowed]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"{what}: choose from {', '.join(allowed)}")
    return chosen


def parse_args(argv: list[str] | None) -> Options:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--backend", default="both", help="sqlite, postgresql or both")
    p.add_argument(
        "--server",
        default=servers.RECOMMENDED,
        help=f"comma-separated, of {', '.join(servers.SERVERS)} (default {servers.RECOMMENDED})",
    )
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=4, help="gthread threads / granian blocking")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per case")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--warmup", type=float, default=3.0, help="seconds before each case")
    p.add_argument("--smoke", action="store_true", help="2 s per case, 1 s warm-up, small data")
    p.add_argument("--large", action="store_true", help="also 1,000,000 keys (bulk insert)")
    p.add_argument(
        "--profile",
        nargs="?",
        const="cpu",
        choices=profiler.MODES,
        help="py-spy the two hot paths (cpu: Python holding the GIL; wall: with waits)",
    )
    p.add_argument("--cases", default=",".join(CASE_NAMES), help="comma-separated subset")
    p.add_argument("--out", type=Path, default=None, help="results folder (default /tmp/...)")
    p.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    a = p.parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        backends = BACKENDS if a.backend == "both" else _choices(a.backend, BACKENDS, "--backend")
        chosen_servers = _choices(a.server, servers.SERVERS, "--server")
        cases = _choices(a.cases, CASE_NAMES, "--cases")
    except argparse.ArgumentTypeError as exc:
        p.error(str(exc))
    return Options(
        backends=backends,
        servers=chosen_servers,
        workers=a.workers,
        threads=a.threads,
        duration=2.0 if a.smoke else a.duration,
        connections=a.connections,
        warmup=1.0 if a.smoke else a.warmup,
        smoke=a.smoke,
        large=a.large and not a.smoke,
        profile=a.profile,
        cases=cases,
        out=a.out or Path(tempfile.gettempdir()) / "latchkey-bench" / stamp,
        pg_url=a.pg_url,
        redis_url=a.redis_url,
    )


# -- results ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Row:
    case: str
    backend: str
    server: str
    data: str
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float
    db_cpu_ms: float | None
    rss_mb: float
    peak_rss_mb: float
    ratio: float | None
    socket_errors: int
    non2xx: int


@dataclass
class Report:
    started: str
    machine: dict[str, str]
    options: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)

    def failures(self) -> list[str]:
        """What went wrong: runs that could not finish, and cases with error responses."""
        return self.errors + [
            f"{r.case} {r.backend}/{r.server}: non-2xx {r.non2xx}, socket errors {r.socket_errors}"
            for r in self.rows
            if r.non2xx or r.socket_errors
        ]


def machine_info() -> dict[str, str]:
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    wrk = subprocess.run(  # noqa: S603 (our own command line)
        [loadgen.wrk_path() or "wrk", "--version"], capture_output=True, text=True, check=False
    )
    return {
        "cpu": model,
        "cpus": str(os.cpu_count()),
        "memory_gb": f"{mem_kb / 1024 / 1024:.1f}",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "wrk": (wrk.stdout or wrk.stderr).split("[")[0].strip(),
        "load_average_at_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


# -- measuring --------------------------------------------------------------------------------


@dataclass
class Target:
    """A running server and where its data lives (no database: the ceiling)."""

    server: RunningServer
    backend: str
    database: data.Database | None
    scripts: Path

    def db_cpu(self) -> dict[int, float]:
        """CPU seconds of each PostgreSQL backend serving this server's database."""
        if self.database is None:
            return {}
        return {pid: servers.cpu_seconds([pid]) for pid in data.backend_pids(self.database)}


def _db_cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def measure(
    target: Target,
    name: str,
    request: Request | Path,
    opts: Options,
    data_label: str,
    ceiling: Row | None,
) -> Row:
    """Warm up, then one measured wrk run with the server's CPU read around it. ``request``
    is replayed, or a wrk script of its own (the spread cases) is run."""
    if isinstance(request, Path):
        script = request
    else:
        script = loadgen.write_script(request, target.scripts / f"{name}.lua")
    url = target.server.url
    if opts.warmup > 0:
        loadgen.run(url, script, opts.warmup, opts.connections, opts.wrk_threads)
    db_before = target.db_cpu()
    cpu_before = target.server.cpu_seconds()
    result = loadgen.run(url, script, opts.duration, opts.connections, opts.wrk_threads)
    cpu = target.server.cpu_seconds() - cpu_before
    db_cpu = _db_cpu_delta(db_before, target.db_cpu())
    n = max(1, result.requests)
    return Row(
        case=name,
        backend=target.backend,
        server=target.server.settings.kind,
        data=data_label,
        requests=result.requests,
        rps=result.rps,
        p50_ms=result.p50_ms,
        p99_ms=result.p99_ms,
        cpu_ms=1000 * cpu / n,
        db_cpu_ms=1000 * db_cpu / n if target.backend == "postgresql" else None,
        rss_mb=target.server.rss_mb(),
        peak_rss_mb=target.server.peak_rss_mb(),
        ratio=result.rps / ceiling.rps if ceiling and ceiling.rps else None,
        socket_errors=result.socket_errors,
        non2xx=result.non2xx,
    )


def garbage_burst(
    target: Target,
    request: Request,
    opts: Options,
    report: Report,
    expected_rps: float,
    ceiling: Row,
) -> None:
    """The server's CPU for a fixed number of garbage credentials (10,000; 1,000 in smoke).

    Each wrk thread stops after its share; wrk itself still waits out ``--duration`` (idle,
    which costs the server nothing), so the duration is three times what the measured rate
    needs: the response hook and a busy machine slow the burst down.
    """
    count = 1_000 if opts.smoke else GARBAGE_BURST
    per_thread = max(1, count // opts.wrk_threads)
    script = loadgen.write_script(request, target.scripts / "garbage-burst.lua", per_thread)
    duration = min(600.0, 5 + 3 * count / max(expected_rps, 20.0))
    cpu_before = target.server.cpu_seconds()
    result = loadgen.run(target.server.url, script, duration, opts.connections, opts.wrk_threads)
    cpu = target.server.cpu_seconds() - cpu_before
    if result.non2xx:
        raise CheckFailed(f"garbage burst: {result.non2xx} responses of 400 or more")
    per_10k = cpu * GARBAGE_BURST / max(1, result.requests)
    report.notes.append(
        f"{target.backend}/{target.server.settings.kind}: {result.requests} garbage credentials "
        f"cost {cpu:.2f} CPU-s in the server = {per_10k:.2f} CPU-s per 10,000 "
        f"(bare Flask's own cost for 10,000: {ceiling.cpu_ms * 10:.2f} CPU-s; "
        f"non-2xx {result.non2xx}, socket errors {result.socket_errors})"
    )


def garbage_core(report: Report) -> None:
    """Latchkey's own cost of rejecting 10,000 garbage credentials, and its SQL statements
    (none allowed): :mod:`garbage`, in a process of its own."""
    done = subprocess.run(  # noqa: S603 (our own script)
        [sys.executable, str(Path(__file__).with_name("garbage.py"))],
        capture_output=True,
        text=True,
        timeout=300,
    )
    line = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-500:]
    if done.returncode != 0:
        report.errors.append(f"garbage rejection: {line}")
    else:
        report.notes.append(line)


def key_list_ms(url: str, fixture: Fixture, samples: int) -> float:
    """Median latency of the key list's first page (``GET /api/keys?limit=50``)."""
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {fixture.session_token}"
    timings = []
    for i in range(samples + 1):
        started = time.perf_counter()
        r = http.get(f"{url}/api/keys", params={"limit": 50}, timeout=60)
        elapsed = time.perf_counter() - started
        if r.status_code != 200 or len(r.json()) != 50:
            raise CheckFailed(f"GET /api/keys: {r.status_code} {r.text[:300]}")
        if i:  # the first call warms up
            timings.append(elapsed * 1000)
    return statistics.median(timings)


def profile_case(
    target: Target, name: str, request: Request, opts: Options, report: Report
) -> None:
    """A separate run with py-spy recording every worker (it never skews the measured run)."""
    out_dir = opts.out / "profiles"
    out_dir.mkdir(parents=True, exist_ok=True)
    label = f"{target.backend}-{target.server.settings.kind}-{name}-{opts.profile}"
    output = out_dir / f"{label}.collapsed.txt"
    duration = max(5.0, opts.duration)
    recorder = profiler.start(target.server.pid, duration, output, opts.profile or "cpu")
    script = target.scripts / f"{name}.lua"
    loadgen.run(target.server.url, script, duration + 1, opts.connections, opts.wrk_threads)
    error = profiler.finish(recorder, output)
    if error:
        report.notes.append(f"profile {label}: py-spy failed: {error}")
        return
    report.profiles[label] = {"file": str(output), **asdict(profiler.summarize(output))}


def check_revocation(url: str, fixture: Fixture, report: Report, label: str) -> None:
    """Revoke the opaque token (RFC 7009) and the API key (management API); 20 introspections
    on fresh connections (so across workers) must all answer inactive at once."""
    r = requests.post(
        f"{url}/oauth/revoke",
        data={"token": fixture.opaque_token},
        headers={"Authorization": fixture.opaque_app_auth},
        timeout=30,
    )
    if r.status_code != 200:
        raise CheckFailed(f"/oauth/revoke: {r.status_code} {r.text}")
    r = requests.post(
        f"{url}/api/keys/{fixture.api_key_id}/revoke",
        headers={"Authorization": f"Bearer {fixture.session_token}"},
        timeout=30,
    )
    if r.status_code != 200:
        raise CheckFailed(f"revoke key: {r.status_code} {r.text}")
    for token in (fixture.opaque_token, fixture.api_key):
        for _ in range(20):
            check_once(url, introspect_request(fixture.resource_server_auth, token), False)
    report.notes.append(f"{label}: revocation immediate (40/40 introspections inactive)")


# -- runs -------------------------------------------------------------------------------------


def run_ceiling(settings: ServerSettings, opts: Options, report: Report) -> dict[str, Row]:
    """The bare-Flask ceiling under this server, per endpoint (``token``, ``introspect``),
    then the server's own floor (a bare WSGI function) for introspection."""
    ceilings: dict[str, Row] = {}
    dummy = seed.basic("lkci_000000000000", "x")
    requests_by_endpoint = {
        "token": token_request(dummy),
        "introspect": introspect_request(dummy, "x"),
    }
    for target_app, label, endpoints in (
        ("ceiling:app", "ceiling", ("token", "introspect")),
        ("ceiling:floor", "floor", ("introspect",)),
    ):
        scripts = opts.out / "scripts" / f"{label}-{settings.kind}"
        scripts.mkdir(parents=True, exist_ok=True)
        server = servers.start(
            settings,
            target_app,
            BENCH_DIR,
            dict(os.environ),
            servers.free_port(),
            opts.out / "logs" / f"{label}-{settings.kind}.log",
            "/ready",
        )
        target = Target(server, "-", None, scripts)
        try:
            for endpoint in endpoints:
                request = requests_by_endpoint[endpoint]
                check_once(server.url, request, True if endpoint == "introspect" else None)
                row = measure(target, f"{label}-{endpoint}", request, opts, "-", None)
                report.rows.append(row)
                if label == "ceiling":
                    ceilings[endpoint] = row
                _progress(row)
        finally:
            server.stop()
    return ceilings


def run_latchkey(
    backend: str,
    settings: ServerSettings,
    ceilings: dict[str, Row],
    opts: Options,
    report: Report,
) -> None:
    label = f"{backend}/{settings.kind}"
    with tempfile.TemporaryDirectory(prefix=f"latchkey-bench-{backend}-") as tmp:
        workdir = Path(tmp)
        database = data.create(backend, workdir, opts.pg_url)
        try:
            port = servers.free_port()
            env = latchkey.environment(database, workdir, port, opts.redis_url)
            latchkey.migrate(env)
            report.machine[f"database_{backend}"] = data.version(database)
            server = servers.start(
                settings,
                "app:app",
                ROOT,
                env,
                port,
                opts.out / "logs" / f"latchkey-{backend}-{settings.kind}.log",
                "/.well-known/oauth-authorization-server",
            )
            try:
                scripts = opts.out / "scripts" / f"{backend}-{settings.kind}"
                scripts.mkdir(parents=True, exist_ok=True)
                target = Target(server, backend, database, scripts)
                _run_cases(target, env, workdir, ceilings, opts, report, label)
            finally:
                server.stop()
        finally:
            data.drop(database)


def _run_cases(
    target: Target,
    env: dict[str, str],
    workdir: Path,
    ceilings: dict[str, Row],
    opts: Options,
    report: Report,
    label: str,
) -> None:
    url = target.server.url
    fixture = seed.seed(url, env, ROOT, workdir)
    assert target.database is not None
    data.bulk_insert(target.database, fixture.org_id, SMALL)
    small_label = f"{SMALL.api_keys:,} keys"
    small: dict[str, Row] = {}
    for case in CASES:
        if case.name not in opts.cases:
            continue
        request = request_for(case, fixture)
        check_once(url, request, case.expect_active)
        row = measure(target, case.name, request, opts, small_label, ceilings[case.endpoint])
        report.rows.append(row)
        small[case.name] = row
        _progress(row)
        if opts.profile and case.name in PROFILED:
            profile_case(target, case.name, request, opts, report)
    garbage = small.get("introspect-garbage")
    if garbage is not None:
        garbage_burst(
            target,
            request_for(CASES[-1], fixture),
            opts,
            report,
            garbage.rps,
            ceilings["introspect"],
        )
    samples = 5 if opts.smoke else 20
    report.notes.append(
        f"{label}: key list first page, {small_label}: "
        f"{key_list_ms(url, fixture, samples):.1f} ms (median of {samples})"
    )
    if opts.large:
        _run_large(target, fixture, ceilings, opts, report, label, small)
    if any(case in opts.cases for case in spread.CASES):
        _run_spread(target, fixture, env, ceilings, opts, report, label)
    check_revocation(url, fixture, report, label)


def _run_spread(
    target: Target,
    fixture: Fixture,
    env: dict[str, str],
    ceilings: dict[str, Row],
    opts: Options,
    report: Report,
    label: str,
) -> None:
    """Many live credentials, a random one per request, against the same script over one."""
    assert target.database is not None
    url = target.server.url
    count = (
        spread.SPREAD_SMOKE if opts.smoke else spread.SPREAD_LARGE if opts.large else spread.SPREAD
    )
    admin = seed.Admin(url)
    user_id = int(admin.call("GET", "/api/users")[0]["id"])
    started = time.monotonic()
    sets = spread.make(target.database, env, fixture.org_id, user_id, count, target.scripts)
    report.notes.append(
        f"{label}: spread sets of {count:,} API keys, user keys and opaque tokens "
        f"({spread.APPS:,} apps) made and inserted in {time.monotonic() - started:.0f} s"
    )
    data_label = f"{count:,} at random"
    files = {
        spread.ONE: sets.one_key,
        "introspect-api-key-spread": sets.api_keys,
        "introspect-user-key-spread": sets.user_keys,
        "introspect-opaque-spread": sets.opaque_tokens,
        "introspect-api-key-spread-churn": sets.api_keys,
    }
    rows: dict[str, Row] = {}
    for name in spread.CASES:
        if name not in opts.cases:
            continue
        spread.check_active(url, fixture.resource_server_auth, files[name])
        script = loadgen.write_spread_script(
            target.scripts / f"{name}.lua",
            "/oauth/introspect",
            fixture.resource_server_auth,
            files[name],
        )
        one = "1 key" if name == spread.ONE else data_label
        if name.endswith("-churn"):
            with spread.Churn(url, admin) as churn:
                row = measure(target, name, script, opts, one, ceilings["introspect"])
            report.notes.append(
                f"{label}: {name}: {churn.writes} management writes during the run "
                f"({churn.failures} failed)"
            )
        else:
            row = measure(target, name, script, opts, one, ceilings["introspect"])
        report.rows.append(row)
        rows[name] = row
        _progress(row)
    base = rows.get(spread.ONE)
    for name, row in rows.items():
        if base is not None and name != spread.ONE and base.rps and base.cpu_ms:
            report.notes.append(
                f"{label}: {name} against {spread.ONE}: {row.rps / base.rps:.2f}x req/s, "
                f"{row.cpu_ms:.2f} ms CPU (one key {base.cpu_ms:.2f}), p99 {row.p99_ms:.1f} ms"
            )


def _run_large(
    target: Target,
    fixture: Fixture,
    ceilings: dict[str, Row],
    opts: Options,
    report: Report,
    label: str,
    small: dict[str, Row],
) -> None:
    """Grow the data to LARGE, then rerun the lookups that could feel it."""
    assert target.database is not None
    seconds = data.bulk_insert(target.database, fixture.org_id, LARGE.minus(SMALL))
    report.notes.append(
        f"{label}: bulk insert to {LARGE.api_keys:,} keys / {LARGE.apps:,} apps / "
        f"{LARGE.revoked_tokens:,} revoked jti took {seconds:.0f} s"
    )
    large_label = f"{LARGE.api_keys:,} keys"
    for case in CASES:
        if case.name not in LARGE_CASES or case.name not in opts.cases:
            continue
        request = request_for(case, fixture)
        check_once(target.server.url, request, case.expect_active)
        row = measure(target, case.name, request, opts, large_label, ceilings[case.endpoint])
        report.rows.append(row)
        _progress(row)
        base = small[case.name]
        report.notes.append(
            f"{label}: {case.name} CPU at {large_label} / at {base.data}: "
            f"{row.cpu_ms / base.cpu_ms:.2f}x ({row.cpu_ms:.2f} vs {base.cpu_ms:.2f} ms)"
        )
    report.notes.append(
        f"{label}: key list first page, {large_label}: "
        f"{key_list_ms(target.server.url, fixture, 20):.1f} ms (median of 20)"
    )


# -- output -----------------------------------------------------------------------------------


def _progress(row: Row) -> None:
    print(
        f"  {row.backend:10} {row.server:16} {row.case:20} {row.rps:8.0f} req/s  "
        f"p99 {row.p99_ms:6.1f} ms  CPU {row.cpu_ms:5.2f} ms/req",
        file=sys.stderr,
        flush=True,
    )


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def markdown(report: Report) -> str:
    m = report.machine
    o = report.options
    lines = [
        f"## Latchkey benchmark, {report.started}",
        "",
        f"Machine: {m['cpu']}, {m['cpus']} CPUs, {m['memory_gb']} GB, Linux {m['kernel']}, "
        f"Python {m['python']}, {m['wrk']}; "
        + ", ".join(v for k, v in m.items() if k.startswith("database_"))
        + f"; load average at start {m['load_average_at_start']}, "
        f"at end {m.get('load_average_at_end', '?')}.",
        f"Load: wrk, {o['connections']} connections, {o['wrk_threads']} threads, sharing the "
        f"cores; {o['duration']:g} s per case after {o['warmup']:g} s warm-up. Servers: "
        f"{o['workers']} workers, {o['threads']} threads. CPU = the server's processes (from "
        "/proc) per request; DB CPU = PostgreSQL backends per request; RSS = the largest "
        "worker's after the case (peak: VmHWM since start); ratio = req/s over the bare-Flask "
        "ceiling under the same server; floor = a bare WSGI function under the same server.",
        "",
        "| case | backend | server | data | req/s | p50 ms | p99 ms | CPU ms/req "
        "| DB CPU ms/req | RSS MB (peak) | ratio | errors |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in report.rows:
        errors = r.non2xx + r.socket_errors
        lines.append(
            f"| {r.case} | {r.backend} | {r.server} | {r.data} | {r.rps:.0f} | "
            f"{r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.cpu_ms:.2f} | {_num(r.db_cpu_ms)} | "
            f"{r.rss_mb:.0f} ({r.peak_rss_mb:.0f}) | {_num(r.ratio)} | {errors} |"
        )
    lines += ["", *[f"- {note}" for note in report.notes]]
    lines += [f"- FAILED: {error}" for error in report.errors]
    for label, prof in report.profiles.items():
        lines += profile_markdown(label, prof)
    return "\n".join(lines)


def profile_markdown(label: str, prof: dict[str, Any]) -> list[str]:
    areas = ", ".join(f"{area} {pct:.0f}%" for area, pct in prof["by_area"].items())
    lines = [
        "",
        f"Profile {label} (py-spy, all workers; {prof['file']}): {prof['samples']} samples, "
        f"{prof['waiting']} of them waiting; shares are of the busy ones.",
        "",
        f"By area: {areas}.",
        "",
        "| leaf function | self % | total % |",
        "| --- | ---: | ---: |",
        *(_frame_row(f) for f in prof["top_self"]),
        "",
        "| Latchkey function | self % | total % |",
        "| --- | ---: | ---: |",
        *(_frame_row(f) for f in prof["top_latchkey"]),
    ]
    return lines


def _frame_row(frame: dict[str, Any]) -> str:
    return f"| `{frame['function']}` | {frame['self_pct']:.1f} | {frame['total_pct']:.1f} |"


def write_json(report: Report, out: Path) -> Path:
    path = out / "results.json"
    path.write_text(json.dumps(asdict(report), indent=2, default=str) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    if loadgen.wrk_path() is None:
        sys.exit("wrk is not installed: `apt-get install wrk` (or run `make bench`)")
    if "granian" in opts.servers and not (servers.BIN / "granian").exists():
        sys.exit("granian is not installed in this venv: `pip install granian` (or `make bench`)")
    (opts.out / "logs").mkdir(parents=True, exist_ok=True)
    options = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(opts).items()}
    report = Report(
        started=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        machine=machine_info(),
        options={**options, "wrk_threads": opts.wrk_threads},
    )
    print(f"results and logs: {opts.out}", file=sys.stderr)
    for kind in opts.servers:
        settings = ServerSettings(kind, opts.workers, opts.threads)
        try:
            ceilings = run_ceiling(settings, opts, report)
        except Exception as exc:  # any failure: the other runs still report
            report.errors.append(f"ceiling/{kind}: {exc}")
            continue
        for backend in opts.backends:
            try:
                run_latchkey(backend, settings, ceilings, opts, report)
            except Exception as exc:  # the other runs still report; the exit status fails
                report.errors.append(f"{backend}/{kind}: {exc}")
    if "introspect-garbage" in opts.cases:
        garbage_core(report)
    report.machine["load_average_at_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(markdown(report))
    print(f"\nJSON: {write_json(report, opts.out)}")
    failures = report.failures()
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
