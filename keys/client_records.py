"""Apps and resource servers as OAuth clients: the records that client authentication, the
grant and token state read, by client ID.

Narrow and indexed: every lookup here is by a unique column and reads only the columns the
protocol needs (no ORM entities on the hot path), so its cost does not grow with the number
of apps, keys or revoked tokens stored. Every read goes through the request's
:class:`~keys.state_cache.View`, so a process answers from memory until any credential state
changes anywhere (see :mod:`keys.state_cache` for why that keeps revocation immediate).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select

from keys import lookups
from keys.base import DbSession
from keys.models import OAuthApp, Org, ResourceServer
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

_APP_BY_CLIENT_ID = (
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
    .where(OAuthApp.client_id == bindparam("client_id"))
)
_RESOURCE_SERVER_BY_CLIENT_ID = select(
    *(getattr(ResourceServer, c) for c in _CLIENT_COLUMNS),
    ResourceServer.revoked_at,
    ResourceServer.audience,
).where(ResourceServer.client_id == bindparam("client_id"))


def app_record(view: View, session: DbSession, client_id: str) -> AppRecord | None:
    """The app with this client ID, revoked or not (a deleted one has no row)."""

    def load() -> AppRecord | None:
        row = lookups.one(session, _APP_BY_CLIENT_ID, client_id=client_id)
        return AppRecord(**row._asdict()) if row else None

    return view.get(("app", client_id), load)


def resource_server_record(
    view: View, session: DbSession, client_id: str
) -> ResourceServerRecord | None:
    def load() -> ResourceServerRecord | None:
        row = lookups.one(session, _RESOURCE_SERVER_BY_CLIENT_ID, client_id=client_id)
        return ResourceServerRecord(**row._asdict()) if row else None

    return view.get(("resource_server", client_id), load)


def audiences(view: View, session: DbSession) -> frozenset[str]:
    return view.get(
        ("audiences",), lambda: frozenset(session.scalars(select(ResourceServer.audience)))
    )
