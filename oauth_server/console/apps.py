"""The OAuth Apps tab: register, edit, rotate the secret, revoke, reactivate, delete.

Every action that needs a confirmation has its own URL (``…/rotate``, ``…/revoke``, …): a
GET renders the list with that dialog open, saying what breaks; the POST does it and returns
to the list. The dialogs therefore work without JavaScript, and a reload never repeats a POST.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from keys import apps, limits
from keys.errors import ValidationFailed
from keys.limits import ALL
from keys.models import OAuthApp, Team
from oauth_server.console import actions, bp, reveal
from oauth_server.console.forms import AppForm, show_errors
from oauth_server.console.guards import MANAGERS, actor, page, signed_in
from oauth_server.console.listing import all_teams, list_query, pages, team_choices
from oauth_server.extensions import db
from oauth_server.services import services

LIST = "console.apps"
STATUSES = (ALL, *limits.STATUSES)
BASE = "/settings/api-access/apps"

Page = str | tuple[str, int]


def _app_form(teams: list[Team], app: OAuthApp | None = None) -> AppForm:
    data: dict[str, Any] | None = None
    if app is not None:
        data = {
            "name": app.name,
            "team_id": "" if app.team_id is None else str(app.team_id),
            "scopes": app.scope_list,
            "token_ttl_seconds": app.token_ttl_seconds,
            "token_format": app.token_format,
            "jwt_signing_alg": app.jwt_signing_alg,
        }
    form = AppForm(data=data)
    form.team_id.choices = team_choices(teams)
    form.scopes.choices = [SelectChoice(s.name, s.name) for s in services().catalog.scopes]
    return form


def _render(
    *, dialog: str | None = None, target: OAuthApp | None = None, status: int = 200, **forms: Any
) -> Page:
    """The app list (filtered, one page), with at most one dialog open."""
    org_id = signed_in().org_id
    query = list_query(STATUSES)
    items, cursor = apps.list_page(
        db.session,
        org_id,
        status=query.status,
        team_id=query.team_id,
        limit=query.limit,
        cursor=query.cursor,
    )
    teams = all_teams(org_id)
    if dialog is None:
        forms["create_form"] = _app_form(teams)
    html = render_template(
        "console/apps.html",
        apps=items,
        query=query,
        pages=pages(LIST, cursor),
        teams=teams,
        team_names={t.id: t.name for t in teams},
        scope_groups=services().catalog.grouped(),
        dialog=dialog,
        target=target,
        secret=reveal.pop() if dialog is None else None,
        **forms,
    )
    return (html, status) if status != 200 else html


def _one_time_secret(title: str, label: str, result: apps.AppWithSecret) -> reveal.OneTimeSecret:
    return reveal.OneTimeSecret(
        title=title,
        name=result.app.name,
        secret_label=label,
        secret=result.client_secret,
        id_label="Client ID",
        id_value=result.app.client_id,
    )


def _get(app_id: int) -> OAuthApp:
    return apps.get(db.session, signed_in().org_id, app_id)


@bp.get(BASE, endpoint="apps")
@page(MANAGERS, api_access=True)
def list_apps() -> Page:
    return _render()


@bp.get(f"{BASE}/new")
@page(MANAGERS, api_access=True)
def new_app() -> Page:
    return _render(dialog="create", create_form=_app_form(all_teams(signed_in().org_id)))


@bp.post(BASE)
@page(MANAGERS, api_access=True)
def create_app() -> Page | Response:
    user = signed_in()
    form = _app_form(all_teams(user.org_id))
    if form.validate_on_submit():
        try:
            result = apps.create(
                db.session,
                services().core,
                org_id=user.org_id,
                actor=actor(),
                created_by=user.id,
                name=form.name.data,
                scopes=form.scopes.data,
                team_id=form.team_value(),
                token_ttl_seconds=form.token_ttl_seconds.data,
                token_format=form.token_format.data,
                jwt_signing_alg=form.jwt_signing_alg.data,
            )
            db.session.commit()
        except ValidationFailed as error:
            db.session.rollback()
            show_errors(form, error)
        else:
            reveal.stash(_one_time_secret("OAuth app registered", "Client secret", result))
            return redirect(url_for(LIST))
    return _render(dialog="create", create_form=form, status=422)


@bp.route(f"{BASE}/<id:app_id>/edit", methods=["GET", "POST"])
@page(MANAGERS, api_access=True)
def edit_app(app_id: int) -> Page | Response:
    app = _get(app_id)
    form = _app_form(all_teams(app.org_id), app)
    if form.validate_on_submit():
        changes = {
            "name": form.name.data,
            "scopes": form.scopes.data,
            "team_id": form.team_value(),
            "token_ttl_seconds": form.token_ttl_seconds.data,
            "token_format": form.token_format.data,
            "jwt_signing_alg": form.jwt_signing_alg.data,
        }
        try:
            apps.update(db.session, services().core, app, actor(), changes)
            db.session.commit()
        except ValidationFailed as error:
            db.session.rollback()
            show_errors(form, error)
        else:
            flash(f"Saved “{app.name}”. Its tokens follow the changes at once.", "success")
            return redirect(url_for(LIST))
    status = 422 if form.is_submitted() else 200
    return _render(dialog="edit", target=app, edit_form=form, status=status)


@bp.route(f"{BASE}/<id:app_id>/rotate", methods=["GET", "POST"])
@page(MANAGERS, api_access=True)
def rotate_app(app_id: int) -> Page | Response:
    app = _get(app_id)

    def rotate(grace_period_seconds: int) -> reveal.OneTimeSecret:
        result = apps.rotate_secret(db.session, services().core, app, actor(), grace_period_seconds)
        return _one_time_secret("Client secret rotated", "New client secret", result)

    return actions.rotated(app, _render, LIST, rotate)


@bp.route(f"{BASE}/<id:app_id>/revoke", methods=["GET", "POST"])
@page(MANAGERS, api_access=True)
def revoke_app(app_id: int) -> Page | Response:
    app = _get(app_id)
    return actions.confirmed(
        "revoke",
        app,
        _render,
        LIST,
        act=lambda: apps.revoke(db.session, app, actor()),
        done=f"Revoked “{app.name}”: it can no longer get tokens, and its tokens stopped working.",
    )


@bp.post(f"{BASE}/<id:app_id>/reactivate")
@page(MANAGERS, api_access=True)
def reactivate_app(app_id: int) -> Response:
    app = _get(app_id)
    done = (
        f"Reactivated “{app.name}”: it can get new tokens; tokens from before the revoke stay dead."
    )
    return actions.reactivated(
        LIST, lambda: apps.reactivate(db.session, app, actor()), lambda: (done, "success")
    )


@bp.route(f"{BASE}/<id:app_id>/delete", methods=["GET", "POST"])
@page(MANAGERS, api_access=True)
def delete_app(app_id: int) -> Page | Response:
    app = _get(app_id)
    return actions.confirmed(
        "delete",
        app,
        _render,
        LIST,
        act=lambda: apps.delete(db.session, app, actor()),
        done=f"Deleted “{app.name}”. Its audit events remain in the audit log.",
    )
