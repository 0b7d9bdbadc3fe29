"""Failure throttles: failed logins per account, failed client authentications per client
and per IP. Only failures count, so a busy, well-behaved client is never slowed down.

Built on Flask-Limiter's rate-limiting strategy and storage (in-process, or Redis with
``REDIS_URL``, so the count is shared by every process).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from flask import current_app
from limits import RateLimitItem, parse

from oauth_server.extensions import limiter


@dataclass(frozen=True, slots=True)
class Exhausted:
    retry_after: int


def _item(config_key: str) -> RateLimitItem:
    return parse(str(current_app.config[config_key]))


def check(config_key: str, *keys: str) -> Exhausted | None:
    """Whether any of ``keys`` has used up its failures; if so, for how long."""
    item = _item(config_key)
    strategy = limiter.limiter
    for key in keys:
        if not strategy.test(item, config_key, key):
            reset = strategy.get_window_stats(item, config_key, key).reset_time
            return Exhausted(retry_after=max(1, math.ceil(reset - time.time())))
    return None


def count_failure(config_key: str, *keys: str) -> None:
    item = _item(config_key)
    for key in keys:
        limiter.limiter.hit(item, config_key, key)
