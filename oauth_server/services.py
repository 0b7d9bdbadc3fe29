"""The per-app credential services: the core's dependencies, the key ring, the token codec,
the usage counter."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app
from sqlalchemy.orm import Session

from keys.access_tokens import AccessTokenCodec
from keys.core import Core
from keys.format import KindPrefixes
from keys.hashing import SecretHasher
from keys.keyring import KEK_PURPOSE, KeyRing
from keys.usage import UsageCounter
from oauth_server.extensions import db
from oauth_server.scopes import ScopeCatalog, load_catalog


@dataclass(frozen=True, slots=True)
class Services:
    core: Core
    catalog: ScopeCatalog
    keyring: KeyRing
    tokens: AccessTokenCodec
    usage: UsageCounter
    issuer: str


def init_services(app: Flask) -> Services:
    hasher = SecretHasher(app.config["LATCHKEY_PEPPER"].encode())
    prefixes = KindPrefixes.from_brand(app.config["LATCHKEY_BRAND"])
    catalog = load_catalog(app.config["LATCHKEY_SCOPES_FILE"])

    keyring = KeyRing(
        kek=hasher.derive_key(KEK_PURPOSE),
        session_factory=lambda: _own_session(app),
    )
    services = Services(
        core=Core(hasher=hasher, prefixes=prefixes, scope_catalog=catalog.names),
        catalog=catalog,
        keyring=keyring,
        tokens=AccessTokenCodec(keyring, prefixes.access_token, app.config["LATCHKEY_ISSUER"]),
        usage=UsageCounter(lambda: _own_session(app), app.config["LATCHKEY_USAGE_FLUSH_SECONDS"]),
        issuer=app.config["LATCHKEY_ISSUER"],
    )
    app.extensions["latchkey"] = services
    return services


def _own_session(app: Flask) -> Session:
    """A session of its own: key loading must never commit or roll back a request's work."""
    with app.app_context():
        engine = db.engine
    return Session(engine, expire_on_commit=False)


def services() -> Services:
    result: Services = current_app.extensions["latchkey"]
    return result
