"""The outbox: events written in the transaction of the change they report.

:func:`keys.audit.record` calls :func:`publish_change` for every credential action, so every
lifecycle service that records its audit event also queues its webhook event, and a change
that is rolled back takes its event with it: nothing is sent for it. An event is stored only
when some enabled endpoint of the org listens to it (no table grows for orgs without
webhooks), with one delivery per such endpoint.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from keys.audit import Actor, Target
from keys.base import DbSession
from keys.clock import now_ms
from keys.items import actor_item, credential_item
from keys.models import ApiKey, OAuthApp, UserKey
from keys.webhooks.catalog import subscribed
from keys.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

_MODELS: dict[str, Any] = {
    "api_key": ApiKey,
    "app": OAuthApp,
    "user_key": UserKey,
}


def iso_time(ms: int) -> str:
    """ISO 8601 in UTC with milliseconds: the body's ``timestamp``."""
    return (
        datetime.fromtimestamp(ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def new_event_id() -> str:
    """The ``webhook-id``: unique per event, the same on every retry (Standard Webhooks)."""
    return f"msg_{secrets.token_hex(16)}"


def target_of(session: DbSession, target: Target) -> dict[str, Any]:
    """The credential's API item; an event about a row already gone (none today: deletions
    are recorded before the row goes) says what the audit event knows."""
    record: ApiKey | OAuthApp | UserKey | None = None
    if target.id is not None:
        record = session.get(_MODELS[target.type], target.id)
    if record is None:
        return {"id": target.id, "name": target.name, "prefix": target.prefix}
    return credential_item(record)


def enqueue(
    session: DbSession,
    *,
    org_id: int,
    event_type: str,
    data: dict[str, Any],
    endpoints: list[WebhookEndpoint] | None = None,
    now: int | None = None,
) -> WebhookEvent | None:
    """Queue ``event_type`` for each enabled endpoint of the org that listens to it (or for
    ``endpoints``, e.g. the one a test event is for); None when no one listens."""
    if endpoints is None:
        endpoints = [
            e
            for e in session.scalars(
                select(WebhookEndpoint).where(
                    WebhookEndpoint.org_id == org_id, WebhookEndpoint.disabled_at.is_(None)
                )
            )
            if subscribed(e.event_list, event_type)
        ]
    if not endpoints:
        return None
    at = now or now_ms()
    body = {"type": event_type, "timestamp": iso_time(at), "data": {"org_id": org_id, **data}}
    event = WebhookEvent(
        uid=new_event_id(),
        org_id=org_id,
        type=event_type,
        body=json.dumps(body, separators=(",", ":")),
        created_at=at,
    )
    session.add(event)
    session.flush()
    for endpoint in endpoints:
        session.add(WebhookDelivery(endpoint_id=endpoint.id, event_id=event.id, next_attempt_at=at))
    return event


def publish_change(
    session: DbSession, *, org_id: int, action: str, actor: Actor, target: Target
) -> None:
    """The webhook event of a credential change (its audit ``action``)."""
    enqueue(
        session,
        org_id=org_id,
        event_type=action,
        data={"actor": actor_item(actor), "target": target_of(session, target)},
    )
