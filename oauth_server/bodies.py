"""Request bodies of unknown length (``Transfer-Encoding: chunked``), measured before anyone
reads them.

Werkzeug limits such a body by wrapping the stream at ``MAX_CONTENT_LENGTH``, but a reader
that stops exactly at the limit never learns that more was sent: the form or JSON parser
gets the first 64 KiB and reads them as the whole body. A form cut short can still
authenticate (``token=<a key>&pad=…`` introspected as active) and JSON cut short is a
misleading "not valid JSON". So a body without ``Content-Length`` is read here, up to one
byte past the limit, and handed on as a body of known length; one over the limit is handed
on as declaring a length over the limit, which every reader downstream already answers with
its own 413 (problem+json on ``/api``, RFC 6749 JSON on ``/oauth``).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

_CHUNK = 16 * 1024


class KnownLengthBodies:
    """WSGI middleware: every body downstream arrives with its ``Content-Length``."""

    def __init__(self, downstream: WSGIApplication, max_content_length: int) -> None:
        self._downstream = downstream
        self._max = max_content_length

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        # Only a server that terminates the stream itself (chunked decoding) may be read
        # without a length; Werkzeug reads nothing from any other.
        if not environ.get("CONTENT_LENGTH") and environ.get("wsgi.input_terminated"):
            body = self._read(environ["wsgi.input"])
            environ = {**environ, "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}
            # Werkzeug ignores Content-Length beside "Transfer-Encoding: chunked".
            for framing in ("wsgi.input_terminated", "HTTP_TRANSFER_ENCODING"):
                environ.pop(framing, None)
        return self._downstream(environ, start_response)

    def _read(self, stream: io.BufferedIOBase) -> bytes:
        """At most one byte past the limit: enough to know it is over, never the rest."""
        body = bytearray()
        while len(body) <= self._max:
            chunk = stream.read(min(_CHUNK, self._max + 1 - len(body)))
            if not chunk:
                break
            body += chunk
        return bytes(body)
