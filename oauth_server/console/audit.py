"""The Audit log tab: the org's events, newest first, filtered by action, actor, target and
time, as ``GET /api/audit-events`` filters them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import render_template, request

from keys.audit import TARGET_TYPES, VERBS, EventFilter, events_page
from oauth_server.console import bp
from oauth_server.console.clock import local_ms
from oauth_server.console.guards import MANAGERS, page, signed_in
from oauth_server.console.listing import list_query, pages
from oauth_server.extensions import db

ACTIONS = tuple(f"{t}.{v}" for t in TARGET_TYPES for v in VERBS)


@dataclass(frozen=True, slots=True)
class AuditFilters:
    action: str
    actor: str
    target: str
    since: str
    until: str

    @property
    def any(self) -> bool:
        return bool(self.action or self.actor or self.target or self.since or self.until)


def _filters() -> AuditFilters:
    def text(name: str) -> str:
        return request.args.get(name, "").strip()[:254]

    return AuditFilters(text("action"), text("actor"), text("target"), text("since"), text("until"))


def _ms(local: str) -> int | None:
    """A ``datetime-local`` value typed in the viewer's zone, as ms since the epoch."""
    try:
        return local_ms(datetime.fromisoformat(local))
    except ValueError:
        return None


@bp.get("/settings/api-access/audit")
@page(MANAGERS, api_access=True)
def audit() -> str:
    filters = _filters()
    query = list_query(("all",))
    where = EventFilter(
        filters.action or None,
        filters.actor or None,
        filters.target or None,
        _ms(filters.since) if filters.since else None,
        _ms(filters.until) if filters.until else None,
    )
    events, cursor = events_page(
        db.session, signed_in().org_id, where, limit=query.limit, cursor=query.cursor
    )
    return render_template(
        "console/audit.html",
        events=events,
        filters=filters,
        actions=ACTIONS,
        pages=pages("console.audit", cursor),
    )
