"""Credentials as the management API shows them: one function per kind, read by the API's
response schemas (``oauth_server/api/schemas.py``) and by webhook events, whose ``target``
must be the same item. Never a secret: only display prefixes, hints and settings.
"""

from __future__ import annotations

from typing import Any

from keys.api_keys import status_of as key_status
from keys.audit import Actor
from keys.clock import now_ms
from keys.models import ApiKey, OAuthApp, UserKey
from keys.user_keys import status_of as user_key_status


def _overlap(ends_at: int | None, now: int) -> int | None:
    """A rotation's overlap end while it lasts, else None."""
    return ends_at if ends_at and ends_at > now else None


def api_key_item(key: ApiKey, now: int | None = None) -> dict[str, Any]:
    now = now or now_ms()
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "hint": key.hint,
        "scopes": key.scope_list,
        "team_id": key.team_id,
        "status": key_status(key, now),
        "created_at": key.created_at,
        "created_by": key.created_by,
        "updated_at": key.updated_at,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
        "last_used_at": key.last_used_at,
        "last_used_ip": key.last_used_ip,
        "usage_count": key.usage_count,
        "temporary": key.temporary,
        "previous_secret_expires_at": _overlap(key.previous_secret_expires_at, now),
    }


def app_item(app: OAuthApp, now: int | None = None) -> dict[str, Any]:
    return {
        "id": app.id,
        "name": app.name,
        "client_id": app.client_id,
        "prefix": app.secret_prefix,
        "hint": app.secret_hint,
        "scopes": app.scope_list,
        "team_id": app.team_id,
        "token_ttl_seconds": app.token_ttl_seconds,
        "token_format": app.token_format,
        "jwt_signing_alg": app.jwt_signing_alg,
        "status": "revoked" if app.revoked_at else "active",
        "created_at": app.created_at,
        "created_by": app.created_by,
        "updated_at": app.updated_at,
        "revoked_at": app.revoked_at,
        "previous_secret_expires_at": _overlap(app.previous_secret_expires_at, now or now_ms()),
    }


def user_key_item(key: UserKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "hint": key.hint,
        "owner": {"id": key.user.id, "email": key.user.email, "name": key.user.name},
        "scopes": key.scope_list,
        "team_id": key.team_id,
        "status": user_key_status(key),
        "created_at": key.created_at,
        "last_used_at": key.last_used_at,
        "last_used_ip": key.last_used_ip,
        "usage_count": key.usage_count,
        "revoked_at": key.revoked_at,
        "replaced_by": key.replaced_by,
    }


def credential_item(record: ApiKey | OAuthApp | UserKey) -> dict[str, Any]:
    """The API item of any credential: what a webhook event's ``data.target`` holds."""
    if isinstance(record, ApiKey):
        return api_key_item(record)
    if isinstance(record, OAuthApp):
        return app_item(record)
    return user_key_item(record)


def actor_item(actor: Actor) -> dict[str, Any]:
    """Who acted, as the audit log's ``actor`` shows it: ``{type, id, email|prefix}``."""
    item: dict[str, Any] = {"type": actor.type, "id": actor.id}
    item["prefix" if actor.type == "api_key" else "email"] = actor.label
    return item
