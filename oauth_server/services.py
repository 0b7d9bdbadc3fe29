"""The per-app credential services: the core's dependencies, the key ring, the token codec,
the usage counter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from keys import state_cache
from keys.access_tokens import AccessTokenCodec
from keys.core import Core
from keys.format import KindPrefixes
from keys.freshness import FileStamp, NoStamp, Stamp
from keys.hashing import SecretHasher
from keys.keyring import KEK_PURPOSE, KeyRing
from keys.redis_lease import RedisStamp
from keys.state_cache import StateCache, View
from keys.usage import UsageCounter
from oauth_server import metrics
from oauth_server.extensions import db
from oauth_server.scopes import ScopeCatalog, load_catalog

#: Token strings remembered as genuine, per process: a digest and the claims, about 500 bytes
#: each, so at most ~2.5 MB. Beyond it the cache starts over (one verification per token in
#: use). A cache of its own, so a stream of distinct tokens cannot evict the credential rows.
GENUINE_TOKENS = 5_000


@dataclass(frozen=True, slots=True)
class Services:
    core: Core
    catalog: ScopeCatalog
    keyring: KeyRing
    tokens: AccessTokenCodec
    usage: UsageCounter
    state: StateCache
    issuer: str


def init_services(app: Flask) -> Services:
    hasher = SecretHasher(app.config["LATCHKEY_PEPPER"].encode())
    prefixes = KindPrefixes.from_brand(app.config["LATCHKEY_BRAND"])
    catalog = load_catalog(app.config["LATCHKEY_SCOPES_FILE"])

    hits, misses = metrics.cache_lookups("state")
    state = StateCache(_stamp(app), hits=hits, misses=misses)
    token_hits, token_misses = metrics.cache_lookups("tokens")
    keyring = KeyRing(
        kek=hasher.derive_key(KEK_PURPOSE),
        session_factory=lambda: _own_session(app),
        stamp=state.stamp,
    )
    services = Services(
        core=Core(hasher=hasher, prefixes=prefixes, scope_catalog=catalog.names),
        catalog=catalog,
        keyring=keyring,
        tokens=AccessTokenCodec(
            keyring,
            prefixes.access_token,
            app.config["LATCHKEY_ISSUER"],
            genuine=StateCache(state.stamp, GENUINE_TOKENS, hits=token_hits, misses=token_misses),
        ),
        usage=UsageCounter(
            lambda: _own_session(app),
            app.config["LATCHKEY_USAGE_FLUSH_SECONDS"],
            on_flush=metrics.usage_flushed,
        ),
        state=state,
        issuer=app.config["LATCHKEY_ISSUER"],
    )
    with app.app_context():
        state_cache.watch(db.engine, services.state.stamp)
    app.extensions["latchkey"] = services
    return services


def _stamp(app: Flask) -> Stamp:
    """Where changes to credential state are announced (see :mod:`keys.freshness`): Redis
    when there is one; the instance folder for SQLite, whose processes share one host; and
    nowhere for a shared database without Redis, whose other hosts could not be told (so
    nothing is cached there)."""
    if app.config["REDIS_URL"]:
        # Deployments sharing one Redis keep their own stamps (like their throttle counts).
        key = f"latchkey:state-stamp:{app.config['LATCHKEY_ISSUER']}"
        return RedisStamp(app.config["REDIS_URL"], key)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return FileStamp(Path(app.instance_path) / "state-stamp")
    return NoStamp()


def _own_session(app: Flask) -> Session:
    """A session of its own: key loading must never commit or roll back a request's work."""
    with app.app_context():
        engine = db.engine
    return Session(engine, expire_on_commit=False)


class _Bound:
    """The services of a request served outside Flask's request cycle, and its view."""

    __slots__ = ("services", "view")

    def __init__(self, services: Services) -> None:
        self.services = services
        self.view: View | None = None


_bound: ContextVar[_Bound | None] = ContextVar("latchkey_services", default=None)


@contextmanager
def bound(services: Services) -> Iterator[None]:
    """Serve one request with ``services`` bound to it: :func:`services` and
    :func:`state_view` answer from here rather than through Flask's context-local proxies,
    which a token request or an introspection looked up a dozen times each (a tenth of its
    CPU in the benchmark's profile)."""
    token = _bound.set(_Bound(services))
    try:
        yield
    finally:
        _bound.reset(token)


def state_view() -> View:
    """This request's view of the credential-state cache, observed at its first use.

    Observed once per request and before the request's first lookup of credential state;
    each lookup is its own statement (PostgreSQL's read committed, SQLite outside a write
    transaction), so it sees every change announced before the observation.
    """
    request = _bound.get()
    if request is not None:
        if request.view is None:
            request.view = request.services.state.view()
        return request.view
    view: View | None = g.get("latchkey_state")
    if view is None:
        view = g.latchkey_state = services().state.view()
    return view


def services() -> Services:
    request = _bound.get()
    if request is not None:
        return request.services
    result: Services = current_app.extensions["latchkey"]
    return result
