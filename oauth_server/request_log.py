"""The request log and the request metrics: one WSGI middleware, outermost, around
everything (the OAuth endpoints answered in front of Flask as well as Flask's own).

For each request it writes one JSON line (:mod:`oauth_server.logs`) and counts it
(:mod:`oauth_server.metrics`) once the response has been sent. What it writes is chosen, not
copied: the method, the path without its query string (a path segment shaped like a
credential of ours is cut to its display prefix), the status, the duration, the request id
and the credential that authenticated, as its display prefix or client ID. Never the query
string, the ``Authorization`` header or its Basic user (``curl -u $KEY:`` puts a key
there), a body, or a cookie.

The request id is the caller's ``X-Request-Id`` when it is a sane one (up to 128 of
``A-Z a-z 0-9 . _ : ; = + / -``, and not shaped like a credential of ours), otherwise a new
one; it is echoed in the response's ``X-Request-Id``, so an operator can find the line a
caller complains about.

Inner layers say what only they know through the :class:`RequestNote` left in the environ
(an object, so it survives a layer that copies the environ): which route answered and which
credential authenticated.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from keys.format import KindPrefixes, display_prefix_of
from oauth_server import logs, metrics

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

NOTE = "latchkey.request"
HEADER = "X-Request-Id"

_SANE_ID = re.compile(r"[A-Za-z0-9._:;=+/-]{1,128}")

#: The ``endpoint`` of a request that no route answered: one label for every unknown path,
#: however many a scanner tries.
UNMATCHED = "unmatched"


class RequestNote:
    """What inner layers tell the request log about one request."""

    __slots__ = ("credential", "request_id", "route")

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        #: The route that answered (``/api/keys/<id:key_id>``), or None if none did.
        self.route: str | None = None
        #: The display prefix or client ID that authenticated (never a secret), if any.
        self.credential: str | None = None


def note_of(environ: WSGIEnvironment) -> RequestNote | None:
    note: RequestNote | None = environ.get(NOTE)
    return note


def note_credential(environ: WSGIEnvironment, credential: str | None) -> None:
    """Record who authenticated this request (a display prefix or client ID)."""
    note = note_of(environ)
    if note is not None and credential is not None:
        note.credential = credential


def note_route(_endpoint: str | None, _values: dict[str, Any] | None) -> None:
    """Flask's ``url_value_preprocessor``: the route that matched, as the request's
    ``endpoint`` label (``/api/keys/<id:key_id>``, not ``/api/keys/17``)."""
    from flask import request

    note = note_of(request.environ)
    if note is not None and request.url_rule is not None:
        note.route = request.url_rule.rule


class RequestLog:
    """WSGI middleware: a request id for every request, then its log line and its counts."""

    def __init__(
        self, downstream: WSGIApplication, prefixes: KindPrefixes, fixed_routes: Iterable[str]
    ) -> None:
        self._downstream = downstream
        self._prefixes = prefixes
        #: Paths that are their own route (the OAuth POST endpoints, answered before routing).
        self._fixed_routes = frozenset(fixed_routes)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        note = RequestNote(self._request_id(environ.get("HTTP_X_REQUEST_ID")))
        environ[NOTE] = note
        status = [500]  # until the application says otherwise

        def start(
            line: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> Any:
            status[0] = int(line[:3])
            headers.append((HEADER, note.request_id))
            return start_response(line, headers, exc_info)

        try:
            body = self._downstream(environ, start)
        except BaseException:
            self._done(environ, note, 500, started)
            raise
        return _Closing(body, lambda: self._done(environ, note, status[0], started))

    def _request_id(self, incoming: str | None) -> str:
        if incoming and _SANE_ID.fullmatch(incoming) and not self._prefixes.is_ours(incoming):
            return incoming
        # Unique, not secret: a request id authorizes nothing, so no system call for it.
        return f"{random.getrandbits(128):032x}"

    def _done(
        self, environ: WSGIEnvironment, note: RequestNote, status: int, started: float
    ) -> None:
        seconds = time.perf_counter() - started
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        route = note.route or (path if path in self._fixed_routes else UNMATCHED)
        method = environ.get("REQUEST_METHOD", "")
        metrics.request_done(route, method, status, seconds)
        logs.request_line(
            f"{method} {route} {status}",
            {
                "request_id": note.request_id,
                "method": method,
                "path": self._loggable(path),
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
                "credential": note.credential,
            },
        )

    def _loggable(self, path: str) -> str:
        """``path`` with any segment shaped like a credential of ours (kind, public id and
        more) cut to its display prefix: a key pasted into a URL is not logged."""
        if "_" not in path:
            return path
        segments = path.split("/")
        for i, segment in enumerate(segments):
            if segment.count("_") >= 2 and self._prefixes.is_ours(segment):
                # A malformed one (a typo) may still hold most of a secret: none of it.
                segments[i] = f"{display_prefix_of(segment) or '[credential]'}_…"
        return "/".join(segments)


class _Closing:
    """The response body, with ``done`` called once the server has closed it (the
    response is sent then), whatever happened while it was sent."""

    __slots__ = ("_body", "_done")

    def __init__(self, body: Iterable[bytes], done: Any) -> None:
        self._body = body
        self._done = done

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._done()
