"""Who may open which console page: roles per DESIGN.md, and plan gating.

* admin: everything in the org;
* developer: API keys, OAuth apps, the audit log (and reading the teams);
* member: only their own user keys.

Pages under ``/settings/api-access`` are credential management: when the org's plan lacks
API access they render "Upgrade required" (403) in place of the page.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import abort, render_template
from flask_login import current_user, login_required

from keys.audit import Actor
from keys.models import User
from oauth_server import signin

ADMINS = frozenset({"admin"})
MANAGERS = frozenset({"admin", "developer"})
EVERYONE = frozenset({"admin", "developer", "member"})


def signed_in() -> User:
    """The signed-in member (the view is behind ``login_required``)."""
    user: User = current_user.user
    return user


def actor() -> Actor:
    """The signed-in member as the audit log records them."""
    return signin.user_actor(signed_in())


def may(roles: frozenset[str]) -> bool:
    """Whether the signed-in member's role is one of ``roles`` (templates hide links)."""
    return bool(current_user.is_authenticated) and signed_in().role in roles


def page(
    roles: frozenset[str], *, api_access: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A console page for ``roles``; with ``api_access``, also plan-gated."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = signed_in()
            if api_access and not user.org.api_access:
                return render_template("console/upgrade.html"), 403
            if user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        guarded: Callable[..., Any] = login_required(wrapper)
        return guarded

    return decorate
