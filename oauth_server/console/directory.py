"""The Teams and Members pages: the org's structure, which credentials are scoped to.

Admins create and delete teams and add members; developers may read the teams (they pick
them when scoping credentials). Neither page is plan-gated: it manages no credential.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from keys import directory
from keys.errors import Conflict, ValidationFailed
from keys.models import Team
from oauth_server.console import bp
from oauth_server.console.forms import ConfirmForm, MemberForm, TeamForm, show_errors
from oauth_server.console.guards import ADMINS, MANAGERS, actor, page, signed_in
from oauth_server.console.listing import list_query, pages
from oauth_server.extensions import db

Page = str | tuple[str, int]


def _status(html: str, status: int) -> Page:
    return (html, status) if status != 200 else html


# -- teams ----------------------------------------------------------------------------------


def _render_teams(
    *,
    dialog: str | None = None,
    target: Team | None = None,
    status: int = 200,
    error: str | None = None,
    **forms: Any,
) -> Page:
    org_id = signed_in().org_id
    query = list_query(("all",))
    teams, cursor = directory.list_teams(db.session, org_id, limit=query.limit, cursor=query.cursor)
    forms.setdefault("team_form", TeamForm())
    html = render_template(
        "console/teams.html",
        teams=teams,
        used_by={t.id: directory.team_users(db.session, t.id) for t in teams},
        pages=pages("console.teams", cursor),
        dialog=dialog,
        target=target,
        error=error,
        **forms,
    )
    return _status(html, status)


@bp.get("/settings/teams")
@page(MANAGERS)
def teams() -> Page:
    return _render_teams()


@bp.post("/settings/teams")
@page(ADMINS)
def create_team() -> Page | Response:
    form = TeamForm()
    if form.validate_on_submit():
        try:
            team = directory.create_team(
                db.session, org_id=signed_in().org_id, actor=actor(), name=form.name.data
            )
            db.session.commit()
        except ValidationFailed as error:
            db.session.rollback()
            show_errors(form, error)
        else:
            flash(f"Created team “{team.name}”.", "success")
            return redirect(url_for("console.teams"))
    return _render_teams(team_form=form, status=422)


@bp.route("/settings/teams/<id:team_id>/delete", methods=["GET", "POST"])
@page(ADMINS)
def delete_team(team_id: int) -> Page | Response:
    team = directory.get_team(db.session, signed_in().org_id, team_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        # A team in use is refused before the admin confirms, not after.
        blocker = directory.deletion_blocker(db.session, team)
        return _render_teams(dialog="delete", target=team, confirm_form=form, error=blocker)
    name = team.name
    try:
        directory.delete_team(db.session, team, actor())
        db.session.commit()
    except Conflict as error:
        db.session.rollback()
        return _render_teams(
            dialog="delete", target=team, confirm_form=form, error=error.message, status=409
        )
    flash(f"Deleted team “{name}”.", "success")
    return redirect(url_for("console.teams"))


# -- members --------------------------------------------------------------------------------


def _render_members(*, dialog: str | None = None, status: int = 200, **forms: Any) -> Page:
    query = list_query(("all",))
    users, cursor = directory.list_users(
        db.session, signed_in().org_id, limit=query.limit, cursor=query.cursor
    )
    forms.setdefault("member_form", MemberForm())
    html = render_template(
        "console/members.html",
        users=users,
        pages=pages("console.members", cursor),
        dialog=dialog,
        **forms,
    )
    return _status(html, status)


@bp.get("/settings/members")
@page(ADMINS)
def members() -> Page:
    return _render_members()


@bp.get("/settings/members/new")
@page(ADMINS)
def new_member() -> Page:
    return _render_members(dialog="create")


@bp.post("/settings/members")
@page(ADMINS)
def create_member() -> Page | Response:
    form = MemberForm()
    if form.validate_on_submit():
        try:
            user = directory.create_user(
                db.session,
                actor=actor(),
                org_id=signed_in().org_id,
                email=form.email.data,
                name=form.name.data,
                role=form.role.data,
                password=form.password.data or None,
                name_the_org=signed_in().is_platform_admin,
            )
            db.session.commit()
        except ValidationFailed as error:
            db.session.rollback()
            show_errors(form, error)
        else:
            can = "can sign in now" if user.password_hash else "cannot sign in (no password set)"
            flash(f"Added {user.email} as {user.role}; they {can}.", "success")
            return redirect(url_for("console.members"))
    return _render_members(dialog="create", member_form=form, status=422)
