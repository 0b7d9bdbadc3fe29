"""Failure throttles: failed logins per account, failed client authentications per source
address and per (client ID, address). Only failures count, so a busy, well-behaved client is
never slowed down.

Built on the ``limits`` library: fixed windows, counted in process memory, or in Redis with
``REDIS_URL`` so that every process shares the count. (``limits`` is what Flask-Limiter runs
on; its extension is not used because it hooks every request of the app, before, after and at
teardown, to look for route limits Latchkey does not declare — about a tenth of an
introspection's CPU in the benchmark's profile.)

Sign-ins are checked before the password (:func:`check`): a check that finds a key under its
limit is remembered in the request's view of the credential-state cache
(:mod:`keys.state_cache`), and the failure that uses up a key's allowance announces a change,
after which every process asks the storage again and sees the lock. Client authentications
are throttled only once they have failed (:func:`refuse_failure`): a correct secret always
authenticates, so a stranger who knows a client ID cannot switch that client off.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import lru_cache, partial

from flask import Flask, current_app
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from oauth_server.outages import OUTAGES, REDIS
from oauth_server.services import services, state_view


@dataclass(frozen=True, slots=True)
class Exhausted:
    retry_after: int


def init_throttles(app: Flask) -> None:
    uri = app.config["REDIS_URL"] or "memory://"
    app.extensions["latchkey_throttles"] = FixedWindowRateLimiter(storage_from_string(uri))


def _strategy() -> FixedWindowRateLimiter:
    strategy: FixedWindowRateLimiter = current_app.extensions["latchkey_throttles"]
    return strategy


def _item(config_key: str) -> RateLimitItem:
    return _parsed(str(current_app.config[config_key]))


@lru_cache(maxsize=32)
def _parsed(limit: str) -> RateLimitItem:
    """A limit string read once, not per request (parsing it was 3% of a token request)."""
    return parse(limit)


def check(config_key: str, *keys: str) -> Exhausted | None:
    """Whether any of ``keys`` has used up its failures; if so, for how long."""
    item = _item(config_key)
    strategy = _strategy()
    view = state_view()
    for key in keys:
        if view.get(("throttle", config_key, key), partial(strategy.test, item, config_key, key)):
            continue  # under its limit when this process last asked, and no lock since
        if not strategy.test(item, config_key, key):
            reset = strategy.get_window_stats(item, config_key, key).reset_time
            return Exhausted(retry_after=max(1, math.ceil(reset - time.time())))
    OUTAGES.recovered(REDIS)  # the counts answered (a no-op unless Redis was down)
    return None


def refuse_failure(config_key: str, *keys: str) -> Exhausted | None:
    """A failed attempt: refused, and for how long, if any of ``keys`` has used up its
    failures already; otherwise counted against each of them. Correct attempts never come
    here, so they neither read nor write the counts."""
    item = _item(config_key)
    strategy = _strategy()
    for key in keys:
        if not strategy.test(item, config_key, key):
            reset = strategy.get_window_stats(item, config_key, key).reset_time
            return Exhausted(retry_after=max(1, math.ceil(reset - time.time())))
    for key in keys:
        strategy.hit(item, config_key, key)
    OUTAGES.recovered(REDIS)
    return None


def count_failure(config_key: str, *keys: str) -> None:
    item = _item(config_key)
    strategy = _strategy()
    for key in keys:
        strategy.hit(item, config_key, key)
        if not strategy.test(item, config_key, key):
            services().state.stamp.bump()  # locked now: every process must ask again
