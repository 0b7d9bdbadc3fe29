"""Whether a genuine, unexpired access token is still live: the state behind it (its app,
its org, its revoked token id) read at every introspection, beside :mod:`keys.verification`
for API keys and user keys.

Access tokens are self-contained (:mod:`keys.access_tokens`): no row per token. What can end
one before its ``exp`` is state that already exists (the app's and org's) and one row per
token revoked through RFC 7009, kept until that token would have expired anyway. Every read
goes through the request's :class:`~keys.state_cache.View`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import IntegrityError

from keys import lookups, retention, state_cache
from keys.access_tokens import AccessTokenClaims
from keys.base import DbSession
from keys.client_records import app_record
from keys.models import RevokedToken
from keys.state_cache import View


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


_REVOKED_JTI = select(RevokedToken.jti).where(RevokedToken.jti == bindparam("jti"))


def jti_revoked(view: View, session: DbSession, jti: str) -> bool:
    """Whether the token id was revoked (RFC 7009). Every token has its own, so with many
    tokens in use this is a read the cache rarely spares: a prebuilt one (:mod:`keys.lookups`)."""
    return view.get(("jti", jti), lambda: lookups.one(session, _REVOKED_JTI, jti=jti) is not None)


def revoke_jti(session: DbSession, jti: str, exp: int) -> None:
    """Record a revoked token id until its expiry, and forget the ones already expired."""
    session.execute(delete(RevokedToken).where(retention.revocation_expired(int(time.time()))))
    if session.get(RevokedToken, jti) is None:
        session.add(RevokedToken(jti=jti, expires_at=exp))
    else:
        state_cache.announce(session)  # recorded by a request whose bump may not have landed
    try:
        session.commit()
    except IntegrityError:  # revoked twice at the same moment: it is revoked either way
        session.rollback()
        state_cache.announce(session)
