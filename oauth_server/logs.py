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

#: Attributes every ``LogRecord`` has; anything else a caller passed in ``extra`` becomes a
#: field of the line.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


def utc_time(seconds: float) -> str:
    """``2026-12-04T17:57:23.123Z``: ISO 8601 in UTC, to the millisecond."""
    whole = time.gmtime(seconds)
    return time.strftime("%Y-%m-%dT%H:%M:%S", whole) + f".{int(seconds % 1 * 1000):03d}Z"


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
            if name not in _STANDARD and not name.startswith("_"):
                line[name] = value
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


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
