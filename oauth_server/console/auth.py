"""Signing in to the console: Flask-Login wiring, ``/login`` and ``/logout``.

The login form shares its locks with ``POST /api/sessions`` (:mod:`oauth_server.signin`):
ten failed attempts for an account in 15 minutes lock it, and so do too many failures from
one address, whichever door they came through.

A console sign-in is a row in ``api_sessions``, like an API session: Flask's cookie is only
signed, so on its own it would stay good until it expires, even after signing out. The
cookie carries the member's id and the row's id (it cannot be forged, so the id needs no
secret beside it); every request checks that the row is still open, and signing out closes
it, so a copied cookie dies with the sign-out.
"""

from __future__ import annotations

import math
from urllib.parse import urlsplit

from flask import Flask, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import UserMixin, current_user, login_user, logout_user
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect
from werkzeug.wrappers import Response

from keys import sessions
from keys.format import display_prefix
from keys.models import ApiSession, User
from keys.validation import normalized_email
from oauth_server import signin
from oauth_server.console import bp
from oauth_server.console.forms import LoginForm, SignOutForm
from oauth_server.console.guards import signed_in
from oauth_server.extensions import db, login_manager
from oauth_server.request_log import note_credential
from oauth_server.services import services

HOME = "console.api_access"
VIA_CONSOLE = {"via": "console"}


class ConsoleUser(UserMixin):  # type: ignore[misc]
    """The signed-in member as Flask-Login sees it, with the session row that keeps them
    signed in; the model in ``keys/`` stays free of Flask."""

    def __init__(self, user: User, api_session: ApiSession) -> None:
        self.user = user
        self.api_session = api_session

    def get_id(self) -> str:
        return f"{self.user.id}:{self.api_session.id}"


def load_user(user_id: str) -> ConsoleUser | None:
    """Flask-Login's user loader: an open session of a member who may still sign in."""
    member, _, session_id = user_id.partition(":")
    if not (member.isdigit() and session_id.isdigit()):
        return None  # e.g. a cookie from before sessions had rows: sign in again
    row = sessions.live_session(db.session, int(session_id), int(member))
    if row is None or row.user.password_hash is None:
        return None
    prefix = display_prefix(services().core.prefixes.session_token, row.public_id)
    note_credential(request.environ, prefix)
    return ConsoleUser(row.user, row)


def init_login(app: Flask) -> None:
    """Bind Flask-Login to the app. "Strong" protection drops the session when it shows up
    from another address or browser than the one that signed in."""
    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    login_manager.login_view = "console.login"
    login_manager.login_message = "Sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"


def _safe_next(target: str | None) -> str:
    """``next`` if it is a console page of this site, else the console's home.

    Browsers read ``/\\host``, ``/\t/host`` and the like as ``//host``, another site; rather
    than list such tricks, only a plain path that the console itself routes is accepted.
    """
    home = url_for(HOME)
    if not target or "\\" in target or any(c.isspace() or not c.isprintable() for c in target):
        return home
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or target.startswith("//"):
        return home
    try:
        endpoint, _ = current_app.url_map.bind("").match(parts.path, method="GET")
    except (HTTPException, RequestRedirect):
        return home
    if not str(endpoint).startswith("console."):
        return home
    return target


def _minutes(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int, dict[str, str]]:
    if current_user.is_authenticated:
        return redirect(url_for(HOME))
    form = LoginForm()
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render_template("console/login.html", form=form), status, {}
    account = normalized_email(form.email.data or "")
    lock = signin.lock(account)
    if lock is not None:
        whose = "for this account" if lock.reason == "account" else "from your network address"
        form.form_errors.append(
            f"Too many failed sign-ins {whose}. Try again in {_minutes(lock.retry_after)}."
        )
        return (
            render_template("console/login.html", form=form),
            429,
            {"Retry-After": str(lock.retry_after)},
        )
    user = signin.check_password(account, form.password.data or "")
    if user is None:
        form.form_errors.append("Wrong email or password.")
        return render_template("console/login.html", form=form), 422, {}
    target = _safe_next(request.args.get("next"))
    # The row's token is not kept anywhere: the signed cookie names the row instead.
    opened = sessions.open_session(
        db.session,
        services().core,
        user,
        signin.user_actor(user),
        current_app.config["LATCHKEY_SESSION_TTL_SECONDS"],
        details=VIA_CONSOLE,
    )
    db.session.commit()
    session.clear()  # nothing from before the sign-in carries over (old CSRF token, flashes)
    login_user(ConsoleUser(user, opened.session))
    session.permanent = True  # the cookie expires with the row: LATCHKEY_SESSION_TTL_SECONDS
    return redirect(target)


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> Response | str:
    """POST signs out (a form with a CSRF token, so no other site can sign anyone out);
    GET only offers the button."""
    if not current_user.is_authenticated:
        return redirect(url_for("console.login"))
    form = SignOutForm()
    if not form.validate_on_submit():
        return render_template("console/logout.html", form=form)
    sessions.close_session(
        db.session, current_user.api_session, signin.user_actor(signed_in()), details=VIA_CONSOLE
    )
    db.session.commit()
    logout_user()
    session.clear()
    flash("You are signed out.", "success")
    return redirect(url_for("console.login"))
