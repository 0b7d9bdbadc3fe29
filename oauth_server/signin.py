"""Signing in with email and password, shared by ``POST /api/sessions`` and the console's
``/login``: the same locks, whichever door the guesses come through.

Ten failed attempts for one account within 15 minutes (``LATCHKEY_LOGIN_LIMIT``) lock it
for the rest of the window. Fifty failures from one address (``LATCHKEY_LOGIN_IP_LIMIT``),
whatever the accounts, lock that address: guessing one common password against many
accounts never trips a per-account lock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from flask import current_app, request
from limits import parse

from keys import sessions
from keys.audit import Actor
from keys.clock import now_ms
from keys.models import User
from oauth_server import throttle
from oauth_server.extensions import db

LOGIN_LIMIT = "LATCHKEY_LOGIN_LIMIT"
LOGIN_IP_LIMIT = "LATCHKEY_LOGIN_IP_LIMIT"


@dataclass(frozen=True, slots=True)
class Lock:
    """Why sign-ins are refused for now, and for how many seconds."""

    reason: Literal["account", "address"]
    retry_after: int


def _address_key() -> str:
    # The issuer names the deployment: deployments that share one Redis count apart.
    return f"{current_app.config['LATCHKEY_ISSUER']} ip:{request.remote_addr}"


def lock(account: str) -> Lock | None:
    """The lock that refuses a sign-in to ``account`` from this request's address, if any:
    the address's lock first (it says nothing about the account), then the account's."""
    address = throttle.check(LOGIN_IP_LIMIT, _address_key())
    if address is not None:
        return Lock("address", address.retry_after)
    wait = account_locked_for(account)
    return Lock("account", wait) if wait else None


def locked_for(account: str) -> int:
    """Seconds until a sign-in to ``account`` from here may be tried again (0: now)."""
    found = lock(account)
    return found.retry_after if found else 0


def account_locked_for(account: str) -> int:
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
    failures = sessions.failed_sign_ins(db.session, account, now_ms() - window_ms)
    if len(failures) >= limit.amount:
        oldest = failures[-limit.amount]
        wait = max(wait, math.ceil((oldest + window_ms - now_ms()) / 1000), 1)
    return wait


def check_password(account: str, password: str) -> User | None:
    """The member these credentials belong to, or None after counting the failure.

    A failure is counted by the limiter, for the account and for the address, and recorded
    as a ``session.failed`` audit event (committed here: the attempt must count even though
    the request fails). The attempted password is never recorded.
    """
    user = sessions.authenticate_password(db.session, account, password)
    if user is None:
        throttle.count_failure(LOGIN_LIMIT, account)
        throttle.count_failure(LOGIN_IP_LIMIT, _address_key())
        sessions.record_failed_sign_in(db.session, account, anonymous_actor())
        db.session.commit()
    return user


def user_actor(user: User) -> Actor:
    """A signed-in member acting from this request's address and browser."""
    return Actor(
        type="user",
        id=user.id,
        label=user.email,
        ip=request.remote_addr,
        user_agent=request.user_agent.string or None,
    )


def anonymous_actor() -> Actor:
    """Whoever tried to sign in: not authenticated, so only where they came from."""
    return Actor("anonymous", None, None, request.remote_addr, request.user_agent.string or None)
