"""``/api/user-keys``: legacy personal keys, imported from the old system.

They are listed (admins see the org's; everyone else only their own), revoked, and replaced
by API keys; they are never created here (``import-user-keys`` brings them in).
"""

from __future__ import annotations

from flask import Response

from keys import user_keys
from keys.models import UserKey
from oauth_server.api import bp
from oauth_server.api.access import current, require_api_access
from oauth_server.api.paging import next_link
from oauth_server.api.problems import problem
from oauth_server.api.schemas import (
    KeyWithSecretOut,
    Ok,
    UserKeyOut,
    UserKeyReplace,
    UserKeysQuery,
)
from oauth_server.api.spec import operation, respond
from oauth_server.extensions import db
from oauth_server.services import services

TAG = "User keys (legacy)"


def _user_key(key_id: int) -> UserKey:
    require_api_access()
    principal = current()
    return user_keys.get(
        db.session, principal.org_id, key_id, owner_id=user_keys.visible_owner(principal.user)
    )


@operation(
    bp,
    "GET",
    "/user-keys",
    summary="List user keys",
    tag=TAG,
    access="session",
    query=UserKeysQuery,
    response=UserKeyOut,
    many=True,
)
def list_user_keys(query: UserKeysQuery) -> Response:
    """Newest first, with owner, created, last used. Members see only their own."""
    require_api_access()
    items, cursor = user_keys.list_page(
        db.session,
        current().org_id,
        owner_id=user_keys.visible_owner(current().user),
        status=query.status,
        limit=query.limit,
        cursor=query.cursor,
    )
    return respond([UserKeyOut.of(k) for k in items], headers=next_link(cursor))


@operation(
    bp,
    "POST",
    "/user-keys",
    summary="User keys are no longer issued",
    tag=TAG,
    access="session",
    status=405,
)
def create_user_key() -> Response:
    """Always refused: user keys are no longer issued. Create an API key instead."""
    return problem(
        405,
        "User keys are no longer issued. Create an API key instead: POST /api/keys "
        "(or Settings → API access → API Keys in the console).",
        code="user-keys-retired",
        headers={"Allow": "GET"},
    )


@operation(
    bp,
    "DELETE",
    "/user-keys/<id:key_id>",
    summary="Revoke a user key",
    tag=TAG,
    access="session",
    response=Ok,
)
def revoke_user_key(key_id: int) -> Response:
    """Revokes the key for good: the integration that uses it stops working at once."""
    user_keys.revoke(db.session, _user_key(key_id), current().actor)
    db.session.commit()
    return respond(Ok())


@operation(
    bp,
    "POST",
    "/user-keys/<id:key_id>/replace",
    summary="Replace a user key with an API key",
    tag=TAG,
    access="manager",
    body=UserKeyReplace,
    response=KeyWithSecretOut,
    status=201,
)
def replace_user_key(key_id: int, body: UserKeyReplace) -> Response:
    """A new API key with the user key's scopes and team, shown once under ``key``. The user
    key keeps working until it is revoked, so the integration can switch first."""
    key = _user_key(key_id)
    principal = current()
    result = user_keys.replace(
        db.session,
        services().core,
        key,
        principal.actor,
        principal.user_id,
        name=body.name,
    )
    db.session.commit()
    return respond(KeyWithSecretOut.of_new(result), 201)
