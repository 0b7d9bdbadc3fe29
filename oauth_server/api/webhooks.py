"""``/api/webhooks``: the org's webhook endpoints and their deliveries. Org admins manage
them; developers read them."""

from __future__ import annotations

from flask import Response, current_app

from keys.webhooks import endpoints
from keys.webhooks.models import WebhookEndpoint
from oauth_server.api import bp
from oauth_server.api.access import current, require_api_access
from oauth_server.api.paging import next_link
from oauth_server.api.schemas import (
    DeliveryOut,
    Ok,
    PageQuery,
    WebhookCreate,
    WebhookOut,
    WebhookUpdate,
    WebhookWithSecretOut,
)
from oauth_server.api.spec import operation, patch_changes, respond
from oauth_server.extensions import db
from oauth_server.services import services

TAG = "Webhooks"


def _endpoint(endpoint_id: int) -> WebhookEndpoint:
    require_api_access()
    return endpoints.get(db.session, current().org_id, endpoint_id)


def _allow_private() -> bool:
    return bool(current_app.config["LATCHKEY_WEBHOOK_ALLOW_PRIVATE"])


def _with_secret(endpoint: WebhookEndpoint, secret: str) -> WebhookWithSecretOut:
    return WebhookWithSecretOut(**WebhookOut.of(endpoint).model_dump(), signing_secret=secret)


@operation(
    bp,
    "GET",
    "/webhooks",
    summary="List webhook endpoints",
    tag=TAG,
    access="manager",
    query=PageQuery,
    response=WebhookOut,
    many=True,
)
def list_webhooks(query: PageQuery) -> Response:
    """Newest first; follow ``Link: rel="next"`` for more."""
    require_api_access()
    items, cursor = endpoints.list_page(
        db.session, current().org_id, limit=query.limit, cursor=query.cursor
    )
    return respond([WebhookOut.of(e) for e in items], headers=next_link(cursor))


@operation(
    bp,
    "POST",
    "/webhooks",
    summary="Register a webhook endpoint",
    tag=TAG,
    access="admin",
    body=WebhookCreate,
    response=WebhookWithSecretOut,
    status=201,
)
def create_webhook(body: WebhookCreate) -> Response:
    """Every credential event of the types in ``events`` is sent to ``url``, signed
    (Standard Webhooks). The URL must be https:// and resolve to public addresses only.
    Returns ``signing_secret`` (``whsec_…``), shown this once: verify our signatures with
    it."""
    require_api_access()
    principal = current()
    made = endpoints.create(
        db.session,
        services().keyring,
        org_id=principal.org_id,
        actor=principal.actor,
        created_by=principal.user.id,
        url=body.url,
        events=body.events,
        description=body.description,
        auth=body.auth.receiver_auth(),
        allow_private=_allow_private(),
    )
    db.session.commit()
    return respond(_with_secret(made.endpoint, made.signing_secret), 201)


@operation(
    bp,
    "GET",
    "/webhooks/<id:webhook_id>",
    summary="Read a webhook endpoint",
    tag=TAG,
    access="manager",
    response=WebhookOut,
)
def get_webhook(webhook_id: int) -> Response:
    return respond(WebhookOut.of(_endpoint(webhook_id)))


@operation(
    bp,
    "PATCH",
    "/webhooks/<id:webhook_id>",
    summary="Edit a webhook endpoint",
    tag=TAG,
    access="admin",
    body=WebhookUpdate,
    response=WebhookOut,
)
def update_webhook(webhook_id: int, body: WebhookUpdate) -> Response:
    """Only the fields sent change. ``enabled: true`` resumes a disabled endpoint, from its
    oldest pending delivery."""
    endpoint = _endpoint(webhook_id)
    changes = patch_changes(body, nullable=("description",))
    if body.auth is not None:
        changes["auth"] = body.auth.receiver_auth()
    endpoints.update(
        db.session, services().keyring, endpoint, current().actor, changes, _allow_private()
    )
    db.session.commit()
    return respond(WebhookOut.of(endpoint))


@operation(
    bp,
    "DELETE",
    "/webhooks/<id:webhook_id>",
    summary="Delete a webhook endpoint",
    tag=TAG,
    access="admin",
    response=Ok,
)
def delete_webhook(webhook_id: int) -> Response:
    """Permanent: deliveries not yet made are dropped; its audit events remain."""
    endpoints.delete(db.session, _endpoint(webhook_id), current().actor)
    db.session.commit()
    return respond(Ok())


@operation(
    bp,
    "POST",
    "/webhooks/<id:webhook_id>/rotate-secret",
    summary="Rotate the signing secret",
    tag=TAG,
    access="admin",
    response=WebhookWithSecretOut,
)
def rotate_webhook_secret(webhook_id: int) -> Response:
    """A new ``signing_secret``, shown once. For 24 hours every delivery carries two
    signatures (old and new secret), so the receiver can switch without missing one."""
    endpoint = _endpoint(webhook_id)
    secret = endpoints.rotate_secret(db.session, services().keyring, endpoint, current().actor)
    db.session.commit()
    return respond(_with_secret(endpoint, secret))


@operation(
    bp,
    "POST",
    "/webhooks/<id:webhook_id>/test",
    summary="Send a test event",
    tag=TAG,
    access="admin",
    response=DeliveryOut,
    status=202,
    errors=(409,),
)
def test_webhook(webhook_id: int) -> Response:
    """Queues a ``webhook.test`` event for this endpoint; the delivery is returned, and
    follows in ``GET …/deliveries``."""
    endpoint = _endpoint(webhook_id)
    delivery = endpoints.send_test(db.session, endpoint, current().actor)
    db.session.commit()
    return respond(DeliveryOut.of(delivery, endpoints.event_of(db.session, delivery)), 202)


@operation(
    bp,
    "GET",
    "/webhooks/<id:webhook_id>/deliveries",
    summary="List deliveries",
    tag=TAG,
    access="manager",
    query=PageQuery,
    response=DeliveryOut,
    many=True,
)
def list_deliveries(webhook_id: int, query: PageQuery) -> Response:
    """Newest first: each event's id, type, attempts, last status code and latency, and the
    next retry of those still pending."""
    endpoint = _endpoint(webhook_id)
    rows, cursor = endpoints.deliveries_page(
        db.session, endpoint, limit=query.limit, cursor=query.cursor
    )
    return respond([DeliveryOut.of(d, e) for d, e in rows], headers=next_link(cursor))


@operation(
    bp,
    "POST",
    "/webhooks/<id:webhook_id>/deliveries/<id:delivery_id>/redeliver",
    summary="Redeliver an event",
    tag=TAG,
    access="admin",
    response=DeliveryOut,
    status=202,
    errors=(409,),
)
def redeliver(webhook_id: int, delivery_id: int) -> Response:
    """Sends the delivery's event again (same ``webhook-id``), as a new delivery."""
    endpoint = _endpoint(webhook_id)
    delivery = endpoints.redeliver(db.session, endpoint, delivery_id)
    db.session.commit()
    return respond(DeliveryOut.of(delivery, endpoints.event_of(db.session, delivery)), 202)
