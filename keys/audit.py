"""Audit events, written in the same transaction as the change they record.

The lifecycle services take an :class:`Actor` (who, from where) from the web layer and add
the event to the caller's session; the caller's commit makes both durable, or neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select

from keys.base import DbSession
from keys.models import AuditEvent
from keys.pagination import page
from keys.validation import control_problem
from keys.webhooks.catalog import CHANGE_TYPES

TARGET_TYPES = (
    "api_key",
    "app",
    "user_key",
    "team",
    "org",
    "user",
    "resource_server",
    "session",
    "webhook",
)
VERBS = (
    "created",
    "updated",
    "rotated",
    "revoked",
    "reactivated",
    "deleted",
    "imported",
    "replaced",
    "failed",
    "disabled",
)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: a user (label = email), an API key (label = its display prefix), or
    the system itself (bootstrap, CLI). ``id`` is the user's or key's record id: stored as
    text, shown as the number it is."""

    type: str
    id: int | None
    label: str | None
    ip: str | None = None
    user_agent: str | None = None

    @classmethod
    def system(cls, label: str = "latchkey") -> Actor:
        return cls(type="system", id=None, label=label)


@dataclass(frozen=True, slots=True)
class Target:
    """What changed; ``id`` is its record id (None: a failed sign-in, which has no row)."""

    type: str
    id: int | None
    name: str | None = None
    prefix: str | None = None


def record(
    session: DbSession,
    *,
    org_id: int | None,
    verb: str,
    actor: Actor,
    target: Target,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add one event ``<target type>.<verb>`` to ``session``; the caller commits.

    A credential's event also queues its webhook event (:mod:`keys.webhooks.outbox`) in the
    same session, so the change, its audit event and its webhook event commit together."""
    assert target.type in TARGET_TYPES, target.type
    action = f"{target.type}.{verb}"
    event = AuditEvent(
        org_id=org_id,
        action=action,
        actor_type=actor.type,
        actor_id=None if actor.id is None else str(actor.id),
        actor_label=actor.label,
        target_type=target.type,
        target_id=None if target.id is None else str(target.id),
        target_name=target.name,
        target_prefix=target.prefix,
        ip=actor.ip,
        user_agent=(actor.user_agent or "")[:255] or None,
        details=details or {},
    )
    session.add(event)
    if org_id is not None and action in CHANGE_TYPES:
        # Imported here: the outbox builds the credential's item from modules that import
        # this one.
        from keys.webhooks.outbox import publish_change

        publish_change(session, org_id=org_id, action=action, actor=actor, target=target)
    return event


def record_changes(
    session: DbSession,
    *,
    org_id: int | None,
    actor: Actor,
    target: Target,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    """Add ``<target type>.updated`` with each field that changed (from, to), or nothing
    when no field did."""
    changed = {k: {"from": before[k], "to": after[k]} for k in before if before[k] != after[k]}
    if changed:
        record(
            session,
            org_id=org_id,
            verb="updated",
            actor=actor,
            target=target,
            details={"changes": changed},
        )


@dataclass(frozen=True, slots=True)
class EventFilter:
    """What the audit log is narrowed to. ``action`` matches exactly; ``actor`` is an email,
    a key prefix or an id; ``target`` matches the start of the target's name or prefix, or
    its id; ``since`` (inclusive) and ``until`` are ms."""

    action: str | None = None
    actor: str | None = None
    target: str | None = None
    since: int | None = None
    until: int | None = None


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def events_page(
    session: DbSession,
    org_id: int,
    where: EventFilter,
    *,
    limit: int,
    cursor: int | None,
    with_deployment_events: bool = False,
) -> tuple[list[AuditEvent], int | None]:
    """One page of an org's events, newest first. ``with_deployment_events`` adds the events
    of no org (e.g. ``resource_server.created``), which platform admins see.

    A text filter holding a control character matches nothing (no name, email, prefix or
    action may hold one), and is not sent to the database, which may refuse it (PostgreSQL
    cannot compare text with NUL)."""
    if any(control_problem(text) for text in (where.action, where.actor, where.target) if text):
        return [], None
    visible = AuditEvent.org_id == org_id
    if with_deployment_events:
        visible = or_(visible, AuditEvent.org_id.is_(None))
    stmt = select(AuditEvent).where(visible)
    if where.action:
        stmt = stmt.where(AuditEvent.action == where.action)
    if where.actor:
        stmt = stmt.where(
            or_(AuditEvent.actor_label == where.actor, AuditEvent.actor_id == where.actor)
        )
    if where.target:
        like = _like_prefix(where.target)
        stmt = stmt.where(
            or_(
                AuditEvent.target_name.like(like, escape="\\"),
                AuditEvent.target_prefix.like(like, escape="\\"),
                AuditEvent.target_id == where.target,
            )
        )
    if where.since is not None:
        stmt = stmt.where(AuditEvent.at >= where.since)
    if where.until is not None:
        stmt = stmt.where(AuditEvent.at < where.until)
    return page(session, stmt, AuditEvent.id, limit, cursor)
