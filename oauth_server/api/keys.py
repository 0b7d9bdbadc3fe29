"""``/api/keys``: API keys of the caller's org.

Members (admins and developers) manage every key of their org. An API key may act here only
with ``keys:write`` (create and list) or ``keys:delete`` (list, revoke, delete), and only on
keys of its own team scope (:mod:`keys.delegation`).
"""

from __future__ import annotations

from flask import Response

from keys import api_keys
from keys.delegation import KEYS_DELETE, KEYS_WRITE
from keys.models import ApiKey
from oauth_server.api import bp
from oauth_server.api.access import current, require_api_access
from oauth_server.api.paging import next_link
from oauth_server.api.schemas import (
    KeyCreate,
    KeyOut,
    KeysQuery,
    KeyUpdate,
    KeyWithSecretOut,
    Ok,
    RotateSecret,
    TemporaryKeyCreate,
)
from oauth_server.api.spec import operation, patch_changes, respond
from oauth_server.extensions import db
from oauth_server.services import services

TAG = "API keys"
ANY_KEY_SCOPE = (KEYS_WRITE, KEYS_DELETE)


def _key(key_id: int) -> ApiKey:
    """The key, if it is in the caller's org and, for an acting key, within its reach."""
    require_api_access()
    principal = current()
    key = api_keys.get(db.session, principal.org_id, key_id)
    if principal.delegation is not None:
        principal.delegation.check_team(key.team_id)
    return key


@operation(
    bp,
    "GET",
    "/keys",
    summary="List API keys",
    tag=TAG,
    access="manager",
    query=KeysQuery,
    response=KeyOut,
    many=True,
    key_scopes=ANY_KEY_SCOPE,
)
def list_keys(query: KeysQuery) -> Response:
    """Newest first (default: active keys only); follow ``Link: rel="next"`` for more.
    ``team_id`` lists the keys bound to that team, not the all-teams keys."""
    require_api_access()
    principal = current()
    team_id = query.team_id
    if principal.delegation is not None and principal.delegation.team_id is not None:
        if team_id is not None:
            principal.delegation.check_team(team_id)
        team_id = principal.delegation.team_id
    items, cursor = api_keys.list_page(
        db.session,
        principal.org_id,
        status=query.status,
        team_id=team_id,
        limit=query.limit,
        cursor=query.cursor,
    )
    return respond([KeyOut.of(k) for k in items], headers=next_link(cursor))


@operation(
    bp,
    "POST",
    "/keys",
    summary="Create an API key",
    tag=TAG,
    access="manager",
    body=KeyCreate,
    response=KeyWithSecretOut,
    status=201,
    key_scopes=(KEYS_WRITE,),
)
def create_key(body: KeyCreate) -> Response:
    """Returns the key under ``key``, this once. An acting API key grants only scopes it
    holds, for its own team (its team is the default when ``team_id`` is left out), and,
    if it expires, until its own expiry at the latest (the default when ``expires_at`` is
    left out; a later one, or ``null``, is 403)."""
    require_api_access()
    principal = current()
    team_id, expires_at = body.team_id, body.expires_at
    within = principal.delegation
    if within is not None and "team_id" not in body.model_fields_set:
        team_id = within.team_id
    if within is not None and "expires_at" not in body.model_fields_set:
        expires_at = within.expires_at
    result = api_keys.create(
        db.session,
        services().core,
        org_id=principal.org_id,
        actor=principal.actor,
        created_by=principal.user_id,
        name=body.name,
        scopes=body.scopes,
        team_id=team_id,
        expires_at=expires_at,
        within=within,
    )
    db.session.commit()
    return respond(KeyWithSecretOut.of_new(result), 201)


@operation(
    bp,
    "POST",
    "/keys/temporary",
    summary="Create a temporary key",
    tag=TAG,
    access="manager",
    body=TemporaryKeyCreate,
    response=KeyWithSecretOut,
    status=201,
    key_scopes=(KEYS_WRITE,),
)
def create_temporary_key(body: TemporaryKeyCreate) -> Response:
    """A key named "Docs playground (temp)" that expires in one hour (or with the acting API
    key, if that expires sooner), for trying the API (the docs' "Generate test token").
    Default scopes: the catalog's read scopes."""
    require_api_access()
    principal = current()
    result = api_keys.create_temporary(
        db.session,
        services().core,
        org_id=principal.org_id,
        actor=principal.actor,
        created_by=principal.user_id,
        scopes=body.scopes,
        within=principal.delegation,
    )
    db.session.commit()
    return respond(KeyWithSecretOut.of_new(result), 201)


@operation(
    bp,
    "GET",
    "/keys/<id:key_id>",
    summary="Read an API key",
    tag=TAG,
    access="manager",
    response=KeyOut,
    key_scopes=ANY_KEY_SCOPE,
)
def get_key(key_id: int) -> Response:
    return respond(KeyOut.of(_key(key_id)))


@operation(
    bp,
    "PATCH",
    "/keys/<id:key_id>",
    summary="Edit an API key",
    tag=TAG,
    access="manager",
    body=KeyUpdate,
    response=KeyOut,
)
def update_key(key_id: int, body: KeyUpdate) -> Response:
    """Only the fields sent change (``name``, ``scopes``, ``team_id``, ``expires_at``;
    ``team_id: null`` = all teams, ``expires_at: null`` = never). In force at once."""
    key = _key(key_id)
    changes = patch_changes(body, nullable=("team_id", "expires_at"))
    api_keys.update(db.session, services().core, key, current().actor, changes)
    db.session.commit()
    return respond(KeyOut.of(key))


@operation(
    bp,
    "POST",
    "/keys/<id:key_id>/rotate",
    summary="Rotate an API key",
    tag=TAG,
    access="manager",
    body=RotateSecret,
    response=KeyWithSecretOut,
    errors=(409,),
)
def rotate_key(key_id: int, body: RotateSecret) -> Response:
    """A new secret with the same id, name, prefix and settings, shown once under ``key``.
    The old secret keeps working for ``grace_period_seconds`` (0 - 30 days, default 0)."""
    key = _key(key_id)
    result = api_keys.rotate(
        db.session, services().core, key, current().actor, body.grace_period_seconds
    )
    db.session.commit()
    return respond(KeyWithSecretOut.of_new(result))


@operation(
    bp,
    "POST",
    "/keys/<id:key_id>/revoke",
    summary="Revoke an API key",
    tag=TAG,
    access="manager",
    response=KeyOut,
    key_scopes=(KEYS_DELETE,),
)
def revoke_key(key_id: int) -> Response:
    """The key stops working at once, in every process; it stays listed and can be
    reactivated."""
    key = api_keys.revoke(db.session, _key(key_id), current().actor)
    db.session.commit()
    return respond(KeyOut.of(key))


@operation(
    bp,
    "POST",
    "/keys/<id:key_id>/reactivate",
    summary="Reactivate an API key",
    tag=TAG,
    access="manager",
    response=KeyOut,
)
def reactivate_key(key_id: int) -> Response:
    """Undo a revoke (a rotation's old secret stays dead; an expired key stays expired)."""
    key = api_keys.reactivate(db.session, _key(key_id), current().actor)
    db.session.commit()
    return respond(KeyOut.of(key))


@operation(
    bp,
    "DELETE",
    "/keys/<id:key_id>",
    summary="Delete an API key",
    tag=TAG,
    access="manager",
    response=Ok,
    key_scopes=(KEYS_DELETE,),
)
def delete_key(key_id: int) -> Response:
    """Permanent; the key stops working at once. Its audit events remain."""
    api_keys.delete(db.session, _key(key_id), current().actor)
    db.session.commit()
    return respond(Ok())
