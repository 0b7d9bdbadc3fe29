"""Signing in with email and password, shared by ``POST /api/sessions`` and the console's
``/login``: one lock per account, whichever door the guesses come through.

Ten failed attempts for one account within 15 minutes (``LATCHKEY_LOGIN_LIMIT``) lock it
for the rest of the window.
"""

from __future__ import annotations

import math

from flask import current_app, request
from limits import parse

from keys import directory
from keys.audit import Actor
from keys.base import now_ms
from keys.models import User
from oauth_server import throttle
from oauth_server.extensions import db

LOGIN_LIMIT = "LATCHKEY_LOGIN_LIMIT"


def locked_for(account: str) -> int:
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


def check_password(account: str, password: str) -> User | None:
    """The member these credentials belong to, or None after counting the failure.

    A failure is counted by the limiter and recorded as a ``session.failed`` audit event
    (committed here: the attempt must count even though the request fails). The attempted
    password is never recorded.
    """
    user = directory.authenticate_password(db.session, account, password)
    if user is None:
        throttle.count_failure(LOGIN_LIMIT, account)
        directory.record_failed_sign_in(db.session, account, anonymous_actor())
        db.session.commit()
    return user


def user_actor(user: User) -> Actor:
    """A signed-in member acting from this request's address and browser."""
    return Actor(
        type="user",
        id=str(user.id),
        label=user.email,
        ip=request.remote_addr,
        user_agent=request.user_agent.string or None,
    )


def anonymous_actor() -> Actor:
    """Whoever tried to sign in: not authenticated, so only where they came from."""
    return Actor("anonymous", None, None, request.remote_addr, request.user_agent.string or None)
