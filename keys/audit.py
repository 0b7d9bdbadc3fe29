"""Audit events, written in the same transaction as the change they record.

The lifecycle services take an :class:`Actor` (who, from where) from the web layer and add
the event to the caller's session; the caller's commit makes both durable, or neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from keys.base import DbSession
from keys.models import AuditEvent

TARGET_TYPES = ("api_key", "app", "user_key", "team", "org", "user", "resource_server", "session")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: a user (label = email), an API key (label = its display prefix), or
    the system itself (bootstrap, CLI)."""

    type: str
    id: str | None
    label: str | None
    ip: str | None = None
    user_agent: str | None = None

    @classmethod
    def system(cls, label: str = "latchkey") -> Actor:
        return cls(type="system", id=None, label=label)


@dataclass(frozen=True, slots=True)
class Target:
    type: str
    id: str | int | None
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
    """Add one event ``<target type>.<verb>`` to ``session``; the caller commits."""
    assert target.type in TARGET_TYPES, target.type
    event = AuditEvent(
        org_id=org_id,
        action=f"{target.type}.{verb}",
        actor_type=actor.type,
        actor_id=actor.id,
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
    return event
