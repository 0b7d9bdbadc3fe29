"""Who is calling the management API, and may they?

A caller is a member, authenticated by a session token (``Authorization: Bearer lkst_…``) or
by the console's cookie session, or an API key (``Authorization: Bearer lk_…``, a bare
``Authorization: lk_…``, or ``X-API-Key: lk_…``). Guards name the members an endpoint
admits:

* ``public``: no one needs to be signed in;
* ``session``: any member; ``manager``: admins and developers; ``admin``: org admins;
* ``platform``: platform admins (the deployment's operators).

API keys are admitted only where an endpoint names the scopes that admit them
(``keys:write`` or ``keys:delete`` on ``/api/keys``), and only within their own reach
(:mod:`keys.delegation`).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g, request
from flask_login import current_user

from keys import sessions
from keys.audit import Actor
from keys.delegation import Delegation
from keys.errors import DomainError, Forbidden, UpgradeRequired
from keys.format import display_prefix
from keys.models import ApiSession, User
from keys.verification import KeyRejected, VerifiedKey, verify_api_key
from oauth_server.extensions import csrf, db
from oauth_server.request_log import note_credential
from oauth_server.services import services
from oauth_server.signin import user_actor

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class NotAuthenticated(DomainError):
    def __init__(self, message: str) -> None:
        super().__init__(
            message=message, code="not-authenticated", status=401, title="Unauthorized"
        )


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: a member (``member``, with the session that carries them, if any) or an
    API key (``key``)."""

    org_id: int
    member: User | None = None
    session: ApiSession | None = None
    key: VerifiedKey | None = None

    @property
    def user(self) -> User:
        """The member; endpoints that admit API keys must not ask for one."""
        if self.member is None:
            raise Forbidden("This needs a signed-in member, not an API key.")
        return self.member

    @property
    def user_id(self) -> int | None:
        return self.member.id if self.member else None

    @property
    def delegation(self) -> Delegation | None:
        """The acting key's reach, or None for members (who reach their whole org)."""
        if self.key is None:
            return None
        return Delegation(
            self.key.prefix, self.key.team_id, self.key.scope_set, self.key.expires_at
        )

    @property
    def display_prefix(self) -> str | None:
        """The credential as the request log names it: the key's or the session's prefix."""
        if self.key is not None:
            return self.key.prefix
        if self.session is not None:
            return display_prefix(services().core.prefixes.session_token, self.session.public_id)
        return None

    @property
    def actor(self) -> Actor:
        if self.key is not None:
            return Actor(
                type="api_key",
                id=self.key.id,
                label=self.key.prefix,
                ip=request.remote_addr,
                user_agent=request.user_agent.string or None,
            )
        return user_actor(self.user)


def presented_credential() -> str | None:
    """The credential of this request: ``X-API-Key``, or ``Authorization`` as ``Bearer <x>``
    or as the bare credential."""
    key = request.headers.get("X-API-Key", "").strip()
    if key:
        return key
    header = request.headers.get("Authorization", "").strip()
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if header and not value:
        return header
    return None


_SIGN_IN_FIRST = (
    "Sign in first: POST /api/sessions with email and password, then send "
    "'Authorization: Bearer <token>'; or send an API key."
)


def _authenticate() -> Principal:
    credential = presented_credential()
    core = services().core
    if credential is None:
        return _console_member()
    kind = core.prefixes.kind_of(credential)
    if kind == "session_token":
        found = sessions.session_user(db.session, core, credential)
        if found is None:
            raise NotAuthenticated(
                "The session token is unknown, expired or signed out; sign in again."
            )
        return Principal(org_id=found[1].org_id, member=found[1], session=found[0])
    if kind != "api_key":
        raise NotAuthenticated("That is neither a session token nor an API key. " + _SIGN_IN_FIRST)
    try:
        key = verify_api_key(db.session, core, credential)
    except KeyRejected as rejected:
        if rejected.reason == "plan":
            raise UpgradeRequired(rejected.message + " Upgrade to use it.") from None
        raise NotAuthenticated(rejected.message) from None
    services().usage.hit("api_key", key.id, request.remote_addr)
    return Principal(org_id=key.org_id, key=key)


def _console_member() -> Principal:
    """The console's signed-in member. Their browser sends the cookie on its own, so a
    state-changing call must also carry the CSRF token (``X-CSRFToken``)."""
    if getattr(current_app, "login_manager", None) is None or not current_user.is_authenticated:
        raise NotAuthenticated(_SIGN_IN_FIRST)
    if request.method not in _SAFE_METHODS:
        csrf.protect()
    # oauth_server.console.auth.ConsoleUser: the member and their console session's row
    member: User = current_user.user
    return Principal(org_id=member.org_id, member=member, session=current_user.api_session)


def current() -> Principal:
    """The authenticated caller (cached for the request), or 401."""
    principal: Principal | None = g.get("principal")
    if principal is None:
        principal = _authenticate()
        g.principal = principal
        note_credential(request.environ, principal.display_prefix)
    return principal


_ROLES = {
    "session": ("admin", "developer", "member"),
    "manager": ("admin", "developer"),
    "admin": ("admin",),
}


def guard(access: str, key_scopes: tuple[str, ...] = ()) -> None:
    """Admit the caller or raise 401/403. ``key_scopes``: any of these admits an API key."""
    if access == "public":
        return
    principal = current()
    if principal.key is not None:
        if not key_scopes:
            raise Forbidden(
                f"API key {principal.key.prefix}… cannot use this endpoint: sign in "
                "(POST /api/sessions) and use the session token."
            )
        if not any(scope in principal.key.scope_set for scope in key_scopes):
            raise Forbidden(
                f"API key {principal.key.prefix}… may not do this: it needs a session "
                f"or an API key with {' or '.join(key_scopes)}."
            )
        return
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
    plan lacks API access. (An API key of such an org does not authenticate at all.)"""
    principal = current()
    if principal.member is not None and not principal.member.org.api_access:
        raise UpgradeRequired()
