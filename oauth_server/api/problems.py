"""RFC 9457 problem details: every error of the management API has this one shape."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from flask import Response, json

from keys.errors import DomainError, FieldError, ValidationFailed

PROBLEM_JSON = "application/problem+json"


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    code: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A problem document. ``type`` is ``about:blank`` when the title is the status phrase,
    else a ``urn:latchkey:problem:`` URN a client can switch on."""
    phrase = HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": f"urn:latchkey:problem:{code}" if code else "about:blank",
        "title": title or phrase,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = [{"field": e.field, "message": e.message} for e in errors]
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    response.headers["Cache-Control"] = "no-store"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def from_domain_error(error: DomainError) -> Response:
    errors = error.errors if isinstance(error, ValidationFailed) else None
    return problem(error.status, error.message, title=error.title, code=error.code, errors=errors)
