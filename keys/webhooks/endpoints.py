"""Webhook endpoints of an org: register, edit, delete, rotate the signing secret, send a
test event, list deliveries, redeliver. The management API and the console both call these.

Every rule is checked here (the outbound-address rule, known event types, the receiver's
auth), so the API's 422 and the console's messages name the same fields. Secrets go in
encrypted (:mod:`keys.webhooks.secrets`) and come out only to sign and send; the signing
secret is returned once, by the call that makes it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from keys.audit import Actor, record, record_changes
from keys.base import DbSession
from keys.clock import now_ms
from keys.errors import Conflict, FieldError, NotFound, ValidationFailed
from keys.items import actor_item
from keys.pagination import page
from keys.validation import control_problem, of_org
from keys.webhooks.addresses import AddressRefused, pin
from keys.webhooks.catalog import ALL, EVENT_TYPES, MAX_EVENTS
from keys.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from keys.webhooks.outbox import enqueue
from keys.webhooks.queue import webhook_target
from keys.webhooks.secrets import EndpointSecrets, Sealer, load, new_signing_secret, store

AUTH_TYPES = ("none", "api_key", "oauth2_client_credentials")
#: The previous signing secret also signs this long after a rotation.
ROTATION_OVERLAP_MS = 24 * 3600 * 1000
MAX_DESCRIPTION_LENGTH = 500
MAX_SECRET_LENGTH = 4096
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
#: Headers a receiver's API key may not be sent in: Latchkey sets them itself.
RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-type",
        "content-length",
        "transfer-encoding",
        "connection",
        "user-agent",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
)


@dataclass(frozen=True, slots=True)
class ReceiverAuth:
    """How Latchkey authenticates to the receiver. ``value`` / ``client_secret`` None on an
    edit: keep the stored one (the type must then stay the same)."""

    type: str = "none"
    header: str | None = None
    value: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    scope: str | None = None


@dataclass(frozen=True, slots=True)
class EndpointWithSecret:
    endpoint: WebhookEndpoint
    signing_secret: str


# -- rules ------------------------------------------------------------------------------------


def _checked_url(url: str, allow_private: bool, field: str = "url") -> str:
    try:
        pin(url, allow_private, field)
    except AddressRefused as exc:
        raise ValidationFailed.one(field, str(exc)) from None
    return url


def checked_events(events: list[str]) -> str:
    """The stored form (space-separated) of a list of event types, or ``*``."""
    if not events:
        raise ValidationFailed.one("events", 'must list at least one event type, or ["*"]')
    if len(events) > MAX_EVENTS:
        raise ValidationFailed.one("events", f"may list at most {MAX_EVENTS} event types")
    unknown = [e for e in events if e != ALL and e not in EVENT_TYPES]
    if unknown:
        raise ValidationFailed.one(
            "events", f"unknown event type {unknown[0]!r}; see the list in the docs, or use *"
        )
    if ALL in events:
        return ALL
    return " ".join(dict.fromkeys(events))


def _text(value: str | None, field: str, max_length: int, required: bool) -> str | None:
    if value is None or value == "":
        if required:
            raise ValidationFailed.one(field, "is required")
        return None
    if len(value) > max_length:
        raise ValidationFailed.one(field, f"must be at most {max_length} characters")
    problem = control_problem(value)
    if problem is not None:
        raise ValidationFailed.one(field, problem)
    return value


def _apply_auth(
    endpoint: WebhookEndpoint, auth: ReceiverAuth, kept: str | None, allow_private: bool
) -> str | None:
    """Set the endpoint's auth columns; returns the receiver secret to store."""
    if auth.type not in AUTH_TYPES:
        raise ValidationFailed.one("auth.type", f"must be one of {', '.join(AUTH_TYPES)}")
    keep = kept if endpoint.auth_type == auth.type else None
    endpoint.auth_header = endpoint.token_url = endpoint.client_id = endpoint.scope = None
    secret: str | None = None
    if auth.type == "api_key":
        header = _text(auth.header, "auth.header", 100, True)
        assert header is not None
        if not _HEADER_NAME.match(header):
            raise ValidationFailed.one("auth.header", "must be an HTTP header name")
        if header.lower() in RESERVED_HEADERS:
            raise ValidationFailed.one(
                "auth.header", f"{header} is set by Latchkey itself; choose another header"
            )
        secret = _text(auth.value, "auth.value", MAX_SECRET_LENGTH, keep is None) or keep
        endpoint.auth_header = header
    elif auth.type == "oauth2_client_credentials":
        token_url = _text(auth.token_url, "auth.token_url", 2048, True)
        assert token_url is not None
        endpoint.token_url = _checked_url(token_url, allow_private, "auth.token_url")
        endpoint.client_id = _text(auth.client_id, "auth.client_id", 255, True)
        secret = (
            _text(auth.client_secret, "auth.client_secret", MAX_SECRET_LENGTH, keep is None) or keep
        )
        endpoint.scope = _text(auth.scope, "auth.scope", 500, False)
    endpoint.auth_type = auth.type
    return secret


# -- items ------------------------------------------------------------------------------------


def status_of(endpoint: WebhookEndpoint) -> str:
    return "disabled" if endpoint.disabled_at is not None else "active"


def endpoint_item(endpoint: WebhookEndpoint, now: int | None = None) -> dict[str, Any]:
    """The endpoint as the API shows it: ``auth`` without its secret."""
    auth: dict[str, Any] = {"type": endpoint.auth_type}
    if endpoint.auth_type == "api_key":
        auth["header"] = endpoint.auth_header
    elif endpoint.auth_type == "oauth2_client_credentials":
        auth.update(token_url=endpoint.token_url, client_id=endpoint.client_id)
        if endpoint.scope:
            auth["scope"] = endpoint.scope
    overlap = endpoint.previous_secret_expires_at
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoint.event_list,
        "auth": auth,
        "status": status_of(endpoint),
        "disabled_at": endpoint.disabled_at,
        "failing_since": endpoint.failing_since,
        "created_at": endpoint.created_at,
        "created_by": endpoint.created_by,
        "updated_at": endpoint.updated_at,
        "previous_secret_expires_at": overlap if overlap and overlap > (now or now_ms()) else None,
    }


# -- the service ------------------------------------------------------------------------------


def create(
    session: DbSession,
    sealer: Sealer,
    *,
    org_id: int,
    actor: Actor,
    created_by: int | None,
    url: str,
    events: list[str],
    description: str | None,
    auth: ReceiverAuth,
    allow_private: bool,
) -> EndpointWithSecret:
    errors: list[FieldError] = []

    def checked(rule: Callable[..., Any], *args: Any) -> Any:
        """Every field is checked, so one answer names every field that is wrong."""
        try:
            return rule(*args)
        except ValidationFailed as exc:
            errors.extend(exc.errors)
            return None

    endpoint = WebhookEndpoint(
        org_id=org_id,
        created_by=created_by,
        auth_type=auth.type,
        url=checked(_checked_url, url, allow_private),
        events=checked(checked_events, events),
        description=checked(_text, description, "description", MAX_DESCRIPTION_LENGTH, False),
    )
    receiver = checked(_apply_auth, endpoint, auth, None, allow_private)
    if errors:
        raise ValidationFailed(
            message="; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors
        )
    session.add(endpoint)
    session.flush()
    signing = new_signing_secret()
    store(sealer, endpoint, EndpointSecrets(signing=signing, receiver=receiver))
    record(
        session,
        org_id=org_id,
        verb="created",
        actor=actor,
        target=webhook_target(endpoint),
        details={"events": endpoint.event_list, "auth_type": endpoint.auth_type},
    )
    return EndpointWithSecret(endpoint, signing)


def get(session: DbSession, org_id: int, endpoint_id: int) -> WebhookEndpoint:
    """An endpoint of this org, or 404."""
    return of_org(session, WebhookEndpoint, org_id, endpoint_id, "webhook")


def list_page(
    session: DbSession, org_id: int, *, limit: int, cursor: int | None
) -> tuple[list[WebhookEndpoint], int | None]:
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.org_id == org_id)
    return page(session, stmt, WebhookEndpoint.id, limit, cursor)


def disabled(session: DbSession, org_id: int) -> list[WebhookEndpoint]:
    """The org's disabled endpoints (the console's banner)."""
    return list(
        session.scalars(
            select(WebhookEndpoint).where(
                WebhookEndpoint.org_id == org_id, WebhookEndpoint.disabled_at.is_not(None)
            )
        )
    )


def _settings(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "url": endpoint.url,
        "events": endpoint.event_list,
        "description": endpoint.description,
        "auth": endpoint_item(endpoint)["auth"],
        "status": status_of(endpoint),
    }


def update(
    session: DbSession,
    sealer: Sealer,
    endpoint: WebhookEndpoint,
    actor: Actor,
    changes: dict[str, Any],
    allow_private: bool,
) -> WebhookEndpoint:
    """Apply the fields present in ``changes``: ``url``, ``events``, ``description``,
    ``auth`` (a :class:`ReceiverAuth`), ``enabled`` (True: deliver again, from the oldest
    pending delivery, at once)."""
    before = _settings(endpoint)
    if "url" in changes:
        endpoint.url = _checked_url(changes["url"], allow_private)
    if "events" in changes:
        endpoint.events = checked_events(changes["events"])
    if "description" in changes:
        endpoint.description = _text(
            changes["description"], "description", MAX_DESCRIPTION_LENGTH, False
        )
    if "auth" in changes:
        stored = load(sealer, endpoint)
        receiver = _apply_auth(endpoint, changes["auth"], stored.receiver, allow_private)
        store(sealer, endpoint, EndpointSecrets(stored.signing, stored.previous_signing, receiver))
    if changes.get("enabled") is True and endpoint.disabled_at is not None:
        endpoint.disabled_at = None
        endpoint.failing_since = None
        now = now_ms()
        for delivery in session.scalars(
            select(WebhookDelivery).where(
                WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == "pending"
            )
        ):
            delivery.next_attempt_at = min(delivery.next_attempt_at or now, now)
    elif changes.get("enabled") is False and endpoint.disabled_at is None:
        endpoint.disabled_at = now_ms()
    after = _settings(endpoint)
    record_changes(
        session,
        org_id=endpoint.org_id,
        actor=actor,
        target=webhook_target(endpoint),
        before=before,
        after=after,
    )
    return endpoint


def delete(session: DbSession, endpoint: WebhookEndpoint, actor: Actor) -> None:
    """Permanent: its pending deliveries are dropped; its audit events remain."""
    record(
        session,
        org_id=endpoint.org_id,
        verb="deleted",
        actor=actor,
        target=webhook_target(endpoint),
    )
    session.delete(endpoint)


def rotate_secret(
    session: DbSession, sealer: Sealer, endpoint: WebhookEndpoint, actor: Actor
) -> str:
    """A new signing secret, returned once; the old one also signs for 24 h, so receivers
    can switch without missing an event."""
    stored = load(sealer, endpoint).rotated()
    store(sealer, endpoint, stored)
    endpoint.previous_secret_expires_at = now_ms() + ROTATION_OVERLAP_MS
    record(
        session,
        org_id=endpoint.org_id,
        verb="rotated",
        actor=actor,
        target=webhook_target(endpoint),
    )
    return stored.signing


def _deliverable(endpoint: WebhookEndpoint) -> None:
    if endpoint.disabled_at is not None:
        raise Conflict(f"Webhook {endpoint.id} is disabled; enable it (PATCH enabled: true) first.")


def send_test(session: DbSession, endpoint: WebhookEndpoint, actor: Actor) -> WebhookDelivery:
    """Queue a ``webhook.test`` event for this endpoint only; returns its delivery."""
    _deliverable(endpoint)
    event = enqueue(
        session,
        org_id=endpoint.org_id,
        event_type="webhook.test",
        data={"actor": actor_item(actor), "target": endpoint_item(endpoint)},
        endpoints=[endpoint],
    )
    assert event is not None
    return session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.event_id == event.id)
    ).one()


def event_of(session: DbSession, delivery: WebhookDelivery) -> WebhookEvent:
    return session.get_one(WebhookEvent, delivery.event_id)


def deliveries_page(
    session: DbSession, endpoint: WebhookEndpoint, *, limit: int, cursor: int | None
) -> tuple[list[tuple[WebhookDelivery, WebhookEvent]], int | None]:
    """The endpoint's deliveries, newest first, each with its event."""
    deliveries, next_cursor = page(
        session,
        select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id),
        WebhookDelivery.id,
        limit,
        cursor,
    )
    events = {
        e.id: e
        for e in session.scalars(
            select(WebhookEvent).where(WebhookEvent.id.in_({d.event_id for d in deliveries}))
        )
    }
    return [(d, events[d.event_id]) for d in deliveries], next_cursor


def redeliver(session: DbSession, endpoint: WebhookEndpoint, delivery_id: int) -> WebhookDelivery:
    """Send a delivery's event again, as a new delivery behind those pending (same
    ``webhook-id``: receivers that deduplicate see it once)."""
    _deliverable(endpoint)
    old = session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint.id
        )
    )
    if old is None:
        raise NotFound(f"No delivery {delivery_id} of webhook {endpoint.id}.")
    again = WebhookDelivery(
        endpoint_id=endpoint.id, event_id=old.event_id, next_attempt_at=now_ms()
    )
    session.add(again)
    session.flush()
    return again
