"""Logs as JSON lines (DESIGN.md, "Operations endpoints"): one object per line, so a log
shipper reads fields rather than parsing prose, and a message can never forge a line.

Two kinds of line share the format. The request log (:mod:`oauth_server.request_log`) writes
one per request: ``time``, ``request_id``, ``method``, ``path`` (never the query string),
``status``, ``duration_ms`` and ``credential`` (the display prefix or client ID that
authenticated, never a secret). Every other record is ``time``, ``level``, ``logger`` and
``message``, with ``error`` (the exception's type and traceback) when one is attached.

No line is handed a secret: the request log's fields are chosen from the request, not
copied from it, and messages name credentials by their display prefix only.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from keys.process import process_id

#: Attributes every ``LogRecord`` has; anything else a caller passed in ``extra`` becomes a
#: field of the line.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


#: Non-ASCII stays escaped (a log line is plain ASCII whatever a client sent); anything that
#: is not JSON by nature (an exception's argument, a path object) is written as its text.
_ENCODER = json.JSONEncoder(default=str)

_second: tuple[int, str] = (-1, "")


def utc_time(seconds: float) -> str:
    """``2026-12-04T17:57:23.123Z``: ISO 8601 in UTC, to the millisecond (the part up to the
    second formatted once per second: every request writes a line)."""
    global _second
    whole = int(seconds)
    if _second[0] != whole:
        _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{_second[1]}.{int((seconds - whole) * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """A record as one JSON object on one line (also gunicorn's, see :mod:`.serve`)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": utc_time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD and name[0] != "_":
                line[name] = value
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return _ENCODER.encode(line)


REQUESTS = logging.getLogger("latchkey.requests")


def request_line(message: str, fields: dict[str, Any]) -> None:
    """Write the request log's line for one request: the same JSON shape as every other
    record, written straight to stderr. Through ``logging`` the line cost three times as
    much (a record's bookkeeping, two locks, a flush), on every request of the hot path.
    The ``latchkey.requests`` logger's level still switches it off (``WARNING``)."""
    if not REQUESTS.isEnabledFor(logging.INFO):
        return
    now = time.time()
    line = {
        "time": utc_time(now),
        "level": "info",
        "logger": REQUESTS.name,
        "pid": process_id(),
        "message": message,
        **fields,
    }
    sys.stderr.write(_ENCODER.encode(line) + "\n")


def configure() -> None:
    """Send Latchkey's records to stderr as JSON lines, unless logging is already set up
    (gunicorn's logger class does it for the whole process; an operator's configuration, or
    a test runner's capture, wins)."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    for name in ("latchkey", "oauth_server", "keys"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
