"""Events that no request causes: a key about to expire, a key that expired, an app's
rotation overlap about to end. Queued once per deployment (the worker that holds the
scheduler lease runs this), once per credential and moment (:class:`WebhookNotice`).

* ``api_key.expiring``: 7 days and 1 day before ``expires_at`` (a key made with less than
  a week to live is announced once at once, not once per moment already past);
* ``api_key.expired``: at ``expires_at`` (keys that expired more than a week before the
  first run are not announced: that would be news to no one);
* ``app.secret_overlap_ending``: 1 day before a rotation's old secret stops working (or at
  once, for a shorter overlap).

Temporary (docs playground) keys live an hour and are made in numbers: they get none.
Revoked keys get none either: they already stopped working.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from keys.audit import Actor
from keys.items import actor_item, credential_item
from keys.models import ApiKey, OAuthApp
from keys.webhooks.catalog import subscribed
from keys.webhooks.models import WebhookEndpoint, WebhookNotice
from keys.webhooks.outbox import enqueue

DAY_MS = 24 * 3600 * 1000
#: (notice kind, how long before the moment it is due), latest first.
EXPIRING = (("expiring_1d", DAY_MS), ("expiring_7d", 7 * DAY_MS))
EXPIRED_LOOKBACK_MS = 7 * DAY_MS


def _listening_orgs(session: Session, event_type: str) -> list[int]:
    rows = session.execute(
        select(WebhookEndpoint.org_id, WebhookEndpoint.events).where(
            WebhookEndpoint.disabled_at.is_(None)
        )
    )
    return sorted({org for org, events in rows if subscribed(events.split(), event_type)})


def _noticed(session: Session, target_type: str, target_id: int, at: int) -> set[str]:
    return set(
        session.scalars(
            select(WebhookNotice.kind).where(
                WebhookNotice.target_type == target_type,
                WebhookNotice.target_id == target_id,
                WebhookNotice.at == at,
            )
        )
    )


def _note(session: Session, target_type: str, target_id: int, at: int, kinds: list[str]) -> None:
    for kind in kinds:
        session.add(WebhookNotice(target_type=target_type, target_id=target_id, kind=kind, at=at))


def _queue(session: Session, org_id: int, event_type: str, record: ApiKey | OAuthApp) -> None:
    data = {"actor": actor_item(Actor.system()), "target": credential_item(record)}
    enqueue(session, org_id=org_id, event_type=event_type, data=data)


def run(session: Session, now: int) -> int:
    """Queue every scheduled event now due; commits. Returns how many were queued."""
    queued = 0
    expiring_orgs = _listening_orgs(session, "api_key.expiring")
    expired_orgs = _listening_orgs(session, "api_key.expired")
    keys = session.scalars(
        select(ApiKey).where(
            ApiKey.org_id.in_(sorted({*expiring_orgs, *expired_orgs})),
            ApiKey.revoked_at.is_(None),
            ApiKey.temporary.is_(False),
            ApiKey.expires_at.is_not(None),
            ApiKey.expires_at > now - EXPIRED_LOOKBACK_MS,
            ApiKey.expires_at <= now + EXPIRING[-1][1],
        )
    ).all()
    for key in keys:
        at = key.expires_at
        assert at is not None
        done = _noticed(session, "api_key", key.id, at)
        if at <= now:
            if "expired" not in done and key.org_id in expired_orgs:
                _queue(session, key.org_id, "api_key.expired", key)
                queued += 1
            _note(session, "api_key", key.id, at, [k for k in ("expired",) if k not in done])
            continue
        due = [kind for kind, before in EXPIRING if at - before <= now]
        if due and due[0] not in done and key.org_id in expiring_orgs:
            _queue(session, key.org_id, "api_key.expiring", key)
            queued += 1
        _note(session, "api_key", key.id, at, [kind for kind in due if kind not in done])
    overlap_orgs = _listening_orgs(session, "app.secret_overlap_ending")
    apps = session.scalars(
        select(OAuthApp).where(
            OAuthApp.org_id.in_(overlap_orgs),
            OAuthApp.revoked_at.is_(None),
            OAuthApp.previous_secret_expires_at > now,
            OAuthApp.previous_secret_expires_at <= now + DAY_MS,
        )
    ).all()
    for app in apps:
        at = app.previous_secret_expires_at
        assert at is not None
        if "overlap_ending" not in _noticed(session, "app", app.id, at):
            _queue(session, app.org_id, "app.secret_overlap_ending", app)
            _note(session, "app", app.id, at, ["overlap_ending"])
            queued += 1
    session.commit()
    return queued
