"""The delivery loop, run by ``flask --app app worker`` and by the embedded default's
thread inside the server process.

Each round: the holder of the scheduler lease queues the scheduled events that are due;
then due deliveries are claimed and attempted. On PostgreSQL any number of workers deliver
side by side (``SKIP LOCKED`` claims); on SQLite one process at a time does (the delivery
lease), since SQLite has one writer anyway and no row locks to skip.

Time is injectable (``clock``, ms) so tests can drive the retry schedule.
"""

from __future__ import annotations

import logging
import random
import secrets as pyrandom
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from sqlalchemy.orm import Session

from keys.clock import now_ms
from keys.process import process_id
from keys.webhooks import leases, queue, scheduler
from keys.webhooks.models import WebhookEndpoint
from keys.webhooks.secrets import Sealer, load
from keys.webhooks.sender import Outcome, Receiver, Sender

log = logging.getLogger("latchkey.webhooks")

MAX_ERROR_WAIT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    allow_private: bool = False
    #: How often an idle worker looks for work.
    poll_seconds: float = 0.5
    #: How long a claim (and a lease) lasts without its holder: longer than one attempt,
    #: which is at most two requests of 10 s and a token request.
    claim_seconds: float = 60.0
    #: How often the scheduled events are looked for.
    schedule_seconds: float = 30.0
    batch: int = 20
    #: PostgreSQL: claim with SKIP LOCKED, many workers; SQLite: one at a time, by lease.
    skip_locked: bool = False


class DeliveryWorker:
    def __init__(
        self,
        session_factory: Callable[[], Session],
        sealer: Sealer,
        settings: WorkerSettings,
        *,
        clock: Callable[[], int] = now_ms,
        rng: random.Random | None = None,
        sender: Sender | None = None,
        on_attempt: Callable[[str], None] | None = None,
    ) -> None:
        """``on_attempt`` hears each attempt's outcome (``delivered``, ``retry``, ``failed``,
        ``gone``): the web layer counts them for ``/metrics``."""
        self._session_factory = session_factory
        self._sealer = sealer
        self.settings = settings
        self._clock = clock
        self._rng = rng or random.Random()
        self.sender = sender or Sender(settings.allow_private)
        self.holder = f"{socket.gethostname()[:32]}:{process_id()}:{pyrandom.token_hex(4)}"
        self._next_schedule = 0
        self._stop = threading.Event()
        self._on_attempt = on_attempt

    @property
    def _claim_ms(self) -> int:
        return int(self.settings.claim_seconds * 1000)

    def run_once(self) -> int:
        """One round: scheduled events if due, then the due deliveries. Returns how many
        attempts were made."""
        with self._session_factory() as session:
            now = self._clock()
            if now >= self._next_schedule and leases.hold(
                session, leases.SCHEDULER, self.holder, now, self._claim_ms
            ):
                self._next_schedule = now + int(self.settings.schedule_seconds * 1000)
                scheduler.run(session, now)
            attempts = 0
            while not self._stop.is_set():
                if not self.settings.skip_locked and not leases.hold(
                    session, leases.DELIVERY, self.holder, self._clock(), self._claim_ms
                ):
                    break
                claimed = queue.claim(
                    session,
                    holder=self.holder,
                    now=self._clock(),
                    claim_ms=self._claim_ms,
                    limit=self.settings.batch,
                    skip_locked=self.settings.skip_locked,
                )
                for item in claimed:
                    self._attempt(session, item)
                    attempts += 1
                if not claimed:  # else a finished attempt may have let its endpoint's next go
                    break
            return attempts

    def _receiver(self, endpoint: WebhookEndpoint) -> Receiver:
        """The endpoint with its secrets decrypted, for one attempt."""
        stored = load(self._sealer, endpoint)
        signing: tuple[str, ...] = (stored.signing,)
        if stored.previous_signing and (endpoint.previous_secret_expires_at or 0) > self._clock():
            signing += (stored.previous_signing,)
        return Receiver(
            endpoint_id=endpoint.id,
            url=endpoint.url,
            auth_type=endpoint.auth_type,
            signing_secrets=signing,
            auth_header=endpoint.auth_header,
            token_url=endpoint.token_url,
            client_id=endpoint.client_id,
            scope=endpoint.scope,
            secret=stored.receiver,
        )

    def _attempt(self, session: Session, item: queue.Claimed) -> None:
        try:
            receiver = self._receiver(item.endpoint)
        except InvalidTag:
            outcome = Outcome(
                None,
                0,
                "the endpoint's secrets cannot be decrypted: LATCHKEY_PEPPER is not the one "
                "they were stored under",
            )
        else:
            try:
                outcome = self.sender.send(receiver, item.msg_id, item.body, self._clock() // 1000)
            except Exception:  # a bug must not stop the loop; the delivery is retried
                log.exception("webhook attempt %s crashed", item.delivery_id)
                outcome = Outcome(None, 0, "internal error while sending; retried")
        status = queue.finish(session, item, outcome, self._clock(), self._rng)
        if self._on_attempt is not None:
            retried = status == "pending"
            self._on_attempt("retry" if retried else status)
        log.info(
            "webhook delivery %s to endpoint %s: %s (%s, %d ms)",
            item.delivery_id,
            item.endpoint_id,
            status,
            outcome.status_code or outcome.error,
            outcome.latency_ms,
        )

    def run_forever(self) -> None:
        """Rounds until :meth:`stop`. A failed round (the database away) is logged and tried
        again, waiting twice as long each time up to :data:`MAX_ERROR_WAIT_SECONDS`, so an
        outage is a few log lines, and delivery resumes by itself when it ends."""
        failures = 0
        while not self._stop.is_set():
            try:
                busy = self.run_once()
                failures = 0
            except Exception:
                failures += 1
                log.exception("webhook worker round failed (%d in a row); retrying", failures)
                busy = 0
            wait = self.settings.poll_seconds
            if failures:
                wait = min(MAX_ERROR_WAIT_SECONDS, wait * 2**failures)
            if not busy:
                self._stop.wait(wait)
        self._release()

    def _release(self) -> None:
        try:
            with self._session_factory() as session:
                for name in (leases.SCHEDULER, leases.DELIVERY):
                    leases.release(session, name, self.holder)
        except Exception:
            log.warning("could not release the webhook leases; they expire by themselves")

    def stop(self) -> None:
        self._stop.set()

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="latchkey-webhooks", daemon=True)
        thread.start()
        return thread
