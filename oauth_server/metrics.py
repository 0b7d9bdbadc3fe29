"""What ``GET /metrics`` reports, in Prometheus's text format (DESIGN.md, "Operations
endpoints"). Every metric Latchkey has is registered here, and nowhere else.

==========================================  =====================================================
``latchkey_http_requests_total``            requests by ``endpoint`` (the route, e.g.
                                            ``/api/keys/<id:key_id>``, never the raw path),
                                            ``method`` and ``status``
``latchkey_http_request_duration_seconds``  latency histogram by ``endpoint``
``latchkey_introspections_total``           RFC 7662 answers by ``outcome`` (``active`` or
                                            ``inactive``) and ``reason`` (why inactive:
                                            ``unknown``, ``revoked``, ``expired``,
                                            ``wrong_audience``, ``plan_off``; ``""`` if active)
``latchkey_cache_lookups_total``            credential-state cache lookups by ``cache``
                                            (``state``: rows; ``tokens``: verified tokens) and
                                            ``result`` (``hit`` or ``miss``)
``latchkey_usage_flush_lag_seconds``        histogram: how old the oldest use in a batch was
                                            when the usage flush wrote it
``latchkey_usage_flush_failures_total``     usage flushes that could not write (kept for the
                                            next try)
==========================================  =====================================================

Several worker processes serve one Latchkey, and a scrape reaches one of them, so the
counts live in files that every worker writes and whichever worker answers the scrape adds
up: prometheus_client's multi-process mode, on when ``PROMETHEUS_MULTIPROC_DIR`` is set
*before this module is imported*. Latchkey's servers prepare it (:mod:`oauth_server.serve`:
``python app.py`` and ``gunicorn app:app``, through the repository's ``gunicorn.conf.py``);
under another server (granian), set it to an empty folder yourself.

``keys/`` counts through the small hooks it offers (``on_lookup`` of
:class:`keys.state_cache.StateCache`, ``on_flush`` of :class:`keys.usage.UsageCounter`), so
the credential core stays free of Prometheus.
"""

from __future__ import annotations

import glob
import hmac
import logging
import os
import re

from flask import Flask, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

log = logging.getLogger("latchkey")

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
TOKEN_SETTING = "LATCHKEY_METRICS_TOKEN"

#: Introspection is answered in well under a millisecond from the cache, a token in a few
#: milliseconds, a sign-in (argon2id) in tens: buckets from 0.5 ms to 5 s.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)

#: The usage flush runs every ``LATCHKEY_USAGE_FLUSH_SECONDS`` (2 s): buckets around that.
FLUSH_BUCKETS = (0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 300)

#: Methods counted by name; anything else a client invents is ``other`` (labels must not
#: grow with what strangers send).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter(
    "latchkey_http_requests",
    "HTTP requests answered, by route, method and status.",
    ["endpoint", "method", "status"],
)
LATENCY = Histogram(
    "latchkey_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by route.",
    ["endpoint"],
    buckets=LATENCY_BUCKETS,
)
INTROSPECTIONS = Counter(
    "latchkey_introspections",
    "RFC 7662 introspection answers, by outcome and, when inactive, why.",
    ["outcome", "reason"],
)
CACHE_LOOKUPS = Counter(
    "latchkey_cache_lookups",
    "Credential-state cache lookups, by cache and whether they were answered from memory.",
    ["cache", "result"],
)
FLUSH_LAG = Histogram(
    "latchkey_usage_flush_lag_seconds",
    "Age of the oldest key use in a batch when the usage flush wrote it.",
    buckets=FLUSH_BUCKETS,
)
FLUSH_FAILURES = Counter(
    "latchkey_usage_flush_failures",
    "Usage flushes that could not write; their counts are kept for the next try.",
)

WEBHOOK_DELIVERIES = Counter(
    "latchkey_webhook_deliveries",
    "Webhook delivery attempts, by outcome: delivered, retry (to be tried again), failed "
    "(for good), gone (its endpoint was deleted meanwhile).",
    ["outcome"],
)


def webhook_attempted(outcome: str) -> None:
    """The delivery worker's hook: one attempt and what it came to."""
    WEBHOOK_DELIVERIES.labels(outcome).inc()


#: The labelled children of the request metrics, resolved once per (route, method, status):
#: ``labels()`` takes a lock and builds keys, a third of what counting a request cost.
_request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def request_done(endpoint: str, method: str, status: int, seconds: float) -> None:
    children = _request_children.get((endpoint, method, status))
    if children is None:
        counted = method if method in METHODS else "other"
        children = (REQUESTS.labels(endpoint, counted, str(status)), LATENCY.labels(endpoint))
        if counted == method:  # a made-up method is counted, not remembered
            _request_children[(endpoint, method, status)] = children
    children[0].inc()
    children[1].observe(seconds)


_ACTIVE = INTROSPECTIONS.labels("active", "")


def introspected(reason: str | None) -> None:
    """One introspection answer: ``reason`` None when active (one of a few fixed reasons
    otherwise)."""
    if reason is None:
        _ACTIVE.inc()
    else:
        INTROSPECTIONS.labels("inactive", reason).inc()


def cache_lookups(cache: str) -> tuple[Counter, Counter]:
    """The (hit, miss) counters of one cache, resolved once: the hot path only increments."""
    return CACHE_LOOKUPS.labels(cache, "hit"), CACHE_LOOKUPS.labels(cache, "miss")


def usage_flushed(lag_seconds: float | None) -> None:
    """The usage flush's hook: the lag of a written batch, or None for a failed write."""
    if lag_seconds is None:
        FLUSH_FAILURES.inc()
    else:
        FLUSH_LAG.observe(lag_seconds)


# -- exposition -------------------------------------------------------------------------------

_PID_FILE = re.compile(r"_(\d+)\.db$")


def init_metrics(app: Flask) -> None:
    if app.config[TOKEN_SETTING] and not os.environ.get(MULTIPROC_DIR):
        log.warning(
            "%s is not set: /metrics reports only the worker process that answers the "
            "scrape. Set it to an empty folder before starting the server (python app.py "
            "and gunicorn with the repository's gunicorn.conf.py do it themselves).",
            MULTIPROC_DIR,
        )
    app.add_url_rule("/metrics", "metrics", metrics_view)


def metrics_view() -> Response:
    """``GET /metrics``: off the public surface. 404 when ``LATCHKEY_METRICS_TOKEN`` is not
    set, as if there were no such path; 401 with an RFC 6750 ``Bearer`` challenge for a
    request without that bearer token or with another one (compared in constant time; one
    answer for both, so a guess learns nothing but "no")."""
    token: str | None = current_app.config[TOKEN_SETTING]
    if not token:
        return Response("Not Found\n", 404, mimetype="text/plain")
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode(), token.encode()
    ):
        return Response(
            "A bearer token for /metrics is needed (LATCHKEY_METRICS_TOKEN).\n",
            401,
            {"WWW-Authenticate": 'Bearer realm="metrics"', "Cache-Control": "no-store"},
            mimetype="text/plain",
        )
    response = Response(generate_latest(_registry()), 200, content_type=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response


def _registry() -> CollectorRegistry:
    """Every worker's counts in multi-process mode (a fresh registry per scrape, as
    prometheus_client documents), else this process's."""
    path = os.environ.get(MULTIPROC_DIR)
    if not path:
        return REGISTRY
    forget_dead_workers(path)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path)  # type: ignore[no-untyped-call]
    return registry


def forget_dead_workers(path: str) -> None:
    """prometheus_client's bookkeeping for workers that have exited (``mark_process_dead``),
    done at scrape time so that it happens under any server, not only those with a hook for
    a worker's exit. Counters and histograms of exited workers stay: their counts happened."""
    pids = {
        int(m.group(1)) for f in glob.glob(os.path.join(path, "*.db")) if (m := _PID_FILE.search(f))
    }
    for pid in pids:
        if not _alive(pid):
            multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
