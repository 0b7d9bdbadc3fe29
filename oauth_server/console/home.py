"""``/`` and ``/settings/api-access``: send each member to the first tab their role opens."""

from __future__ import annotations

from flask import redirect, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from oauth_server.console import bp
from oauth_server.console.guards import EVERYONE, MANAGERS, page, signed_in


@bp.get("/")
def index() -> Response:
    if current_user.is_authenticated:
        return redirect(url_for("console.api_access"))
    return redirect(url_for("console.login"))


@bp.get("/settings/api-access")
@page(EVERYONE, api_access=True)
def api_access() -> Response:
    """Admins and developers start at API keys; members at their own user keys."""
    if signed_in().role in MANAGERS:
        return redirect(url_for("console.api_keys"))
    return redirect(url_for("console.user_keys"))
