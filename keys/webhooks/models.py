"""Webhook storage: endpoints, the outbox of events, the deliveries, and the worker leases.

An event is written once (its exact body, so every retry sends the same bytes under the same
``webhook-id``) with one delivery per endpoint subscribed to it, in the transaction of the
change it reports. A delivery is the queue entry: its state and its last attempt's outcome,
claimed by a worker until ``claimed_until`` (a worker that dies loses its claim then).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from keys.base import Base
from keys.clock import now_ms

_AUTOINCREMENT = {"sqlite_autoincrement": True}


class WebhookEndpoint(Base):
    """A customer's receiver. ``events`` is space-separated (``*``: every type). The signing
    secret(s) and the receiver's API key or client secret are in ``encrypted_secrets``,
    sealed under the key ring's key-encryption key (:mod:`keys.webhooks.secrets`)."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_org_id_id", "org_id", "id"), _AUTOINCREMENT)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str | None] = mapped_column(String(500), default=None)
    events: Mapped[str] = mapped_column(Text)
    auth_type: Mapped[str] = mapped_column(String(32), default="none")
    auth_header: Mapped[str | None] = mapped_column(String(100), default=None)
    token_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    client_id: Mapped[str | None] = mapped_column(String(255), default=None)
    scope: Mapped[str | None] = mapped_column(String(500), default=None)
    encrypted_secrets: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    # After a rotation the previous signing secret also signs until then.
    previous_secret_expires_at: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    updated_at: Mapped[int] = mapped_column(BigInteger, default=now_ms, onupdate=now_ms)
    # The first failed attempt since the last success: 24 h of failures disables.
    failing_since: Mapped[int | None] = mapped_column(BigInteger, default=None)
    disabled_at: Mapped[int | None] = mapped_column(BigInteger, default=None)

    @property
    def event_list(self) -> list[str]:
        return self.events.split()


class WebhookEvent(Base):
    """One event in the outbox: ``uid`` is the ``webhook-id``; ``body`` the exact JSON sent."""

    __tablename__ = "webhook_events"
    __table_args__ = _AUTOINCREMENT

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(40), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)


class WebhookDelivery(Base):
    """One event for one endpoint: ``pending`` until ``delivered`` or ``failed``.

    Each endpoint's deliveries go out in ``id`` order: only the oldest pending delivery of an
    endpoint may be claimed (see :mod:`keys.webhooks.queue`).
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_endpoint_id_status_id", "endpoint_id", "status", "id"),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        _AUTOINCREMENT,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[int | None] = mapped_column(BigInteger, default=now_ms)
    claimed_until: Mapped[int | None] = mapped_column(BigInteger, default=None)
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    last_attempt_at: Mapped[int | None] = mapped_column(BigInteger, default=None)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_latency_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    delivered_at: Mapped[int | None] = mapped_column(BigInteger, default=None)


class WebhookNotice(Base):
    """A scheduled event already queued, so that each is queued once: ``kind`` (``expiring_7d``,
    ``expiring_1d``, ``expired``, ``overlap_ending``) of one credential (``target_type``,
    ``target_id``) about the moment ``at`` (its expiry, or its rotation overlap's end). A new
    expiry is a new moment, which arms the notices again."""

    __tablename__ = "webhook_notices"
    __table_args__ = (UniqueConstraint("target_type", "target_id", "kind", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)


class WorkerLease(Base):
    """A named lease: held by one process (``holder``) until ``expires_at``; a holder that
    dies stops renewing it and another takes it over."""

    __tablename__ = "worker_leases"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[int] = mapped_column(BigInteger)
