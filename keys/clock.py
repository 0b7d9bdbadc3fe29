"""Time as Latchkey stores and shows it: integers of milliseconds since the epoch, and the
whole seconds that token times (``iat``, ``exp``) are made of."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_ms() -> int:
    """Milliseconds since the epoch: how every stored time and API time is expressed."""
    return time.time_ns() // 1_000_000


def utc_text(ms: int) -> str:
    """A stored time as messages show it: ``2026-05-01 12:00:00 UTC``."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def fresh_second_after(at_ms: int) -> int:
    """The first whole second after ``at_ms``, once the clock has reached it.

    Token times (``iat``) are whole seconds. Ending every token issued up to a moment means
    "valid only if iat >= that second + 1"; waiting (under a second, on a rare admin action)
    until that second has begun guarantees that a token asked for afterwards is not born dead.
    """
    return wait_for_second(at_ms // 1000 + 1)


def wait_for_second(second: int) -> int:
    delay = second - time.time()
    if delay > 0:
        time.sleep(delay)
    return second
