"""The queries behind the Authlib hooks: clients by ID, token state, revoked token ids.

Narrow and indexed: every lookup here is by a unique column, so its cost does not grow with
the number of apps, keys or revoked tokens stored.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from keys.access_tokens import AccessTokenClaims
from keys.base import DbSession
from keys.models import OAuthApp, Org, ResourceServer, RevokedToken


def active_app(session: DbSession, client_id: str) -> OAuthApp | None:
    """The app with this client ID unless it is revoked (a deleted one has no row)."""
    return session.scalar(
        select(OAuthApp).where(OAuthApp.client_id == client_id, OAuthApp.revoked_at.is_(None))
    )


def active_resource_server(session: DbSession, client_id: str) -> ResourceServer | None:
    return session.scalar(
        select(ResourceServer).where(
            ResourceServer.client_id == client_id, ResourceServer.revoked_at.is_(None)
        )
    )


def audiences(session: DbSession) -> set[str]:
    return set(session.scalars(select(ResourceServer.audience)))


@dataclass(frozen=True, slots=True)
class TokenState:
    live: bool
    name: str | None = None
    key_prefix: str | None = None


def token_state(session: DbSession, claims: AccessTokenClaims) -> TokenState:
    """Whether the state behind a genuine, unexpired token still allows it.

    Its app exists, is not revoked, was not revoked after the token was issued, belongs to
    the token's org, whose plan includes API access; and the token's jti is not revoked.
    """
    row = session.execute(
        select(
            OAuthApp.name,
            OAuthApp.secret_prefix,
            OAuthApp.revoked_at,
            OAuthApp.tokens_valid_after,
            OAuthApp.org_id,
            Org.api_access,
            Org.tokens_valid_after,
        )
        .join(Org, Org.id == OAuthApp.org_id)
        .where(OAuthApp.client_id == claims.client_id)
    ).one_or_none()
    if row is None:
        return TokenState(live=False)
    name, key_prefix, revoked_at, valid_after, org_id, api_access, org_valid_after = row
    live = (
        revoked_at is None
        and claims.iat >= max(valid_after, org_valid_after)
        and org_id == claims.org_id
        and api_access
        and session.get(RevokedToken, claims.jti) is None
    )
    return TokenState(live=bool(live), name=name, key_prefix=key_prefix)


def revoke_jti(session: DbSession, jti: str, exp: int) -> None:
    """Record a revoked token id until its expiry, and forget the ones already expired."""
    now = int(time.time())
    session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
    if session.get(RevokedToken, jti) is None:
        session.add(RevokedToken(jti=jti, expires_at=exp))
    try:
        session.commit()
    except IntegrityError:  # revoked twice at the same moment: it is revoked either way
        session.rollback()
