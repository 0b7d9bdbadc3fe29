"""The delivery queue: claiming due deliveries, and recording what an attempt came to.

Order: each endpoint's deliveries go out one at a time in the order of their events. Only
the oldest *pending* delivery of an endpoint can be claimed, so a later event waits while an
earlier one is being retried. A delivery that has failed for good (4xx, or its eighth
attempt) stops being pending, and the next one proceeds: strict order would otherwise block
an endpoint forever behind one event it rejects. (A redelivery is queued as a new delivery,
behind whatever is pending.)

Claims: a claim lasts until ``claimed_until``; the worker records the outcome (and clears the
claim) when the attempt ends. A worker that dies mid-attempt leaves its claim to expire, and
the delivery is claimed again: at least once, never lost. On PostgreSQL any number of
workers claim with ``FOR UPDATE SKIP LOCKED``, so none waits on another's rows and no two
claim the same one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from keys.audit import Actor, Target, record
from keys.webhooks import schedule
from keys.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from keys.webhooks.sender import Outcome

MAX_ERROR_LENGTH = 500


@dataclass(frozen=True, slots=True)
class Claimed:
    delivery_id: int
    endpoint: WebhookEndpoint
    msg_id: str
    body: str

    @property
    def endpoint_id(self) -> int:
        return self.endpoint.id


def claim(
    session: Session, *, holder: str, now: int, claim_ms: int, limit: int, skip_locked: bool
) -> list[Claimed]:
    """Claim up to ``limit`` due deliveries, each the head of its endpoint's queue, with
    their endpoints (read afresh) and events, in one statement. Commits."""
    # The oldest pending delivery of each endpoint: one pass over the (endpoint, status, id)
    # index, however long an endpoint's backlog.
    heads = (
        select(func.min(WebhookDelivery.id))
        .where(WebhookDelivery.status == "pending")
        .group_by(WebhookDelivery.endpoint_id)
    )
    stmt = (
        select(WebhookDelivery, WebhookEndpoint, WebhookEvent.uid, WebhookEvent.body)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
            or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now),
            WebhookEndpoint.disabled_at.is_(None),
            WebhookDelivery.id.in_(heads),
        )
        .order_by(WebhookDelivery.id)
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    if skip_locked:
        stmt = stmt.with_for_update(skip_locked=True, of=WebhookDelivery)
    claimed = []
    for delivery, endpoint, uid, body in session.execute(stmt).all():
        delivery.claimed_until = now + claim_ms
        delivery.claimed_by = holder
        claimed.append(Claimed(delivery.id, endpoint, uid, body))
    session.commit()
    return claimed


def finish(
    session: Session, claimed: Claimed, outcome: Outcome, now: int, rng: random.Random
) -> str:
    """Record an attempt: delivered, retried later, or failed for good; a failure that ends
    24 h of failures disables the endpoint (audit ``webhook.disabled``). Commits; returns the
    delivery's status, or ``gone`` when its endpoint was deleted meanwhile.

    The claim loaded both rows into ``session`` (kept across commits): the outcome is written
    without reading them again."""
    try:
        return _finish(session, claimed, outcome, now, rng)
    except (NoResultFound, StaleDataError):
        session.rollback()
        return "gone"


def _finish(
    session: Session, claimed: Claimed, outcome: Outcome, now: int, rng: random.Random
) -> str:
    delivery = session.get_one(WebhookDelivery, claimed.delivery_id)
    endpoint = session.get_one(WebhookEndpoint, claimed.endpoint_id)
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.last_status_code = outcome.status_code
    delivery.last_latency_ms = outcome.latency_ms
    delivery.last_error = outcome.error[:MAX_ERROR_LENGTH] if outcome.error else None
    delivery.claimed_until = None
    delivery.claimed_by = None
    verdict = schedule.verdict(outcome.status_code)
    if verdict == "delivered":
        delivery.status = "delivered"
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        endpoint.failing_since = None
    else:
        retry_at = None
        if verdict == "retry":
            retry_at = schedule.next_attempt_at(delivery.attempts, now, rng)
        delivery.next_attempt_at = retry_at
        delivery.status = "pending" if retry_at is not None else "failed"
        if endpoint.failing_since is None:
            endpoint.failing_since = now
        elif (
            now - endpoint.failing_since >= schedule.DISABLE_AFTER_MS
            and endpoint.disabled_at is None
        ):
            disable(session, endpoint, now)
    session.commit()
    return delivery.status


def disable(session: Session, endpoint: WebhookEndpoint, now: int) -> None:
    """Stop delivering to an endpoint that has failed for a day; its pending deliveries wait
    for it to be enabled again (``PATCH`` ``enabled: true``)."""
    endpoint.disabled_at = now
    record(
        session,
        org_id=endpoint.org_id,
        verb="disabled",
        actor=Actor.system(),
        target=webhook_target(endpoint),
        details={"failing_since": endpoint.failing_since, "reason": "failing for 24 hours"},
    )


def webhook_target(endpoint: WebhookEndpoint) -> Target:
    """How the audit log names an endpoint: by its URL (no secret is ever in it: URLs with
    credentials are refused)."""
    return Target(type="webhook", id=endpoint.id, name=endpoint.url[:255])
