"""Who is calling the management API, and may they?

A caller is a member, authenticated by a session token (``Authorization: Bearer lkst_…``).
Guards name the roles an endpoint admits:

* ``public``: no one needs to be signed in;
* ``session``: any member; ``manager``: admins and developers; ``admin``: org admins;
* ``platform``: platform admins (the deployment's operators).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import g, request

from keys import directory
from keys.audit import Actor
from keys.errors import DomainError, Forbidden, UpgradeRequired
from keys.models import ApiSession, User
from oauth_server.extensions import db
from oauth_server.services import services


class NotAuthenticated(DomainError):
    def __init__(self, message: str) -> None:
        super().__init__(
            message=message, code="not-authenticated", status=401, title="Unauthorized"
        )


@dataclass(frozen=True, slots=True)
class Principal:
    user: User
    session: ApiSession | None

    @property
    def org_id(self) -> int:
        return self.user.org_id

    @property
    def actor(self) -> Actor:
        return Actor(
            type="user",
            id=str(self.user.id),
            label=self.user.email,
            ip=request.remote_addr,
            user_agent=request.user_agent.string or None,
        )


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def current() -> Principal:
    """The authenticated caller (cached for the request), or 401."""
    principal: Principal | None = g.get("principal")
    if principal is not None:
        return principal
    token = _bearer()
    if token is None:
        raise NotAuthenticated(
            "Sign in first: POST /api/sessions with email and password, then send "
            "'Authorization: Bearer <token>'."
        )
    found = directory.session_user(db.session, services().core, token)
    if found is None:
        raise NotAuthenticated(
            "The session token is unknown, expired or signed out; sign in again."
        )
    principal = Principal(user=found[1], session=found[0])
    g.principal = principal
    return principal


_ROLES = {
    "session": ("admin", "developer", "member"),
    "manager": ("admin", "developer"),
    "admin": ("admin",),
}


def guard(access: str) -> None:
    if access == "public":
        return
    principal = current()
    user = principal.user
    if access == "platform":
        if not user.is_platform_admin:
            raise Forbidden("Only platform admins may do this.")
        return
    if user.role not in _ROLES[access]:
        needed = " or ".join(_ROLES[access])
        raise Forbidden(f"Your role ({user.role}) may not do this; it needs {needed}.")


def require_api_access() -> None:
    """Plan gating: credential management answers 403 "Upgrade required" when the org's
    plan lacks API access."""
    if not current().user.org.api_access:
        raise UpgradeRequired()
