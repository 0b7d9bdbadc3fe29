"""The Docs page's "Generate test token": a temporary API key for trying the API.

The key is made by :func:`keys.api_keys.create_temporary` (named "Docs playground (temp)",
the catalog's read scopes, one hour) and shown once on the docs page, like any new key.
"""

from __future__ import annotations

from flask import current_app, redirect, render_template, url_for
from werkzeug.wrappers import Response

from keys import api_keys
from oauth_server.console import bp, reveal
from oauth_server.console.api_keys import one_time_key
from oauth_server.console.forms import ConfirmForm
from oauth_server.console.guards import MANAGERS, actor, page, signed_in
from oauth_server.extensions import db
from oauth_server.services import services


@bp.post("/docs/test-token")
@page(MANAGERS, api_access=True)
def create_test_token() -> Response:
    if ConfirmForm().validate_on_submit():
        user = signed_in()
        result = api_keys.create_temporary(
            db.session, services().core, org_id=user.org_id, actor=actor(), created_by=user.id
        )
        db.session.commit()
        reveal.stash(one_time_key("Test token", result.key, result.plaintext))
    return redirect(url_for("console.test_token"))


@bp.get("/docs/test-token")
@page(MANAGERS, api_access=True)
def test_token() -> Response | str:
    """The docs with the new test token over them, once; afterwards just the docs."""
    secret = reveal.pop()
    if secret is None:
        return redirect(url_for("docs"))
    return render_template("docs.html", issuer=current_app.config["LATCHKEY_ISSUER"], secret=secret)
