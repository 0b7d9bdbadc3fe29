"""The queries behind the Authlib hooks: clients by ID, token state, revoked token ids.

Narrow and indexed: every lookup here is by a unique column and reads only the columns the
protocol needs (no ORM entities on the hot path), so its cost does not grow with the number
of apps, keys or revoked tokens stored. Every read goes through the request's
:class:`~keys.state_cache.View`, so a process answers from memory until any credential state
changes anywhere (see :mod:`keys.state_cache` for why that keeps revocation immediate).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from keys import state_cache
from keys.access_tokens import AccessTokenClaims
from keys.base import DbSession
from keys.models import OAuthApp, Org, ResourceServer, RevokedToken
from keys.state_cache import View


@dataclass(frozen=True, slots=True)
class ClientRecord:
    """What client authentication needs of an app or a resource server."""

    client_id: str
    secret_hash: str
    previous_secret_hash: str | None
    previous_secret_expires_at: int | None
    revoked_at: int | None


@dataclass(frozen=True, slots=True)
class AppRecord(ClientRecord):
    """An app with its org's state: enough to authenticate it, issue its tokens, and decide
    whether a token it was issued is still live."""

    org_id: int
    team_id: int | None
    name: str
    secret_prefix: str
    scopes: str
    token_ttl_seconds: int
    token_format: str
    jwt_signing_alg: str
    tokens_valid_after: int
    api_access: bool
    org_tokens_valid_after: int

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()


@dataclass(frozen=True, slots=True)
class ResourceServerRecord(ClientRecord):
    audience: str


_CLIENT_COLUMNS = ("client_id", "secret_hash", "previous_secret_hash", "previous_secret_expires_at")


def app_record(view: View, session: DbSession, client_id: str) -> AppRecord | None:
    """The app with this client ID, revoked or not (a deleted one has no row)."""

    def load() -> AppRecord | None:
        row = session.execute(
            select(
                *(getattr(OAuthApp, c) for c in _CLIENT_COLUMNS),
                OAuthApp.revoked_at,
                OAuthApp.org_id,
                OAuthApp.team_id,
                OAuthApp.name,
                OAuthApp.secret_prefix,
                OAuthApp.scopes,
                OAuthApp.token_ttl_seconds,
                OAuthApp.token_format,
                OAuthApp.jwt_signing_alg,
                OAuthApp.tokens_valid_after,
                Org.api_access,
                Org.tokens_valid_after.label("org_tokens_valid_after"),
            )
            .join(Org, Org.id == OAuthApp.org_id)
            .where(OAuthApp.client_id == client_id)
        ).one_or_none()
        return AppRecord(**row._asdict()) if row else None

    return view.get(("app", client_id), load)


def resource_server_record(
    view: View, session: DbSession, client_id: str
) -> ResourceServerRecord | None:
    def load() -> ResourceServerRecord | None:
        row = session.execute(
            select(
                *(getattr(ResourceServer, c) for c in _CLIENT_COLUMNS),
                ResourceServer.revoked_at,
                ResourceServer.audience,
            ).where(ResourceServer.client_id == client_id)
        ).one_or_none()
        return ResourceServerRecord(**row._asdict()) if row else None

    return view.get(("resource_server", client_id), load)


def audiences(view: View, session: DbSession) -> frozenset[str]:
    return view.get(
        ("audiences",), lambda: frozenset(session.scalars(select(ResourceServer.audience)))
    )


@dataclass(frozen=True, slots=True)
class TokenState:
    live: bool
    name: str | None = None
    key_prefix: str | None = None
    #: The token's scopes that its app still holds.
    scope: str = ""


def token_state(view: View, session: DbSession, claims: AccessTokenClaims) -> TokenState:
    """Whether the state behind a genuine, unexpired token still allows it, and what for.

    Its app exists, is not revoked, was not revoked after the token was issued, belongs to
    the token's org, whose plan includes API access; and the token's jti is not revoked.
    An edit to the app applies to its live tokens at once, as an edit to an API key does:
    scopes taken from the app leave the token's scope; a token for a team the app is no
    longer bound to is not live. (A JWT's own claims cannot change: resource servers that
    verify JWTs themselves see the edit when the token is next renewed.)
    """
    app = app_record(view, session, claims.client_id)
    if app is None:
        return TokenState(live=False)
    held = app.scope_list
    scope = " ".join(s for s in claims.scope.split() if s in held)
    live = (
        app.revoked_at is None
        and claims.iat >= max(app.tokens_valid_after, app.org_tokens_valid_after)
        and app.org_id == claims.org_id
        and app.api_access
        and bool(scope)
        and (app.team_id is None or app.team_id == claims.team_id)
        and not jti_revoked(view, session, claims.jti)
    )
    return TokenState(live=live, name=app.name, key_prefix=app.secret_prefix, scope=scope)


def jti_revoked(view: View, session: DbSession, jti: str) -> bool:
    return view.get(("jti", jti), lambda: session.get(RevokedToken, jti) is not None)


def revoke_jti(session: DbSession, jti: str, exp: int) -> None:
    """Record a revoked token id until its expiry, and forget the ones already expired."""
    now = int(time.time())
    session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
    if session.get(RevokedToken, jti) is None:
        session.add(RevokedToken(jti=jti, expires_at=exp))
    else:
        state_cache.announce(session)  # recorded by a request whose bump may not have landed
    try:
        session.commit()
    except IntegrityError:  # revoked twice at the same moment: it is revoked either way
        session.rollback()
        state_cache.announce(session)
