"""Scheduled events: a key's expiry announced 7 days and 1 day ahead and when it comes,
each once, whichever worker looks and however often."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from keys.audit import Actor
from keys.clock import now_ms
from keys.core import Core
from keys.models import Org
from keys.webhooks import scheduler
from keys.webhooks.models import WebhookEndpoint, WebhookEvent
from tests.unit.conftest import new_api_key

DAY = 24 * 3600 * 1000


def _events(session: Session) -> list[tuple[str, str]]:
    return [
        (e.type, json.loads(e.body)["data"]["target"]["name"])
        for e in session.scalars(select(WebhookEvent).order_by(WebhookEvent.id))
    ]


def test_expiry_is_announced_at_7_days_1_day_and_on_expiry_once_each(
    session: Session, core: Core, org: Org, actor: Actor
) -> None:
    session.add(
        WebhookEndpoint(
            org_id=org.id, url="https://h.example.com", events="api_key.expiring api_key.expired"
        )
    )
    start = now_ms()
    expires = start + 10 * DAY
    for name, expiry, temporary in (("soon", expires, False), ("temp", expires, True)):
        new_api_key(session, core, org, actor, name, expires_at=expiry, temporary=temporary)
    assert new_api_key(session, core, org, actor, "never")[0].expires_at is None

    assert scheduler.run(session, start) == 0  # 10 days ahead: nothing yet
    assert scheduler.run(session, expires - 7 * DAY + 1) == 1
    assert scheduler.run(session, expires - 7 * DAY + 60_000) == 0  # once
    assert scheduler.run(session, expires - DAY + 1) == 1
    assert scheduler.run(session, expires - DAY + 2) == 0
    assert scheduler.run(session, expires + 1) == 1
    assert scheduler.run(session, expires + DAY) == 0
    assert _events(session) == [
        ("api_key.expiring", "soon"),
        ("api_key.expiring", "soon"),
        ("api_key.expired", "soon"),
    ]


def test_a_key_with_less_than_a_week_left_is_announced_once_not_twice(
    session: Session, core: Core, org: Org, actor: Actor
) -> None:
    session.add(WebhookEndpoint(org_id=org.id, url="https://h.example.com", events="*"))
    new_api_key(
        session,
        core,
        org,
        actor,
        "short",
        expires_at=now_ms() + 12 * 3600 * 1000,
    )
    session.commit()
    assert scheduler.run(session, now_ms()) == 1
    assert scheduler.run(session, now_ms()) == 0
    assert [t for t, _ in _events(session)] == ["api_key.created", "api_key.expiring"]


def test_orgs_not_listening_get_nothing(
    session: Session, core: Core, org: Org, actor: Actor
) -> None:
    session.add(WebhookEndpoint(org_id=org.id, url="https://h.example.com", events="app.created"))
    new_api_key(
        session,
        core,
        org,
        actor,
        "short",
        expires_at=now_ms() + 3600 * 1000,
    )
    session.commit()
    assert scheduler.run(session, now_ms()) == 0
    assert _events(session) == []


def test_prune_forgets_finished_deliveries_after_30_days_and_keeps_pending_ones(
    session: Session, org: Org
) -> None:
    from keys import retention
    from keys.webhooks.models import WebhookDelivery, WebhookNotice
    from keys.webhooks.outbox import enqueue

    endpoint = WebhookEndpoint(org_id=org.id, url="https://h.example.com", events="*")
    session.add(endpoint)
    session.flush()
    old = now_ms() - 31 * DAY
    made = [
        enqueue(session, org_id=org.id, event_type="webhook.test", data={}, endpoints=[endpoint])
        for _ in range(3)
    ]
    session.flush()
    deliveries = list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))
    for delivery, status in zip(deliveries, ("delivered", "failed", "pending"), strict=True):
        delivery.status, delivery.created_at = status, old
    for event in made:
        assert event is not None
        event.created_at = old
    session.add(WebhookNotice(target_type="api_key", target_id=1, kind="expired", at=old))
    session.commit()

    assert retention.prune_webhook_deliveries(session, batch=1) == 2
    assert retention.prune_webhook_events(session) == 3  # two events, one notice
    assert [d.status for d in session.scalars(select(WebhookDelivery))] == ["pending"]
    assert len(session.scalars(select(WebhookEvent)).all()) == 1
