"""The API Keys tab: create, edit, rotate with an overlap, revoke, reactivate, delete.

Same shape as the OAuth Apps tab: each confirmation has its own URL (a GET renders the list
with the dialog open and says what breaks; the POST acts and returns to the list, through
:mod:`oauth_server.console.actions`), and a new key reaches the next page view once, through
:mod:`oauth_server.console.reveal`.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from keys import api_keys
from keys.errors import ValidationFailed
from keys.limits import ALL, KEY_STATUSES
from keys.models import ApiKey, Team
from oauth_server.console import actions, bp, reveal
from oauth_server.console.forms import EXPIRY_CHOICES, KeyForm, show_errors
from oauth_server.console.guards import MANAGERS, actor, page, signed_in
from oauth_server.console.listing import all_teams, list_query, pages, team_choices
from oauth_server.extensions import db
from oauth_server.services import services

LIST = "console.api_keys"
STATUSES = (ALL, *KEY_STATUSES)
BASE = "/settings/api-access/keys"

Page = str | tuple[str, int]


def _key_form(teams: list[Team], key: ApiKey | None = None) -> KeyForm:
    data: dict[str, Any] | None = None
    if key is not None:
        data = {
            "name": key.name,
            "team_id": "" if key.team_id is None else str(key.team_id),
            "scopes": key.scope_list,
            "expiry": "keep",
        }
    form = KeyForm(data=data)
    form.team_id.choices = team_choices(teams)
    form.scopes.choices = [SelectChoice(s.name, s.name) for s in services().catalog.scopes]
    if key is not None:
        form.expiry.choices = [SelectChoice("keep", "Keep as it is"), *EXPIRY_CHOICES]
    return form


def _render(
    *, dialog: str | None = None, target: ApiKey | None = None, status: int = 200, **forms: Any
) -> Page:
    """The key list (filtered, one page), with at most one dialog open."""
    org_id = signed_in().org_id
    query = list_query(STATUSES)
    items, cursor = api_keys.list_page(
        db.session,
        org_id,
        status=query.status,
        team_id=query.team_id,
        limit=query.limit,
        cursor=query.cursor,
    )
    teams = all_teams(org_id)
    if dialog is None:
        forms["create_form"] = _key_form(teams)
    html = render_template(
        "console/api_keys.html",
        keys=items,
        status_of=api_keys.status_of,
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


def _get(key_id: int) -> ApiKey:
    return api_keys.get(db.session, signed_in().org_id, key_id)


@bp.get(BASE, endpoint="api_keys")
@page(MANAGERS, api_access=True)
def list_keys() -> Page:
    return _render()


@bp.get(f"{BASE}/new")
@page(MANAGERS, api_access=True)
def new_key() -> Page:
    return _render(dialog="create", create_form=_key_form(all_teams(signed_in().org_id)))


@bp.post(BASE)
@page(MANAGERS, api_access=True)
def create_key() -> Page | Response:
    user = signed_in()
    form = _key_form(all_teams(user.org_id))
    if form.validate_on_submit():
        try:
            result = api_keys.create(
                db.session,
                services().core,
                org_id=user.org_id,
                actor=actor(),
                created_by=user.id,
                name=form.name.data,
                scopes=form.scopes.data,
                team_id=form.team_value(),
                expires_at=form.expires_at(),
            )
            db.session.commit()
        except ValidationFailed as error:
            db.session.rollback()
            show_errors(form, error)
        else:
            reveal.stash(reveal.one_time_key("API key created", result.key, result.plaintext))
            return redirect(url_for(LIST))
    return _render(dialog="create", create_form=form, status=422)


@bp.route(f"{BASE}/<id:key_id>/edit", methods=["GET", "POST"])
@page(MANAGERS, api_access=True)
def edit_key(key_id: int) -> Page | Response:
    key = _get(key_id)
    form = _key_form(all_teams(key.org_id), key)
    if form.validate_on_submit():
        changes: dict[str, Any] = {
            "name": form.name.data,
            "scopes": form.scopes.data,
            "team_id": form.team_value(),
        }
        if form.expiry.data != "keep":
            changes["expires_at"] = form.expires_at()
        try:
            api_keys.update(db.session, services().core, key, actor(), changes)
            db.session.commit()
        except ValidationFailed as error:
            db.session.rollback()
            show_errors(form, error)
        else:
            flash(f"Saved “{key.name}”. The next request with the key sees the changes.", "success")
            return redirect(url_for(LIST))
    status = 422 if form.is_submitted() else 200
    return _render(dialog="edit", target=key, edit_form=form, status=status)


@bp.route(f"{BASE}/<id:key_id>/rotate", methods=["GET", "POST"])
@page(MANAGERS, api_access=True)
def rotate_key(key_id: int) -> Page | Response:
    key = _get(key_id)

    def rotate(grace_period_seconds: int) -> reveal.OneTimeSecret:
        result = api_keys.rotate(db.session, services().core, key, actor(), grace_period_seconds)
        return reveal.one_time_key("API key rotated", key, result.plaintext)

    return actions.rotated(key, _render, LIST, rotate)


@bp.route(f"{BASE}/<id:key_id>/revoke", methods=["GET", "POST"])
@page(MANAGERS, api_access=True)
def revoke_key(key_id: int) -> Page | Response:
    key = _get(key_id)
    return actions.confirmed(
        "revoke",
        key,
        _render,
        LIST,
        act=lambda: api_keys.revoke(db.session, key, actor()),
        done=f"Revoked “{key.name}”: requests with it fail from now on.",
    )


@bp.post(f"{BASE}/<id:key_id>/reactivate")
@page(MANAGERS, api_access=True)
def reactivate_key(key_id: int) -> Response:
    key = _get(key_id)

    def done() -> tuple[str, str]:
        if api_keys.status_of(key) == "expired":
            return f"Reactivated “{key.name}”, but it has expired: edit its expiry.", "info"
        return f"Reactivated “{key.name}”: it works again.", "success"

    return actions.reactivated(LIST, lambda: api_keys.reactivate(db.session, key, actor()), done)


@bp.route(f"{BASE}/<id:key_id>/delete", methods=["GET", "POST"])
@page(MANAGERS, api_access=True)
def delete_key(key_id: int) -> Page | Response:
    key = _get(key_id)
    return actions.confirmed(
        "delete",
        key,
        _render,
        LIST,
        act=lambda: api_keys.delete(db.session, key, actor()),
        done=f"Deleted “{key.name}”. Its audit events remain in the audit log.",
    )
