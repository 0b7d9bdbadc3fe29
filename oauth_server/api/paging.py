"""The ``Link: rel="next"`` header of paginated lists (RFC 8288)."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import request


def next_link(cursor: int | None) -> dict[str, str]:
    if cursor is None:
        return {}
    args = request.args.to_dict()
    args["cursor"] = str(cursor)
    return {"Link": f'<{request.base_url}?{urlencode(args)}>; rel="next"'}
