"""The data model: typed SQLAlchemy 2.0 declarative models on the shared base.

Times are integers, milliseconds since the epoch (the API's unit too), the same on SQLite and
PostgreSQL. Lifecycle states are timestamps (``revoked_at``, ``expires_at``): they answer
"since when" for the audit log and the console. Integer primary keys never get reused
(``sqlite_autoincrement``), so a deleted record's id can never come back to life.

No column holds a plaintext secret: secrets are stored as peppered HMACs (``*_hash``),
passwords as argon2id, and signing/sealing keys encrypted under a key derived from the pepper.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from keys.base import Base
from keys.clock import now_ms
from keys.limits import DEFAULT_SIGNING_ALG, DEFAULT_TOKEN_TTL_SECONDS

_AUTOINCREMENT = {"sqlite_autoincrement": True}


class Org(Base):
    """A customer account (tenant); nothing ever crosses orgs."""

    __tablename__ = "orgs"
    __table_args__ = _AUTOINCREMENT

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    api_access: Mapped[bool] = mapped_column(Boolean, default=True)
    # Seconds: switching the plan off ends every access token issued until then, for good.
    tokens_valid_after: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    updated_at: Mapped[int] = mapped_column(BigInteger, default=now_ms, onupdate=now_ms)


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("org_id", "name"), _AUTOINCREMENT)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)


class User(Base):
    """A member of one org; ``password_hash`` is argon2id, or None (cannot log in)."""

    __tablename__ = "users"
    __table_args__ = _AUTOINCREMENT

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    is_platform_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)

    org: Mapped[Org] = relationship(lazy="joined")


class ApiSession(Base):
    """A management-API session token (``lkst_…``), looked up by its public id."""

    __tablename__ = "api_sessions"
    __table_args__ = _AUTOINCREMENT

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, default=None)

    user: Mapped[User] = relationship(lazy="joined")


class OAuthApp(Base):
    """A client-credentials client. Its secret is ``lkcs_<public_id>_…``; its client ID is
    ``lkci_<public_id>``. Deleting the row ends all its tokens: they name it by client ID."""

    __tablename__ = "oauth_apps"
    __table_args__ = _AUTOINCREMENT

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="RESTRICT"), index=True, default=None
    )
    name: Mapped[str] = mapped_column(String(100))
    client_id: Mapped[str] = mapped_column(String(40), unique=True)
    secret_prefix: Mapped[str] = mapped_column(String(40))
    secret_hint: Mapped[str] = mapped_column(String(8))
    secret_hash: Mapped[str] = mapped_column(String(64))
    previous_secret_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    previous_secret_expires_at: Mapped[int | None] = mapped_column(BigInteger, default=None)
    scopes: Mapped[str] = mapped_column(Text, default="")
    token_ttl_seconds: Mapped[int] = mapped_column(Integer, default=DEFAULT_TOKEN_TTL_SECONDS)
    token_format: Mapped[str] = mapped_column(String(16), default="opaque")
    # The JWS algorithm of its JWT access tokens (keys.limits.SIGNING_ALGS).
    jwt_signing_alg: Mapped[str] = mapped_column(
        String(8), default=DEFAULT_SIGNING_ALG, server_default=DEFAULT_SIGNING_ALG
    )
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    updated_at: Mapped[int] = mapped_column(BigInteger, default=now_ms, onupdate=now_ms)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # Seconds: tokens issued (iat) before this stay dead after a revoke is undone.
    tokens_valid_after: Mapped[int] = mapped_column(BigInteger, default=0)
    last_used_at: Mapped[int | None] = mapped_column(BigInteger, default=None)

    org: Mapped[Org] = relationship(lazy="joined")

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()


class ApiKey(Base):
    """A key a script sends on every call: ``<api key kind>_<public_id>_<secret><checksum>``.

    ``public_id`` is the indexed lookup handle and stays through rotations (so does
    ``prefix``); during a rotation's overlap the previous secret's hash is kept until
    ``previous_secret_expires_at``. Usage (``usage_count``, ``last_used_*``) is written in
    batches by :mod:`keys.usage`, never per request.
    """

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_org_id_id", "org_id", "id"), _AUTOINCREMENT)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="RESTRICT"), index=True, default=None
    )
    name: Mapped[str] = mapped_column(String(100))
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    prefix: Mapped[str] = mapped_column(String(48))
    hint: Mapped[str] = mapped_column(String(8))
    secret_hash: Mapped[str] = mapped_column(String(64))
    previous_secret_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    previous_secret_expires_at: Mapped[int | None] = mapped_column(BigInteger, default=None)
    scopes: Mapped[str] = mapped_column(Text, default="")
    temporary: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    updated_at: Mapped[int] = mapped_column(BigInteger, default=now_ms, onupdate=now_ms)
    expires_at: Mapped[int | None] = mapped_column(BigInteger, default=None)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, default=None)
    last_used_at: Mapped[int | None] = mapped_column(BigInteger, default=None)
    last_used_ip: Mapped[str | None] = mapped_column(String(64), default=None)
    usage_count: Mapped[int] = mapped_column(BigInteger, default=0)

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()


class UserKey(Base):
    """A legacy personal access token, imported from the old system; never issued here.

    Legacy tokens have no Latchkey format, so they are found by their keyed hash
    (``token_hash``, unique). ``prefix`` is a handle Latchkey makes up on import
    (``<brand>uk_<public id>``) to name the key in lists, logs and errors: no part of the
    token itself is shown but its last characters (``hint``).
    """

    __tablename__ = "user_keys"
    __table_args__ = (Index("ix_user_keys_org_id_id", "org_id", "id"), _AUTOINCREMENT)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="RESTRICT"), index=True, default=None
    )
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(48), unique=True)
    hint: Mapped[str] = mapped_column(String(8))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    imported_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, default=None)
    replaced_by: Mapped[int | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL"), default=None
    )
    last_used_at: Mapped[int | None] = mapped_column(BigInteger, default=None)
    last_used_ip: Mapped[str | None] = mapped_column(String(64), default=None)
    usage_count: Mapped[int] = mapped_column(BigInteger, default=0)

    user: Mapped[User] = relationship(lazy="joined")

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()


class ResourceServer(Base):
    """An operator API allowed to call introspection; tokens may be narrowed to its audience."""

    __tablename__ = "resource_servers"
    __table_args__ = _AUTOINCREMENT

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    audience: Mapped[str] = mapped_column(String(255), unique=True)
    client_id: Mapped[str] = mapped_column(String(40), unique=True)
    secret_prefix: Mapped[str] = mapped_column(String(40))
    secret_hint: Mapped[str] = mapped_column(String(8))
    secret_hash: Mapped[str] = mapped_column(String(64))
    previous_secret_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    previous_secret_expires_at: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, default=None)


class RevokedToken(Base):
    """One revoked access token's jti, kept only until the token would have expired anyway."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)


class CryptoKey(Base):
    """A sealing (AEAD, opaque tokens) or signing (JWT) key, encrypted at rest.

    ``retired_at`` stops new tokens from using the key; the key stays for verification until
    ``expires_at``, after the last token it made has expired.
    """

    __tablename__ = "crypto_keys"

    kid: Mapped[str] = mapped_column(String(32), primary_key=True)
    use: Mapped[str] = mapped_column(String(8))  # "seal" | "sign"
    alg: Mapped[str] = mapped_column(String(16))
    encrypted_key: Mapped[bytes] = mapped_column(LargeBinary)
    public_jwk: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    retired_at: Mapped[int | None] = mapped_column(BigInteger, default=None)
    expires_at: Mapped[int | None] = mapped_column(BigInteger, default=None)


class AuditEvent(Base):
    """Who changed what, when, from where. Kept after its target is deleted; never a secret."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_org_id_id", "org_id", "id"),
        _AUTOINCREMENT,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int | None] = mapped_column(
        ForeignKey("orgs.id", ondelete="CASCADE"), default=None
    )
    at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    action: Mapped[str] = mapped_column(String(40), index=True)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(40), default=None)
    actor_label: Mapped[str | None] = mapped_column(String(254), default=None)
    target_type: Mapped[str] = mapped_column(String(24))
    target_id: Mapped[str | None] = mapped_column(String(40), default=None)
    target_name: Mapped[str | None] = mapped_column(String(255), default=None)
    target_prefix: Mapped[str | None] = mapped_column(String(64), default=None)
    ip: Mapped[str | None] = mapped_column(String(64), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(255), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# The webhook tables live beside their services; importing them here puts them in the one
# schema that the migrations and ``Base.metadata`` describe.
from keys.webhooks import models as webhook_models  # noqa: E402, F401
