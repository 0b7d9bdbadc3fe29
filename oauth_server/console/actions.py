"""The confirm-then-act glue that the credential tabs share (API Keys, OAuth Apps, and the
User Keys' revoke).

Each confirmation has its own URL: a GET (or a POST without a valid form) renders the list
with the confirmation dialog open, saying what breaks; a valid POST does the change, commits
once, and returns to the list with a message, or with the new secret for the next page view.
What differs per tab (the service call, the words) comes in as arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from flask import flash, redirect, url_for
from werkzeug.wrappers import Response

from keys.errors import Conflict
from oauth_server.console import reveal
from oauth_server.console.forms import ConfirmForm, RotateForm
from oauth_server.extensions import db

Page = str | tuple[str, int]


class Render(Protocol):
    """A tab's list page with one dialog open."""

    def __call__(self, *, dialog: str | None = ..., target: Any = ..., **forms: Any) -> Page: ...


def confirmed(
    dialog: str,
    target: Any,
    render: Render,
    list_endpoint: str,
    act: Callable[[], object],
    done: str,
) -> Page | Response:
    """Revoke, delete and the like: ``act`` once the member has confirmed, then say ``done``."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render(dialog=dialog, target=target, confirm_form=form)
    act()
    db.session.commit()
    flash(done, "success")
    return redirect(url_for(list_endpoint))


def rotated(
    target: Any,
    render: Render,
    list_endpoint: str,
    rotate: Callable[[int], reveal.OneTimeSecret],
) -> Page | Response:
    """Rotate with the overlap the member chose; the new secret is shown on the list, once.
    A rotation that cannot happen now (``Conflict``) is said on the list instead."""
    form = RotateForm()
    if not form.validate_on_submit():
        return render(dialog="rotate", target=target, rotate_form=form)
    try:
        secret = rotate(int(form.grace_period_seconds.data))
        db.session.commit()
    except Conflict as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for(list_endpoint))
    reveal.stash(secret)
    return redirect(url_for(list_endpoint))


def reactivated(
    list_endpoint: str, act: Callable[[], object], done: Callable[[], tuple[str, str]]
) -> Response:
    """Reactivate from the list's own button (no dialog: it breaks nothing); ``done`` gives
    the message and its category once the change is made."""
    if ConfirmForm().validate_on_submit():
        act()
        db.session.commit()
        flash(*done())
    return redirect(url_for(list_endpoint))
