"""A soak: Latchkey under mixed traffic for a few minutes, then the promises checked.

A production server with two worker processes on loopback (granian by default; SQLite, or
PostgreSQL + Redis with ``--backend postgresql``), and for ``--seconds`` (default 180) from
several threads at once: introspection of API keys and access tokens by a resource server,
token requests by two apps (and RFC 7009 revocation of some of their tokens), and management
traffic (keys created; keys and apps rotated with and without an overlap, revoked and
reactivated). Then a graceful stop (SIGTERM), and the checks:

- no answer was a 5xx (nor a transport error);
- no credential was answered active (an introspection ``active: true``, or a token for an app
  secret) when the request was sent after the call that ended it had returned: a revoke (of
  a key, an app or a token), a rotation without overlap (for the old secret), the end of a
  rotation's overlap, or an app's revoke (for every token the app held); a reactivation
  revives only the current secret, from when it was sent;
- every management call was answered as the API documents (201 or 200), and no client
  thread stopped on an error;
- the server stopped by itself within 30 s of SIGTERM;
- after the stop, each key's stored ``usage_count`` equals the introspections that the
  soak saw answered active for it (usage is counted in memory and written in batches, and
  on a graceful stop).

    .venv/bin/python bench/soak.py                    # SQLite, 180 s
    .venv/bin/python bench/soak.py --seconds 30 --backend postgresql

It prints the requests by kind and status and each check's figure, and exits 1 if a check
fails.
"""

from __future__ import annotations

import argparse
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import data
import latchkey
import psycopg
import requests
import seed
import servers
from servers import RunningServer, ServerSettings

#: Rotation overlaps (seconds): short, so that they end within the soak and are checked.
OVERLAPS = (1, 2, 3)
KEYS_PER_MANAGER = 6
MAX_KEYS_PER_MANAGER = 12
#: Access tokens picked for introspection: the newest ones.
LIVE_TOKENS = 200
#: Ended credentials still picked now and then, the newest ones.
RECENTLY_DEAD = 40


@dataclass(frozen=True, slots=True)
class Credential:
    """A secret the soak sent: an API key's (``owner`` its id), an app's client secret
    (``owner`` the app's id), or an access token (``owner`` its app's id, ``received`` when
    its token response arrived)."""

    kind: str  # "api_key" | "app_secret" | "access_token"
    value: str
    owner: int
    received: float = 0.0


@dataclass(frozen=True, slots=True)
class Dead:
    """A credential ended from ``since`` (when the call that ended it had returned) until
    ``until`` (when a reactivation was sent; None: for good)."""

    since: float
    until: float | None = None


@dataclass(frozen=True, slots=True)
class Seen:
    """One answer about a credential: sent at ``sent``, received at ``received``."""

    credential: Credential
    sent: float
    received: float
    active: bool


@dataclass
class Ledger:
    """Everything the threads did, written under one lock and judged after the run."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    answers: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    crashed: list[str] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    dead: dict[str, list[Dead]] = field(default_factory=dict)
    app_revokes: list[tuple[int, float]] = field(default_factory=list)
    tokens: list[Credential] = field(default_factory=list)
    #: What the introspection and token threads pick from, by kind: live credentials (the
    #: newest tokens only) and the recently ended ones (where a stale cache would show).
    live: dict[str, dict[str, Credential]] = field(default_factory=dict)
    recently_dead: list[Credential] = field(default_factory=list)

    def answer(self, kind: str, response: requests.Response | None, note: str = "") -> None:
        with self.lock:
            if response is None:
                self.answers[kind, 0] += 1
                self.failures.append(f"{kind}: no answer ({note})")
                return
            self.answers[kind, response.status_code] += 1
            if response.status_code >= 500:
                self.failures.append(f"{kind}: {response.status_code} {response.text[:300]}")

    def born(self, credential: Credential) -> None:
        with self.lock:
            live = self.live.setdefault(credential.kind, {})
            live[credential.value] = credential
            if credential.kind == "access_token":
                self.tokens.append(credential)
                if len(live) > LIVE_TOKENS:
                    del live[next(iter(live))]  # the oldest (dicts keep insertion order)

    def ended(self, credential: Credential, since: float, *, for_good: bool) -> None:
        with self.lock:
            self.dead.setdefault(credential.value, []).append(Dead(since))
            if for_good:
                self.live.get(credential.kind, {}).pop(credential.value, None)
            self.recently_dead.append(credential)
            del self.recently_dead[:-RECENTLY_DEAD]

    def revived(self, credential: Credential, sent: float) -> None:
        """A reactivation of ``credential``'s key or app was sent at ``sent``."""
        with self.lock:
            spans = self.dead.get(credential.value, [])
            if spans and spans[-1].until is None:
                spans[-1] = Dead(spans[-1].since, sent)

    def pick(self, kind: str) -> Credential | None:
        """A credential of ``kind``: live seven times in ten, else recently ended."""
        with self.lock:
            pool = list(self.live.get(kind, {}).values())
            dead = [c for c in self.recently_dead if c.kind == kind]
        if dead and (not pool or random.random() < 0.3):
            return random.choice(dead)
        return random.choice(pool) if pool else None


@dataclass
class Soak:
    url: str
    session_token: str
    resource_server_auth: str
    deadline: float
    ledger: Ledger
    client_ids: dict[int, str] = field(default_factory=dict)  # app id -> client ID

    def running(self) -> bool:
        return time.time() < self.deadline

    def http(self) -> requests.Session:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.session_token}"
        return session

    def call(
        self, http: requests.Session, kind: str, method: str, path: str, **kwargs: Any
    ) -> requests.Response | None:
        try:
            response = http.request(method, self.url + path, timeout=30, **kwargs)
        except requests.RequestException as exc:
            self.ledger.answer(kind, None, str(exc))
            return None
        self.ledger.answer(kind, response)
        return response

    def manage(
        self, http: requests.Session, kind: str, method: str, path: str, status: int, **kw: Any
    ) -> tuple[Any, float] | None:
        """A management call that must answer ``status``: its body and when it returned."""
        response = self.call(http, kind, method, path, **kw)
        returned = time.time()
        if response is None:
            return None
        if response.status_code != status:
            with self.ledger.lock:
                self.ledger.failures.append(
                    f"{kind}: {method} {path} answered {response.status_code}, not {status}: "
                    f"{response.text[:300]}"
                )
            return None
        return response.json(), returned


# -- the threads ------------------------------------------------------------------------------


@dataclass
class Lifecycle:
    """One key's or app's secrets as its (only) manager knows them."""

    id: int
    current: Credential
    overlap: list[tuple[Credential, float]] = field(default_factory=list)  # (old, ends at)
    revoked: bool = False


def key_manager(soak: Soak, name: str) -> None:
    """Creates, rotates (with and without overlap), revokes and reactivates its own keys."""
    http = soak.http()
    ledger = soak.ledger
    keys: list[Lifecycle] = []

    def create() -> None:
        body = {"name": f"{name} {len(keys)}", "scopes": seed.SCOPES, "team_id": None}
        made = soak.manage(http, "key create", "POST", "/api/keys", 201, json=body)
        if made is not None:
            key = Credential("api_key", made[0]["key"], made[0]["id"])
            keys.append(Lifecycle(made[0]["id"], key))
            ledger.born(key)

    for _ in range(KEYS_PER_MANAGER):
        create()
    while soak.running():
        time.sleep(random.uniform(0.02, 0.15))
        if len(keys) < MAX_KEYS_PER_MANAGER and random.random() < 0.05:
            create()
            continue
        if keys:
            manage_one(soak, http, "key", "/api/keys/{}", random.choice(keys))


def app_manager(soak: Soak, apps: list[Lifecycle]) -> None:
    """Rotates (with and without overlap), revokes and reactivates the apps."""
    http = soak.http()
    while soak.running():
        time.sleep(random.uniform(0.2, 0.6))
        manage_one(soak, http, "app", "/api/apps/{}", random.choice(apps))


def manage_one(soak: Soak, http: requests.Session, what: str, path: str, item: Lifecycle) -> None:
    """One lifecycle step for a key or app, as the API documents it; the ledger learns
    when each secret ended (and for apps, that every token issued before the revoke did)."""
    ledger = soak.ledger
    base = path.format(item.id)
    now = time.time()
    for old, ends in list(item.overlap):
        if ends < now:
            item.overlap.remove((old, ends))
    if item.revoked:
        sent = time.time()
        ledger.revived(item.current, sent)  # from now on it may be active again
        if soak.manage(http, f"{what} reactivate", "POST", f"{base}/reactivate", 200):
            item.revoked = False
        return
    action = random.choice(["rotate", "rotate with overlap", "revoke"])
    if action == "revoke":
        done = soak.manage(http, f"{what} revoke", "POST", f"{base}/revoke", 200)
        if done is None:
            return
        returned = done[1]
        item.revoked = True
        ledger.ended(item.current, returned, for_good=False)
        for old, _ in item.overlap:  # a revoke ends the overlap for good
            ledger.ended(old, returned, for_good=True)
        item.overlap.clear()
        if what == "app":
            with ledger.lock:
                ledger.app_revokes.append((item.id, returned))
        return
    grace = random.choice(OVERLAPS) if action == "rotate with overlap" else 0
    rotate = "/rotate" if what == "key" else "/rotate-secret"
    done = soak.manage(
        http, f"{what} {action}", "POST", base + rotate, 200, json={"grace_period_seconds": grace}
    )
    if done is None:
        return
    body, returned = done
    old = item.current
    item.current = Credential(old.kind, body["key" if what == "key" else "client_secret"], item.id)
    ledger.born(item.current)
    # The old secret ends when the rotation returned, or when its overlap does (at the
    # latest: the server set its end before answering); 2 ms for whole milliseconds.
    ends = returned + grace + 0.002
    ledger.ended(old, ends, for_good=True)
    if grace:
        item.overlap.append((old, ends))


def introspector(soak: Soak) -> None:
    """Introspects live and recently ended API keys and access tokens, as a resource server."""
    http = requests.Session()
    http.headers["Authorization"] = soak.resource_server_auth
    while soak.running():
        credential = soak.ledger.pick(random.choice(("api_key", "access_token")))
        if credential is None:
            time.sleep(0.05)
            continue
        sent = time.time()
        response = soak.call(
            http, f"introspect {credential.kind}", "POST", "/oauth/introspect",
            data={"token": credential.value},
        )  # fmt: skip
        received = time.time()
        if response is not None and response.status_code == 200:
            active = response.json().get("active") is True
            with soak.ledger.lock:
                soak.ledger.seen.append(Seen(credential, sent, received, active))


def token_client(soak: Soak) -> None:
    """Asks for tokens with live and recently ended app secrets; revokes some tokens."""
    http = requests.Session()
    ledger = soak.ledger
    while soak.running():
        secret = ledger.pick("app_secret")
        if secret is None:
            time.sleep(0.05)
            continue
        auth = seed.basic(soak.client_ids[secret.owner], secret.value)
        sent = time.time()
        response = soak.call(
            http, "token", "POST", "/oauth/token",
            data={"grant_type": "client_credentials"}, headers={"Authorization": auth},
        )  # fmt: skip
        received = time.time()
        if response is None:
            continue
        ok = response.status_code == 200
        with ledger.lock:
            ledger.seen.append(Seen(secret, sent, received, ok))
        if not ok:
            continue
        token = Credential("access_token", response.json()["access_token"], secret.owner, received)
        ledger.born(token)
        if random.random() < 0.1:
            revoked = soak.call(
                http, "token revoke", "POST", "/oauth/revoke",
                data={"token": token.value}, headers={"Authorization": auth},
            )  # fmt: skip
            if revoked is not None and revoked.status_code == 200:
                ledger.ended(token, time.time(), for_good=True)


# -- judging ----------------------------------------------------------------------------------


def active_after_end(ledger: Ledger) -> tuple[list[str], int]:
    """Answers that called a credential active although they were asked after it ended,
    and how many answers were asked while a credential was ended."""
    dead = {value: list(spans) for value, spans in ledger.dead.items()}
    for token in ledger.tokens:  # an app's revoke ends every token it had been given
        for app_id, returned in ledger.app_revokes:
            if token.owner == app_id and token.received < returned:
                dead.setdefault(token.value, []).append(Dead(returned))
    wrong: list[str] = []
    asked = 0
    for seen in ledger.seen:
        for span in dead.get(seen.credential.value, []):
            if seen.sent > span.since and (span.until is None or seen.received < span.until):
                asked += 1
                if seen.active:
                    wrong.append(
                        f"{seen.credential.kind} of #{seen.credential.owner} answered active, "
                        f"asked {seen.sent - span.since:.3f} s after it ended"
                    )
                break
    return wrong, asked


def stored_usage(database: data.Database) -> dict[int, int]:
    query = "SELECT id, usage_count FROM api_keys"
    if database.sqlite_path is not None:
        with sqlite3.connect(database.sqlite_path) as conn:
            return {int(i): int(n) for i, n in conn.execute(query)}
    with psycopg.connect(database.url.replace("+psycopg", "")) as conn:
        return {int(i): int(n) for i, n in conn.execute(query)}


def stop_gracefully(server: RunningServer) -> tuple[bool, float, int | None]:
    """SIGTERM, as a process manager sends it; (stopped by itself, seconds, exit code)."""
    started = time.time()
    server.process.send_signal(signal.SIGTERM)
    try:
        code = server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.stop()  # SIGKILL to the group
        return False, time.time() - started, None
    return True, time.time() - started, code


# -- the run ----------------------------------------------------------------------------------


def seed_soak(url: str, deadline: float, ledger: Ledger) -> tuple[Soak, list[Lifecycle]]:
    admin = seed.Admin(url)
    rs = admin.call(
        "POST", "/api/resource-servers", 201, json={"name": "Soak API", "audience": url + "/api"}
    )
    soak = Soak(
        url, admin.token, seed.basic(rs["client_id"], rs["client_secret"]), deadline, ledger
    )
    apps = []
    for fmt in ("opaque", "jwt"):
        body = {"name": f"Soak {fmt}", "scopes": seed.SCOPES, "team_id": None, "token_format": fmt}
        app = admin.call("POST", "/api/apps", 201, json=body)
        secret = Credential("app_secret", app["client_secret"], app["id"])
        ledger.born(secret)
        apps.append(Lifecycle(app["id"], secret))
        soak.client_ids[app["id"]] = app["client_id"]
    return soak, apps


def client_thread(ledger: Ledger, target: Callable[..., None], *args: Any) -> threading.Thread:
    """A client thread whose crash is a failed check, not a quieter soak."""

    def guarded() -> None:
        try:
            target(*args)
        except Exception as exc:  # reported with the checks
            with ledger.lock:
                ledger.crashed.append(f"{target.__name__}: {exc!r}")

    return threading.Thread(target=guarded, name=target.__name__)


def run(opts: argparse.Namespace) -> int:
    settings = ServerSettings(opts.server, opts.workers, opts.server_threads)
    ledger = Ledger()
    with tempfile.TemporaryDirectory(prefix="latchkey-soak-") as tmp:
        workdir = Path(tmp)
        database = data.create(opts.backend, workdir, opts.pg_url)
        try:
            port = servers.free_port()
            env = latchkey.environment(database, workdir, port, opts.redis_url)
            latchkey.migrate(env)
            log = workdir / "server.log"
            server = servers.start(
                settings, "app:app", latchkey.ROOT, env, port, log,
                "/.well-known/oauth-authorization-server",
            )  # fmt: skip
            try:
                started = time.time()
                soak, apps = seed_soak(server.url, started + opts.seconds, ledger)
                threads = [
                    *(client_thread(ledger, introspector, soak) for _ in range(3)),
                    client_thread(ledger, token_client, soak),
                    *(client_thread(ledger, key_manager, soak, f"Soak {i}") for i in range(2)),
                    client_thread(ledger, app_manager, soak, apps),
                ]
                print(
                    f"soak: {opts.backend}, {settings.describe()}, {opts.seconds:.0f} s, "
                    f"{len(threads)} client threads",
                    file=sys.stderr,
                )
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                elapsed = time.time() - started
            finally:
                graceful, stop_seconds, code = stop_gracefully(server)
            usage = stored_usage(database)
            log_tail = log.read_text(errors="replace")[-2000:]
        finally:
            data.drop(database)
    return report(ledger, usage, elapsed, graceful, stop_seconds, code, log_tail)


def report(
    ledger: Ledger,
    usage: dict[int, int],
    elapsed: float,
    graceful: bool,
    stop_seconds: float,
    code: int | None,
    log_tail: str,
) -> int:
    total = sum(ledger.answers.values())
    print(f"\n{total:,} requests in {elapsed:.0f} s ({total / elapsed:,.0f}/s)")
    kinds = sorted({kind for kind, _ in ledger.answers})
    for kind in kinds:
        statuses = {s: n for (k, s), n in sorted(ledger.answers.items()) if k == kind}
        print(f"  {kind:<28} {sum(statuses.values()):>8,}  {statuses}")
    server_errors = sum(n for (_, s), n in ledger.answers.items() if s >= 500 or s == 0)
    wrong, asked = active_after_end(ledger)
    counted = Counter(
        s.credential.owner for s in ledger.seen if s.credential.kind == "api_key" and s.active
    )
    mismatched = {
        key_id: (stored, counted.get(key_id, 0))
        for key_id, stored in usage.items()
        if stored != counted.get(key_id, 0)
    }
    unexpected = [f for f in ledger.failures if "answered" in f]
    checks: list[tuple[str, bool, str]] = [
        ("5xx or no answer", server_errors == 0, str(server_errors)),
        (
            "answered active after it ended",
            not wrong,
            f"{len(wrong)} (of {asked:,} answers asked after a credential ended)",
        ),
        ("management calls not as documented", not unexpected, str(len(unexpected))),
        ("client threads stopped by an error", not ledger.crashed, str(len(ledger.crashed))),
        (
            "keys whose stored usage_count differs from the active introspections seen",
            not mismatched,
            f"{len(mismatched)} of {len(usage)} keys (stored {sum(usage.values()):,}, "
            f"seen {sum(counted.values()):,})",
        ),
        (
            "graceful stop (SIGTERM)",
            graceful,
            f"exit {code} in {stop_seconds:.1f} s" if graceful else "killed after 30 s",
        ),
    ]
    print()
    for name, passed, figure in checks:
        print(f"  {'ok  ' if passed else 'FAIL'} {name}: {figure}")
    for line in [*ledger.crashed, *ledger.failures[:10], *wrong[:10]]:
        print(f"    {line}")
    for key_id, (stored, seen_count) in list(mismatched.items())[:10]:
        print(f"    key #{key_id}: stored {stored}, seen {seen_count}")
    if not all(passed for _, passed, _ in checks):
        print(f"\nserver log (tail):\n{log_tail}")
        return 1
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seconds", type=float, default=180.0, help="how long the traffic runs")
    p.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--server", choices=servers.SERVERS, default=servers.RECOMMENDED)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--server-threads", type=int, default=4, help="gthread / granian blocking")
    p.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
