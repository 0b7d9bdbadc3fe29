"""OAuth apps: register, edit, rotate the secret, revoke, reactivate, delete.

Every operation adds its audit event to the caller's session; the caller commits once, so
the change and its record land together or not at all. Operations that create a secret
return it beside the record, once; it is never assigned to a model attribute.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from keys import client_secrets, state_cache
from keys import format as fmt
from keys.audit import Actor, Target, record, record_changes
from keys.base import DbSession
from keys.clock import fresh_second_after, now_ms
from keys.core import Core
from keys.errors import Conflict, ValidationFailed
from keys.limits import (
    DEFAULT_SIGNING_ALG,
    DEFAULT_TOKEN_TTL_SECONDS,
    MAX_TOKEN_TTL_SECONDS,
    MIN_TOKEN_TTL_SECONDS,
    SIGNING_ALGS,
)
from keys.models import OAuthApp
from keys.pagination import page
from keys.row_lock import hold_and_reload
from keys.validation import (
    check_grace_period,
    checked_name,
    of_org,
    scopes_from_catalog,
    team_of_org,
)


@dataclass(frozen=True, slots=True)
class AppWithSecret:
    app: OAuthApp
    client_secret: str


def _target(app: OAuthApp) -> Target:
    return Target(type="app", id=app.id, name=app.name, prefix=app.client_id)


def _check_ttl(ttl: int) -> None:
    if not MIN_TOKEN_TTL_SECONDS <= ttl <= MAX_TOKEN_TTL_SECONDS:
        raise ValidationFailed.one(
            "token_ttl_seconds",
            f"must be between {MIN_TOKEN_TTL_SECONDS} and {MAX_TOKEN_TTL_SECONDS} seconds",
        )


def _check_signing_alg(alg: str) -> None:
    if alg not in SIGNING_ALGS:
        raise ValidationFailed.one("jwt_signing_alg", f"must be one of {', '.join(SIGNING_ALGS)}")


def create(
    session: DbSession,
    core: Core,
    *,
    org_id: int,
    actor: Actor,
    created_by: int | None,
    name: str,
    scopes: list[str],
    team_id: int | None,
    token_ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS,
    token_format: str = "opaque",  # noqa: S107 - a format name, not a secret
    jwt_signing_alg: str = DEFAULT_SIGNING_ALG,
) -> AppWithSecret:
    name = checked_name(name)
    scope_string = scopes_from_catalog(scopes, core.scope_catalog)
    team_of_org(session, org_id, team_id)
    _check_ttl(token_ttl_seconds)
    _check_signing_alg(jwt_signing_alg)
    public_id = fmt.new_public_id()
    app = OAuthApp(
        org_id=org_id,
        team_id=team_id,
        name=name,
        client_id=fmt.display_prefix(core.prefixes.app_client_id, public_id),
        scopes=scope_string,
        token_ttl_seconds=token_ttl_seconds,
        token_format=token_format,
        jwt_signing_alg=jwt_signing_alg,
        created_by=created_by,
    )
    secret = client_secrets.issue(app, core.hasher, core.prefixes.client_secret)
    session.add(app)
    session.flush()
    record(
        session,
        org_id=org_id,
        verb="created",
        actor=actor,
        target=_target(app),
        details={
            "scopes": app.scope_list,
            "team_id": team_id,
            "token_format": token_format,
            "jwt_signing_alg": jwt_signing_alg,
        },
    )
    return AppWithSecret(app, secret)


def get(session: DbSession, org_id: int, app_id: int) -> OAuthApp:
    """An OAuth app of this org, or 404."""
    return of_org(session, OAuthApp, org_id, app_id, "OAuth app")


def list_page(
    session: DbSession,
    org_id: int,
    *,
    status: str = "all",
    team_id: int | None = None,
    limit: int,
    cursor: int | None,
) -> tuple[list[OAuthApp], int | None]:
    stmt = select(OAuthApp).where(OAuthApp.org_id == org_id)
    if status == "active":
        stmt = stmt.where(OAuthApp.revoked_at.is_(None))
    elif status == "revoked":
        stmt = stmt.where(OAuthApp.revoked_at.is_not(None))
    if team_id is not None:
        stmt = stmt.where(OAuthApp.team_id == team_id)
    return page(session, stmt, OAuthApp.id, limit, cursor)


def update(
    session: DbSession, core: Core, app: OAuthApp, actor: Actor, changes: dict[str, Any]
) -> OAuthApp:
    """Apply the fields present in ``changes``. Live tokens follow at once, as API keys do
    (:func:`keys.token_state.token_state`): a scope taken away leaves their scope, and
    binding the app to a team ends its tokens for other teams or all teams."""
    hold_and_reload(session, app, "OAuth app")
    before = {k: getattr(app, k) for k in changes}
    if "name" in changes:
        app.name = checked_name(changes["name"])
    if "scopes" in changes:
        app.scopes = scopes_from_catalog(changes["scopes"], core.scope_catalog)
    if "team_id" in changes:
        team_of_org(session, app.org_id, changes["team_id"])
        app.team_id = changes["team_id"]
    if "token_ttl_seconds" in changes:
        _check_ttl(changes["token_ttl_seconds"])
        app.token_ttl_seconds = changes["token_ttl_seconds"]
    if "jwt_signing_alg" in changes:
        _check_signing_alg(changes["jwt_signing_alg"])
    for simple in ("token_format", "jwt_signing_alg"):
        if simple in changes:
            setattr(app, simple, changes[simple])
    record_changes(
        session,
        org_id=app.org_id,
        actor=actor,
        target=_target(app),
        before=before,
        after={k: getattr(app, k) for k in changes},
    )
    return app


def rotate_secret(
    session: DbSession, core: Core, app: OAuthApp, actor: Actor, grace_period_seconds: int
) -> AppWithSecret:
    """A new client secret; the old one keeps working for ``grace_period_seconds``.

    It replaces the secret the caller read: 409 if another rotation replaced that one at the
    same moment (:func:`keys.client_secrets.hold_for_rotation`).
    """
    check_grace_period(grace_period_seconds)
    client_secrets.hold_for_rotation(session, app, "OAuth app", f"OAuth app {app.client_id}")
    if app.revoked_at is not None:
        raise Conflict(f"OAuth app {app.client_id} is revoked; reactivate it before rotating.")
    secret = client_secrets.rotate(
        app, core.hasher, core.prefixes.client_secret, grace_period_seconds
    )
    record(
        session,
        org_id=app.org_id,
        verb="rotated",
        actor=actor,
        target=_target(app),
        details={"grace_period_seconds": grace_period_seconds, "hint": app.secret_hint},
    )
    return AppWithSecret(app, secret)


def revoke(session: DbSession, app: OAuthApp, actor: Actor) -> OAuthApp:
    """Stop the app: its secret (and a rotation's previous one) and every token it holds
    stop working at once."""
    hold_and_reload(session, app, "OAuth app")
    if app.revoked_at is None:
        app.revoked_at = now_ms()
        # A reactivation must not revive a rotation's old secret.
        client_secrets.keep_previous(app, 0)
        record(session, org_id=app.org_id, verb="revoked", actor=actor, target=_target(app))
    else:
        state_cache.announce(session)  # revoked by a request whose bump may not have landed
    return app


def reactivate(session: DbSession, app: OAuthApp, actor: Actor) -> OAuthApp:
    """Undo a revoke. Tokens issued before the revoke stay dead (``tokens_valid_after``)."""
    hold_and_reload(session, app, "OAuth app")
    if app.revoked_at is not None:
        app.tokens_valid_after = fresh_second_after(app.revoked_at)
        app.revoked_at = None
        record(session, org_id=app.org_id, verb="reactivated", actor=actor, target=_target(app))
    return app


def delete(session: DbSession, app: OAuthApp, actor: Actor) -> None:
    hold_and_reload(session, app, "OAuth app")
    record(session, org_id=app.org_id, verb="deleted", actor=actor, target=_target(app))
    session.delete(app)
