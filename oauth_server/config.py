"""Configuration from the environment, exactly as DESIGN.md's table names it.

The embedded default needs nothing set: SQLite in the instance folder, and a secret key and
pepper generated once into that folder. A shared database (any ``DATABASE_URL`` that is not
SQLite) means several hosts, which must share the pepper and secret key, so there both must
be given explicitly: Latchkey refuses to start rather than hash with a pepper of its own.

What Latchkey creates on disk is readable by the user it runs as only: the instance folder
(0700) when it makes it, and the files it makes (the SQLite database, the generated pepper
and secret key, the state stamp) 0600, whatever the umask allows others. A folder or file
that already exists keeps the mode it has: the operator (or an older Latchkey) made it, and
an operator may have opened it on purpose, to a backup group say. That holds for a SQLite
``DATABASE_URL`` outside the instance folder too: Latchkey makes the file 0600 if it is the
one creating it, and never changes the mode of a file it did not create.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from keys.limits import MIN_PASSWORD_LENGTH

DEFAULT_ISSUER = "http://localhost:5000"


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message says which and what to do."""


def _instance_secret(instance: Path, name: str) -> str:
    """Read, or create exactly once even with many workers starting together, a secret file."""
    path = instance / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            value = path.read_text().strip()
            if value:
                return value
            time.sleep(0.01)  # another worker is writing it this very moment
        raise ConfigError(f"{path} is empty; delete it and start again") from None
    value = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def _choice(env: dict[str, Any], name: str, choices: tuple[str, ...], default: str) -> str:
    value = str(env.get(name) or default)
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)} (it is {value!r})")
    return value


def _create_private_database(database_url: str) -> None:
    """Create a SQLite database file that does not exist yet, readable by its owner only.

    SQLite would create it with the umask's mode (0644, usually); an empty file is an empty
    database to SQLite, and the ``-wal`` and ``-shm`` files it adds take the database file's
    mode. In-memory databases and ``file:`` URIs are left to SQLite, and so is a file whose
    folder is missing (SQLite's own error says which).
    """
    url = make_url(database_url)
    path = url.database
    if url.get_backend_name() != "sqlite" or not path or path == ":memory:":
        return
    if path.startswith("file:") or url.query.get("mode") == "memory":
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except (FileExistsError, FileNotFoundError):
        pass


def load(instance_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Flask config values for this process."""
    env = {**os.environ, **(overrides or {})}
    instance = Path(instance_path)
    instance.mkdir(mode=0o700, parents=True, exist_ok=True)

    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'latchkey.db'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql://" + database_url.removeprefix("postgres://")
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    shared_db = not database_url.startswith("sqlite")
    if not shared_db:
        _create_private_database(database_url)

    def secret(name: str, file_name: str) -> str:
        value = env.get(name)
        if value:
            return str(value)
        if shared_db:
            raise ConfigError(
                f"{name} must be set when DATABASE_URL points to a shared database: every "
                f"Latchkey process must use the same value. Generate one with "
                f"`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
            )
        return _instance_secret(instance, file_name)

    pepper = secret("LATCHKEY_PEPPER", "pepper")
    if len(pepper) < 32:
        raise ConfigError("LATCHKEY_PEPPER must be at least 32 characters long")

    admin_password = env.get("LATCHKEY_ADMIN_PASSWORD") or None
    if admin_password is not None and len(admin_password) < MIN_PASSWORD_LENGTH:
        raise ConfigError(
            f"LATCHKEY_ADMIN_PASSWORD must be at least {MIN_PASSWORD_LENGTH} characters long "
            "(or unset it, and a password is generated and printed once)"
        )

    issuer = str(env.get("LATCHKEY_ISSUER") or DEFAULT_ISSUER).rstrip("/")
    session_ttl = int(env.get("LATCHKEY_SESSION_TTL_SECONDS") or 12 * 3600)
    engine_options: dict[str, Any] = {"pool_pre_ping": shared_db}
    if not shared_db:
        engine_options["connect_args"] = {"timeout": 30}
    elif database_url.startswith("postgresql"):
        # A database that does not answer is a 503 within seconds, not a request that hangs.
        engine_options["connect_args"] = {"connect_timeout": 5}

    return {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        "SECRET_KEY": secret("LATCHKEY_SECRET_KEY", "secret_key"),
        "LATCHKEY_PEPPER": pepper,
        "LATCHKEY_ISSUER": issuer,
        "LATCHKEY_BRAND": str(env.get("LATCHKEY_BRAND") or "lk"),
        "LATCHKEY_SCOPES_FILE": env.get("LATCHKEY_SCOPES_FILE") or None,
        "LATCHKEY_ADMIN_EMAIL": env.get("LATCHKEY_ADMIN_EMAIL") or None,
        "LATCHKEY_ADMIN_PASSWORD": admin_password,
        "LATCHKEY_SESSION_TTL_SECONDS": session_ttl,
        # The console's cookie session: never readable by scripts, not sent on cross-site
        # sub-requests or POSTs, HTTPS-only whenever the public URL is HTTPS (a TLS proxy in
        # front of a plain-HTTP Latchkey is the usual production shape).
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": issuer.startswith("https://"),
        "PERMANENT_SESSION_LIFETIME": session_ttl,
        # Flask-WTF's strict mode checks the Referer of HTTPS posts, but the console sends
        # ``Referrer-Policy: no-referrer``, so there is none to check: the signed CSRF token
        # and the SameSite cookie carry the protection.
        "WTF_CSRF_SSL_STRICT": False,
        "LATCHKEY_USAGE_FLUSH_SECONDS": float(env.get("LATCHKEY_USAGE_FLUSH_SECONDS") or 2),
        "REDIS_URL": env.get("REDIS_URL") or None,
        "LATCHKEY_LOGIN_LIMIT": env.get("LATCHKEY_LOGIN_LIMIT") or "10 per 15 minutes",
        "LATCHKEY_PROXY_HOPS": int(env.get("LATCHKEY_PROXY_HOPS") or 0),
        "LATCHKEY_METRICS_TOKEN": env.get("LATCHKEY_METRICS_TOKEN") or None,
        "LATCHKEY_LOGIN_IP_LIMIT": env.get("LATCHKEY_LOGIN_IP_LIMIT") or "50 per 15 minutes",
        "LATCHKEY_CLIENT_AUTH_LIMIT": env.get("LATCHKEY_CLIENT_AUTH_LIMIT") or "20 per minute",
        "MAX_CONTENT_LENGTH": 64 * 1024,
        # Webhooks: private/loopback receivers and http:// for development and tests only;
        # "embedded" delivers from a thread of each server process, "worker" leaves delivery
        # to `flask --app app worker` processes.
        "LATCHKEY_WEBHOOK_ALLOW_PRIVATE": env.get("LATCHKEY_WEBHOOK_ALLOW_PRIVATE") == "1",
        "LATCHKEY_WEBHOOK_DELIVERY": _choice(
            env, "LATCHKEY_WEBHOOK_DELIVERY", ("embedded", "worker"), "embedded"
        ),
        "LATCHKEY_WEBHOOK_POLL_SECONDS": float(env.get("LATCHKEY_WEBHOOK_POLL_SECONDS") or 0.5),
        "LATCHKEY_WEBHOOK_CLAIM_SECONDS": float(env.get("LATCHKEY_WEBHOOK_CLAIM_SECONDS") or 60),
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
    }
