"""``/docs``: the management API, laid out from ``/openapi.json``, and its "Generate test
token".

The page is public, like ``/openapi.json``: it holds no data. Signed out it shows the API
only; admins and developers of an org with API access also get "Generate test token", a
temporary API key made by :func:`keys.api_keys.create_temporary` (named "Docs playground
(temp)", the catalog's read scopes, one hour) and shown once, like any new key.
"""

from __future__ import annotations

from flask import current_app, redirect, render_template, url_for
from werkzeug.wrappers import Response

from keys import api_keys
from oauth_server.console import bp, reveal
from oauth_server.console.forms import ConfirmForm
from oauth_server.console.guards import MANAGERS, actor, page, signed_in
from oauth_server.extensions import db
from oauth_server.services import services


def _render(secret: reveal.OneTimeSecret | None = None) -> str:
    return render_template(
        "console/docs.html", issuer=current_app.config["LATCHKEY_ISSUER"], secret=secret
    )


@bp.get("/docs")
def docs() -> str:
    return _render()


@bp.post("/docs/test-token")
@page(MANAGERS, api_access=True)
def create_test_token() -> Response:
    if ConfirmForm().validate_on_submit():
        user = signed_in()
        result = api_keys.create_temporary(
            db.session, services().core, org_id=user.org_id, actor=actor(), created_by=user.id
        )
        db.session.commit()
        reveal.stash(reveal.one_time_key("Test token", result.key, result.plaintext))
    return redirect(url_for("console.test_token"))


@bp.get("/docs/test-token")
@page(MANAGERS, api_access=True)
def test_token() -> Response | str:
    """The docs with the new test token over them, once; afterwards just the docs."""
    secret = reveal.pop()
    if secret is None:
        return redirect(url_for("console.docs"))
    return _render(secret)
