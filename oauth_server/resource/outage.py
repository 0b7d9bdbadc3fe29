"""When Latchkey gives no usable answer: the resource client's one error (the API answers
503), and its logging. One line when Latchkey stops answering, one when it is back, and a
reminder at most once a minute in between: an outage seen by every request of a busy API
must not become a log line per request.

Reasons are short texts built by the caller from exception classes and status codes: never
a credential, a secret, or a response body.
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("latchkey.resource")

#: Seconds between two reminders that an outage goes on.
REMINDER_SECONDS = 60.0


class LatchkeyUnavailable(Exception):
    """Latchkey gave no usable answer: unreachable, too slow, a 5xx, a refusal of the
    resource server's own credentials, or an answer that is not RFC 7662's. The request is
    refused with 503 and ``Retry-After``, never let through. ``str()`` is the reason, safe
    to log (no credential, no secret, no body)."""


class OutageLog:
    """The state of one dependency (``what``: "introspection", "the JWKS")."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._lock = threading.Lock()
        self._failures = 0
        self._logged_at = 0.0

    def failed(self, reason: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._failures += 1
            first = self._failures == 1
            if not first and now - self._logged_at < REMINDER_SECONDS:
                return
            self._logged_at = now
            failures = self._failures
        if first:
            log.warning("Latchkey %s unavailable (%s); failing closed", self._what, reason)
        else:
            log.warning(
                "Latchkey %s still unavailable (%s; %d failed calls)", self._what, reason, failures
            )

    def succeeded(self) -> None:
        if not self._failures:  # the common case, without the lock
            return
        with self._lock:
            failures, self._failures = self._failures, 0
        if failures:
            log.warning("Latchkey %s answers again after %d failed calls", self._what, failures)
