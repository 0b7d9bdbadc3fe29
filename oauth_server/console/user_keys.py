"""The User Keys tab: legacy personal keys, imported from the old system, retired here.

Everyone sees it; admins see every key of the org, everyone else only their own. Revoking is
for good (user keys are not issued any more), so a key used in the last 30 days gets a
warning that its integration will break, and the offer to replace it with an API key first
(to those who may create one).
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from keys import limits, user_keys
from keys.clock import now_ms
from keys.errors import ValidationFailed
from keys.limits import ALL
from keys.models import UserKey
from oauth_server.console import actions, bp, reveal
from oauth_server.console.forms import ReplaceForm, show_errors
from oauth_server.console.guards import EVERYONE, MANAGERS, actor, page, signed_in
from oauth_server.console.listing import all_teams, list_query, pages
from oauth_server.extensions import db
from oauth_server.services import services

LIST = "console.user_keys"
STATUSES = (ALL, *limits.STATUSES)
BASE = "/settings/api-access/user-keys"
RECENT_MS = 30 * 24 * 3600 * 1000

Page = str | tuple[str, int]


def _get(key_id: int) -> UserKey:
    user = signed_in()
    return user_keys.get(db.session, user.org_id, key_id, owner_id=user_keys.visible_owner(user))


def recently_used(key: UserKey) -> bool:
    return key.last_used_at is not None and key.last_used_at >= now_ms() - RECENT_MS


def _render(
    *, dialog: str | None = None, target: UserKey | None = None, status: int = 200, **forms: Any
) -> Page:
    user = signed_in()
    owner_id = user_keys.visible_owner(user)
    query = list_query(STATUSES)
    items, cursor = user_keys.list_page(
        db.session,
        user.org_id,
        owner_id=owner_id,
        status=query.status,
        team_id=query.team_id,
        limit=query.limit,
        cursor=query.cursor,
    )
    teams = all_teams(user.org_id)
    html = render_template(
        "console/user_keys.html",
        keys=items,
        own_only=owner_id is not None,
        query=query,
        pages=pages(LIST, cursor),
        teams=teams,
        team_names={t.id: t.name for t in teams},
        dialog=dialog,
        target=target,
        recently_used=recently_used,
        secret=reveal.pop() if dialog is None else None,
        **forms,
    )
    return (html, status) if status != 200 else html


@bp.get(BASE, endpoint="user_keys")
@page(EVERYONE, api_access=True)
def list_user_keys() -> Page:
    return _render()


@bp.route(f"{BASE}/<id:key_id>/revoke", methods=["GET", "POST"])
@page(EVERYONE, api_access=True)
def revoke_user_key(key_id: int) -> Page | Response:
    key = _get(key_id)
    return actions.confirmed(
        "revoke",
        key,
        _render,
        LIST,
        act=lambda: user_keys.revoke(db.session, key, actor()),
        done=f"Revoked “{key.name}” for good: requests with it fail from now on.",
    )


@bp.route(f"{BASE}/<id:key_id>/replace", methods=["GET", "POST"])
@page(MANAGERS, api_access=True)
def replace_user_key(key_id: int) -> Page | Response:
    key = _get(key_id)
    form = ReplaceForm(data={"name": f"Replaces {key.name}"[:100]})
    if form.validate_on_submit():
        try:
            result = user_keys.replace(
                db.session,
                services().core,
                key,
                actor(),
                signed_in().id,
                name=form.name.data,
            )
            db.session.commit()
        except ValidationFailed as error:
            db.session.rollback()
            show_errors(form, error)
        else:
            reveal.stash(reveal.one_time_key("API key created", result.key, result.plaintext))
            flash(
                f"Created API key “{result.key.name}” with the permissions and team of "
                f"“{key.name}”. Put it in place, then revoke the user key.",
                "success",
            )
            return redirect(url_for(LIST))
    status = 422 if form.is_submitted() else 200
    return _render(dialog="replace", target=key, replace_form=form, status=status)
