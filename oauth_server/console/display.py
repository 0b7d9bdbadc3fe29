"""How the console shows things: times, lifetimes, the navigation each role sees.

Times leave the server as ``<time datetime="…Z">`` in UTC (readable without JavaScript);
the console's script rewrites them in the viewer's time zone with a relative "3 days ago".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import url_for

from keys.clock import now_ms
from keys.webhooks import endpoints as webhook_endpoints
from keys.webhooks.models import WebhookEndpoint
from oauth_server.console import bp
from oauth_server.console.guards import ADMINS, EVERYONE, MANAGERS, may, signed_in
from oauth_server.extensions import db

SOON_MS = 7 * 24 * 3600 * 1000


@bp.app_template_filter("iso")
def iso(ms: int) -> str:
    """Milliseconds since the epoch as ISO 8601 UTC, for ``<time datetime>``."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@bp.app_template_filter("utc")
def utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


@bp.app_template_filter("duration")
def duration(seconds: int) -> str:
    """A lifetime in the largest whole unit: 900 → "15 min", 3600 → "1 h"."""
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


@bp.app_template_test("soon")
def soon(ms: int | None) -> bool:
    """An expiry within the next 7 days: highlighted in lists."""
    return ms is not None and now_ms() <= ms <= now_ms() + SOON_MS


@bp.app_template_test("past")
def past(ms: int | None) -> bool:
    return ms is not None and ms <= now_ms()


def _value(name: str, value: Any) -> str:
    if value is None:
        return "all teams" if name == "team_id" else "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return " ".join(str(v) for v in value) or "none"
    if name.endswith("_at") and isinstance(value, int):
        return utc(value)
    return str(value)


@bp.app_template_filter("detail_lines")
def detail_lines(details: dict[str, Any]) -> list[str]:
    """An audit event's details as short lines: ``scopes: people:read``, and for an edit
    ``name: Old → New``."""
    lines = []
    for name, value in details.items():
        if name == "changes" and isinstance(value, dict):
            for field, change in value.items():
                if isinstance(change, dict) and {"from", "to"} <= change.keys():
                    before, after = _value(field, change["from"]), _value(field, change["to"])
                    lines.append(f"{field}: {before} → {after}")
        else:
            lines.append(f"{name}: {_value(name, value)}")
    return lines


def _main_nav() -> list[tuple[str, str, frozenset[str]]]:
    return [
        ("API access", url_for("console.api_access"), EVERYONE),
        ("Teams", url_for("console.teams"), MANAGERS),
        ("Members", url_for("console.members"), ADMINS),
        ("Docs", url_for("console.docs"), EVERYONE),
    ]


def _api_access_tabs() -> list[tuple[str, str, frozenset[str]]]:
    return [
        ("API Keys", url_for("console.api_keys"), MANAGERS),
        ("OAuth Apps", url_for("console.apps"), MANAGERS),
        ("User Keys", url_for("console.user_keys"), EVERYONE),
        ("Webhooks", url_for("console.webhooks"), MANAGERS),
        ("Audit log", url_for("console.audit"), MANAGERS),
    ]


def _disabled_webhooks() -> list[WebhookEndpoint]:
    """The org's disabled endpoints, for the banner its admins see on every API-access tab."""
    user = signed_in()
    if user.role not in ADMINS:
        return []
    return webhook_endpoints.disabled(db.session, user.org_id)


@bp.app_context_processor
def console_context() -> dict[str, Any]:
    """What every page's layout needs; the links a member's role may not open are left out."""
    return {
        "may": may,
        "ADMINS": ADMINS,
        "MANAGERS": MANAGERS,
        "main_nav": _main_nav,
        "api_access_tabs": _api_access_tabs,
        "disabled_webhooks": _disabled_webhooks,
    }
