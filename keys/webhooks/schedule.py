"""When to try a delivery again, and what an answer means (Standard Webhooks' schedule).

After a failed attempt the next one waits 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, then 10 h:
eight attempts over about a day and a quarter. Each wait is lengthened by a random 0-20 %
(never shortened), so receivers that fail together are not all retried in the same second.
"""

from __future__ import annotations

import random
from typing import Final, Literal

RETRY_DELAYS_SECONDS: Final = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
JITTER: Final = 0.2
#: An endpoint whose every attempt failed for this long is disabled.
DISABLE_AFTER_MS: Final = 24 * 3600 * 1000
#: The request timeout of every attempt (and of an OAuth receiver's token request).
TIMEOUT_SECONDS: Final = 10.0

Verdict = Literal["delivered", "retry", "failed"]


def verdict(status_code: int | None) -> Verdict:
    """2xx delivered; 5xx, 408, 429 and no answer at all (timeout, connection error) are
    worth retrying; any other answer (4xx, and 3xx: redirects are not followed) will not
    change by itself, so it fails at once."""
    if status_code is None or status_code >= 500 or status_code in (408, 429):
        return "retry"
    if 200 <= status_code < 300:
        return "delivered"
    return "failed"


def next_attempt_at(attempts: int, now_ms: int, rng: random.Random) -> int | None:
    """After ``attempts`` failed attempts, when to try again (ms), or None: no more tries."""
    if attempts > len(RETRY_DELAYS_SECONDS):
        return None
    delay = RETRY_DELAYS_SECONDS[attempts - 1] * (1 + rng.uniform(0, JITTER))
    return now_ms + int(delay * 1000)
