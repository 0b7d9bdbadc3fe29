"""Signing in to the console: Flask-Login wiring, ``/login`` and ``/logout``.

The login form shares its lock with ``POST /api/sessions`` (:mod:`oauth_server.signin`):
ten failed attempts for an account in 15 minutes lock it, whichever door they came through.
"""

from __future__ import annotations

import math

from flask import Flask, flash, redirect, render_template, request, session, url_for
from flask_login import UserMixin, current_user, login_user, logout_user
from werkzeug.wrappers import Response

from keys.audit import Target, record
from keys.models import User
from oauth_server import signin
from oauth_server.console import bp
from oauth_server.console.forms import LoginForm, SignOutForm
from oauth_server.console.guards import signed_in
from oauth_server.extensions import db, login_manager

HOME = "console.api_access"


class ConsoleUser(UserMixin):  # type: ignore[misc]
    """The signed-in member as Flask-Login sees it; the model in ``keys/`` stays free of
    Flask."""

    def __init__(self, user: User) -> None:
        self.user = user

    def get_id(self) -> str:
        return str(self.user.id)


def load_user(user_id: str) -> ConsoleUser | None:
    """Flask-Login's user loader: a member who still exists and may still sign in."""
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.password_hash is None:
        return None
    return ConsoleUser(user)


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
    """Only a path on this site: ``next`` must never send a member to another host."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for(HOME)


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
    account = (form.email.data or "").strip().lower()
    wait = signin.locked_for(account)
    if wait:
        form.form_errors.append(
            f"Too many failed sign-ins for this account. Try again in {_minutes(wait)}."
        )
        return (
            render_template("console/login.html", form=form),
            429,
            {"Retry-After": str(wait)},
        )
    user = signin.check_password(account, form.password.data or "")
    if user is None:
        form.form_errors.append("Wrong email or password.")
        return render_template("console/login.html", form=form), 422, {}
    target = _safe_next(request.args.get("next"))
    session.clear()  # nothing from before the sign-in carries over (old CSRF token, flashes)
    login_user(ConsoleUser(user))
    session.permanent = True  # expires after LATCHKEY_SESSION_TTL_SECONDS
    record(
        db.session,
        org_id=user.org_id,
        verb="created",
        actor=signin.user_actor(user),
        target=Target("session", None, user.email),
        details={"via": "console"},
    )
    db.session.commit()
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
    user = signed_in()
    record(
        db.session,
        org_id=user.org_id,
        verb="deleted",
        actor=signin.user_actor(user),
        target=Target("session", None, user.email),
        details={"via": "console"},
    )
    db.session.commit()
    logout_user()
    session.clear()
    flash("You are signed out.", "success")
    return redirect(url_for("console.login"))
