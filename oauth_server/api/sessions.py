"""``/api/sessions``: sign in with email and password for a session token, sign out."""

from __future__ import annotations

import math

from flask import Response, current_app, request
from limits import parse

from keys import directory
from keys.audit import Actor
from keys.base import now_ms
from oauth_server import throttle
from oauth_server.api import bp
from oauth_server.api.access import NotAuthenticated, current
from oauth_server.api.problems import problem
from oauth_server.api.schemas import Ok, SessionCreate, SessionOut
from oauth_server.api.spec import operation, respond
from oauth_server.extensions import db
from oauth_server.services import services

LOGIN_LIMIT = "LATCHKEY_LOGIN_LIMIT"


@operation(
    bp,
    "POST",
    "/sessions",
    summary="Sign in",
    tag="Sessions",
    access="public",
    body=SessionCreate,
    response=SessionOut,
    status=201,
    errors=(401, 429),
)
def create_session(body: SessionCreate) -> Response:
    """Exchange a member's email and password for a session token, shown once.

    Ten failed attempts for one account within 15 minutes lock it for the rest of the window.
    """
    account = body.email.strip().lower()
    retry_after = _locked_for(account)
    if retry_after:
        return problem(
            429,
            "Too many failed sign-ins for this account; wait and try again.",
            code="rate-limited",
            headers={"Retry-After": str(retry_after)},
        )
    user = directory.authenticate_password(db.session, account, body.password)
    if user is None:
        throttle.count_failure(LOGIN_LIMIT, account)
        directory.record_failed_sign_in(db.session, account, _anonymous())
        db.session.commit()
        raise NotAuthenticated("Wrong email or password.")
    actor = Actor("user", str(user.id), user.email, request.remote_addr, request.user_agent.string)
    new = directory.open_session(
        db.session,
        services().core,
        user,
        actor,
        current_app.config["LATCHKEY_SESSION_TTL_SECONDS"],
    )
    db.session.commit()
    return respond(SessionOut.of(new.session, new.token), 201)


def _anonymous() -> Actor:
    """Whoever tried to sign in: not authenticated, so only where they came from."""
    return Actor("anonymous", None, None, request.remote_addr, request.user_agent.string or None)


def _locked_for(account: str) -> int:
    """Seconds until ``account`` may try again (0: now).

    Two counts, either of which locks: the limiter's (shared through Redis when configured;
    it also covers unknown emails, so a lock does not reveal whether an account exists) and
    the account's ``session.failed`` audit events, which every worker sees even without
    Redis (in-process limiter storage is per worker, so N workers would allow N x the limit).
    """
    exhausted = throttle.check(LOGIN_LIMIT, account)
    wait = exhausted.retry_after if exhausted else 0
    limit = parse(str(current_app.config[LOGIN_LIMIT]))
    window_ms = limit.get_expiry() * 1000
    failures = directory.failed_sign_ins(db.session, account, now_ms() - window_ms)
    if len(failures) >= limit.amount:
        oldest = failures[-limit.amount]
        wait = max(wait, math.ceil((oldest + window_ms - now_ms()) / 1000), 1)
    return wait


@operation(
    bp,
    "DELETE",
    "/sessions/current",
    summary="Sign out",
    tag="Sessions",
    access="session",
    response=Ok,
)
def delete_session() -> Response:
    """End the session whose token authenticates this request."""
    principal = current()
    if principal.session is not None:
        directory.close_session(db.session, principal.session, principal.actor)
        db.session.commit()
    return respond(Ok())
