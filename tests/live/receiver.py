"""A webhook receiver for the live tests: a small threaded HTTP server on 127.0.0.1 that
records every request, and can hold requests back (to kill a worker mid-delivery)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when it arrived

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self._changed = threading.Condition()
        self.released = threading.Event()
        self.released.set()
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._changed:
                    receiver.received.append(Received(dict(self.headers), body, time.time()))
                    receiver._changed.notify_all()
                receiver.released.wait(60)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def wait_for(self, predicate: Any, timeout: float = 15.0) -> list[Received]:
        """Wait until ``predicate(received)`` holds; the requests received by then."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self.received):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"receiver got {len(self.received)} request(s)")
                self._changed.wait(left)
            return list(self.received)

    def unique(self) -> dict[str, Received]:
        """Requests deduplicated by ``webhook-id``, as a receiver should."""
        with self._changed:
            return {r.headers["webhook-id"]: r for r in self.received}

    def close(self) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()
