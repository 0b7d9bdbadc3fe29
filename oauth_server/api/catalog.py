"""``/api/scopes``, ``/api/audit-events``, and the API's own description (``/openapi.json``;
the console's ``/docs`` lays it out)."""

from __future__ import annotations

from flask import Response

from keys.audit import EventFilter, events_page
from keys.models import AuditEvent
from oauth_server.api import bp
from oauth_server.api.access import current, require_api_access
from oauth_server.api.paging import next_link
from oauth_server.api.schemas import (
    AuditActor,
    AuditEventOut,
    AuditQuery,
    AuditTarget,
    ScopeOut,
)
from oauth_server.api.spec import openapi_document, operation, respond
from oauth_server.extensions import db
from oauth_server.services import services


@operation(
    bp,
    "GET",
    "/scopes",
    summary="The scope catalog",
    tag="Scopes",
    access="session",
    response=ScopeOut,
    many=True,
)
def list_scopes() -> Response:
    """Every permission scope of this deployment, in catalog order."""
    return respond(
        [
            ScopeOut(name=s.name, resource=s.resource, description=s.description)
            for s in services().catalog.scopes
        ]
    )


def _record_id(stored: str | None) -> int | None:
    """Audit ids are stored as text but are always record ids (:class:`keys.audit.Actor`,
    :class:`keys.audit.Target`): shown as numbers, so they compare equal to the ``id`` of the
    item they name."""
    return None if stored is None else int(stored)


def audit_event_out(event: AuditEvent) -> AuditEventOut:
    is_key = event.actor_type == "api_key"
    return AuditEventOut(
        id=event.id,
        at=event.at,
        action=event.action,
        actor=AuditActor(
            type=event.actor_type,
            id=_record_id(event.actor_id),
            email=None if is_key else event.actor_label,
            prefix=event.actor_label if is_key else None,
        ),
        target=AuditTarget(
            type=event.target_type,
            id=_record_id(event.target_id),
            name=event.target_name,
            prefix=event.target_prefix,
        ),
        ip=event.ip,
        user_agent=event.user_agent,
        details=event.details,
    )


@operation(
    bp,
    "GET",
    "/audit-events",
    summary="The audit log",
    tag="Audit",
    access="manager",
    query=AuditQuery,
    response=AuditEventOut,
    many=True,
)
def list_audit_events(query: AuditQuery) -> Response:
    """Newest first. ``action`` matches exactly; ``target`` matches the start of the
    target's name, prefix or id. Platform admins also see the deployment's own events
    (those of no org, e.g. ``resource_server.created``), which no org's log holds.
    Plan-gated like the credentials it records (and the console's Audit log tab)."""
    require_api_access()
    principal = current()
    items, cursor = events_page(
        db.session,
        principal.org_id,
        EventFilter(query.action, query.actor, query.target, query.since, query.until),
        limit=query.limit,
        cursor=query.cursor,
        with_deployment_events=principal.user.is_platform_admin,
    )
    return respond([audit_event_out(e) for e in items], headers=next_link(cursor))


def openapi_json() -> Response:
    """The management API's OpenAPI document, generated from the declared schemas."""
    doc = openapi_document("Latchkey management API", "1", services().issuer)
    response = respond(doc)
    response.headers["Cache-Control"] = "public, max-age=60"
    return response
