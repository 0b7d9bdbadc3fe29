"""``/api/apps``: OAuth apps (client-credentials clients) of the caller's org."""

from __future__ import annotations

from flask import Response

from keys import apps
from keys.models import OAuthApp
from oauth_server.api import bp
from oauth_server.api.access import current, require_api_access
from oauth_server.api.paging import next_link
from oauth_server.api.schemas import (
    AppCreate,
    AppOut,
    AppsQuery,
    AppUpdate,
    AppWithSecretOut,
    Ok,
    RotateSecret,
)
from oauth_server.api.spec import operation, patch_changes, respond
from oauth_server.extensions import db
from oauth_server.services import services

TAG = "OAuth apps"


def _app(app_id: int) -> OAuthApp:
    require_api_access()
    return apps.get(db.session, current().org_id, app_id)


def _with_secret(result: apps.AppWithSecret) -> AppWithSecretOut:
    return AppWithSecretOut(
        **AppOut.of(result.app).model_dump(), client_secret=result.client_secret
    )


@operation(
    bp,
    "GET",
    "/apps",
    summary="List OAuth apps",
    tag=TAG,
    access="manager",
    query=AppsQuery,
    response=AppOut,
    many=True,
)
def list_apps(query: AppsQuery) -> Response:
    """Newest first; follow ``Link: rel="next"`` for more."""
    require_api_access()
    items, cursor = apps.list_page(
        db.session,
        current().org_id,
        status=query.status,
        team_id=query.team_id,
        limit=query.limit,
        cursor=query.cursor,
    )
    return respond([AppOut.of(a) for a in items], headers=next_link(cursor))


@operation(
    bp,
    "POST",
    "/apps",
    summary="Register an OAuth app",
    tag=TAG,
    access="manager",
    body=AppCreate,
    response=AppWithSecretOut,
    status=201,
)
def create_app(body: AppCreate) -> Response:
    """Returns ``client_id`` and ``client_secret``; the secret is shown this once."""
    require_api_access()
    principal = current()
    result = apps.create(
        db.session,
        services().core,
        org_id=principal.org_id,
        actor=principal.actor,
        created_by=principal.user.id,
        name=body.name,
        scopes=body.scopes,
        team_id=body.team_id,
        token_ttl_seconds=body.token_ttl_seconds,
        token_format=body.token_format,
        jwt_signing_alg=body.jwt_signing_alg,
    )
    db.session.commit()
    return respond(_with_secret(result), 201)


@operation(
    bp,
    "GET",
    "/apps/<id:app_id>",
    summary="Read an OAuth app",
    tag=TAG,
    access="manager",
    response=AppOut,
)
def get_app(app_id: int) -> Response:
    return respond(AppOut.of(_app(app_id)))


@operation(
    bp,
    "PATCH",
    "/apps/<id:app_id>",
    summary="Edit an OAuth app",
    tag=TAG,
    access="manager",
    body=AppUpdate,
    response=AppOut,
)
def update_app(app_id: int, body: AppUpdate) -> Response:
    """Only the fields sent change. Tokens already issued follow at once: a scope taken away
    is no longer granted to them, and binding the app to a team ends its tokens for other
    teams. (Resource servers that verify JWTs themselves see the change at the next token.)"""
    app = _app(app_id)
    changes = patch_changes(body, nullable=("team_id",))
    apps.update(db.session, services().core, app, current().actor, changes)
    db.session.commit()
    return respond(AppOut.of(app))


@operation(
    bp,
    "POST",
    "/apps/<id:app_id>/rotate-secret",
    summary="Rotate the client secret",
    tag=TAG,
    access="manager",
    body=RotateSecret,
    response=AppWithSecretOut,
    errors=(409,),
)
def rotate_app_secret(app_id: int, body: RotateSecret) -> Response:
    """A new secret, shown once; the old one keeps working for ``grace_period_seconds``."""
    app = _app(app_id)
    result = apps.rotate_secret(
        db.session, services().core, app, current().actor, body.grace_period_seconds
    )
    db.session.commit()
    return respond(_with_secret(result))


@operation(
    bp,
    "POST",
    "/apps/<id:app_id>/revoke",
    summary="Revoke an OAuth app",
    tag=TAG,
    access="manager",
    response=AppOut,
)
def revoke_app(app_id: int) -> Response:
    """The app can no longer get tokens, and every token it holds stops working at once."""
    app = apps.revoke(db.session, _app(app_id), current().actor)
    db.session.commit()
    return respond(AppOut.of(app))


@operation(
    bp,
    "POST",
    "/apps/<id:app_id>/reactivate",
    summary="Reactivate an OAuth app",
    tag=TAG,
    access="manager",
    response=AppOut,
)
def reactivate_app(app_id: int) -> Response:
    """The app may get tokens again; tokens from before the revoke stay dead, and so does
    the previous secret of a rotation (the revoke ended its overlap)."""
    app = apps.reactivate(db.session, _app(app_id), current().actor)
    db.session.commit()
    return respond(AppOut.of(app))


@operation(
    bp,
    "DELETE",
    "/apps/<id:app_id>",
    summary="Delete an OAuth app",
    tag=TAG,
    access="manager",
    response=Ok,
)
def delete_app(app_id: int) -> Response:
    """Permanent. Every token of the app stops working at once; its audit events remain."""
    apps.delete(db.session, _app(app_id), current().actor)
    db.session.commit()
    return respond(Ok())
