"""Each management endpoint is declared once: its schemas validate requests and describe it
in the OpenAPI document, so the document can never drift from the code.

Pydantic does the validation and the JSON Schema; this module only records which schema
belongs to which route and assembles the OpenAPI 3.1 document from those records.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from keys.errors import DomainError, FieldError, ValidationFailed
from keys.limits import MAX_RECORD_ID

_REF = "#/components/schemas/{model}"


@dataclass
class Operation:
    method: str
    rule: str
    summary: str
    tag: str
    access: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    many: bool = False
    status: int = 200
    errors: tuple[int, ...] = ()
    description: str | None = None
    key_scopes: tuple[str, ...] = ()


OPERATIONS: list[Operation] = []


class BadRequest(DomainError):
    """Malformed JSON: the body could not be read at all."""

    def __init__(self, message: str) -> None:
        super().__init__(message=message, code="malformed-request", status=400, title="Bad request")


def _field_errors(error: ValidationError, prefix: str = "") -> list[FieldError]:
    result = []
    for item in error.errors(include_url=False):
        loc = ".".join(str(part) for part in item["loc"]) or "body"
        message = item["msg"]
        if item["type"] == "missing":
            message = "is required"
        elif item["type"] == "extra_forbidden":
            message = "is not a known field"
        elif item["type"] == "value_error" and "error" in item.get("ctx", {}):
            # Our own validators' words, without pydantic's "Value error, " in front.
            message = str(item["ctx"]["error"])
        result.append(FieldError(prefix + loc, message))
    return result


def parse_body(model: type[BaseModel]) -> BaseModel:
    raw = request.get_data(cache=True)
    if not raw.strip():
        data: Any = {}
    else:
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"The request body is not valid JSON: {exc}") from exc
        except RecursionError as exc:
            # The decoder recurses once per level of nesting: a small body of brackets
            # reaches Python's recursion limit. No request of ours nests more than twice.
            raise BadRequest(
                "The request body's JSON is nested too deeply to read; send a JSON object "
                "whose values are strings, numbers, booleans, null or lists of those."
            ) from exc
    if not isinstance(data, dict):
        raise ValidationFailed.one("body", "must be a JSON object")
    try:
        return model.model_validate(data, strict=True)
    except ValidationError as exc:
        errors = _field_errors(exc)
        raise ValidationFailed(
            message="; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors
        ) from exc


def parse_query(model: type[BaseModel]) -> BaseModel:
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as exc:
        errors = _field_errors(exc)
        raise ValidationFailed(
            message="; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors
        ) from exc


def patch_changes(body: BaseModel, nullable: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields a PATCH body sets. ``null`` is a value only for the ``nullable`` fields
    (``team_id: null`` = all teams); for any other field it is a validation error."""
    changes = body.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None and name not in nullable:
            raise ValidationFailed.one(name, "may not be null")
    return changes


def operation(
    bp: Blueprint,
    method: str,
    rule: str,
    *,
    summary: str,
    tag: str,
    access: str,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    many: bool = False,
    status: int = 200,
    errors: tuple[int, ...] = (),
    key_scopes: tuple[str, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a view under ``rule``; it receives ``body=`` and ``query=`` already valid.

    ``access`` names the guard (see :mod:`oauth_server.api.access`) that runs first;
    ``key_scopes`` the scopes of which any admits an API key as the caller.
    """

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        op = Operation(
            method=method.upper(),
            rule=bp.url_prefix + rule if bp.url_prefix else rule,
            summary=summary,
            tag=tag,
            access=access,
            body=body,
            query=query,
            response=response,
            many=many,
            status=status,
            errors=errors,
            description=(view.__doc__ or "").strip() or None,
            key_scopes=key_scopes,
        )
        OPERATIONS.append(op)

        @functools.wraps(view)
        def wrapper(**kwargs: Any) -> Any:
            from oauth_server.api.access import guard

            guard(access, key_scopes)
            if query is not None:
                kwargs["query"] = parse_query(query)
            if body is not None:
                kwargs["body"] = parse_body(body)
            return view(**kwargs)

        bp.add_url_rule(rule, endpoint=view.__name__, view_func=wrapper, methods=[method.upper()])
        return wrapper

    return decorate


def respond(
    payload: BaseModel | list[BaseModel] | dict[str, Any],
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    if isinstance(payload, list):
        body: Any = [item.model_dump(mode="json") for item in payload]
    elif isinstance(payload, BaseModel):
        body = payload.model_dump(mode="json")
    else:
        body = payload
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


# -- the OpenAPI document ---------------------------------------------------------------------

_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                "required": ["field", "message"],
            },
        },
    },
    "required": ["type", "title", "status", "detail"],
}

_ERROR_TEXT = {
    400: "Malformed request",
    401: "Not authenticated",
    403: "Not allowed, or Upgrade required",
    404: "Not found in this organization",
    409: "Conflict",
    422: "Validation failed; `errors` names each field",
    429: "Too many requests; see Retry-After",
}

_ACCESS_TEXT = {
    "public": "No authentication.",
    "session": "Any signed-in member.",
    "admin": "Org admins.",
    "manager": "Org admins and developers.",
    "platform": "Platform admins.",
}


#: A path's record id, as the routes' converter takes it (:class:`oauth_server.RecordIdConverter`).
_RECORD_ID: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_RECORD_ID}


def _access_text(op: Operation) -> str:
    text = _ACCESS_TEXT[op.access]
    if op.key_scopes:
        text += f" API keys holding {' or '.join(op.key_scopes)}, within their team scope."
    return text


def _path(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)


def openapi_document(title: str, version: str, server_url: str) -> dict[str, Any]:
    models: set[type[BaseModel]] = set()
    for op in OPERATIONS:
        for model in (op.body, op.response):
            if model is not None:
                models.add(model)
    ordered = sorted(models, key=lambda m: m.__name__)
    _, top = models_json_schema([(m, "validation") for m in ordered], ref_template=_REF)
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    schemas["Problem"] = _PROBLEM_SCHEMA

    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        path = _path(op.rule)
        slug = re.sub(r"[^a-z0-9]+", "_", path.lower()).strip("_")
        entry: dict[str, Any] = {
            "summary": op.summary,
            "tags": [op.tag],
            "operationId": f"{op.method.lower()}_{slug}",
            "description": "\n\n".join(
                x for x in (op.description, f"Access: {_access_text(op)}") if x
            ),
        }
        if op.access != "public":
            entry["security"] = [{"sessionToken": []}]
        if op.key_scopes:
            entry["security"] += [{"apiKey": []}, {"apiKeyBearer": []}]
        params = [
            {"name": name, "in": "path", "required": True, "schema": dict(_RECORD_ID)}
            for name in re.findall(r"\{(\w+)\}", path)
        ]
        if op.query is not None:
            qschema = op.query.model_json_schema(ref_template=_REF)
            for name, prop in qschema.get("properties", {}).items():
                params.append(
                    {
                        "name": name,
                        "in": "query",
                        "required": name in qschema.get("required", []),
                        "schema": prop,
                        **({"description": prop["description"]} if "description" in prop else {}),
                    }
                )
        if params:
            entry["parameters"] = params
        if op.body is not None:
            # A body whose fields all have defaults may be left out (e.g. rotate-secret).
            entry["requestBody"] = {
                "required": bool(op.body.model_json_schema().get("required")),
                "content": {
                    "application/json": {"schema": {"$ref": _REF.format(model=op.body.__name__)}}
                },
            }
        responses: dict[str, Any] = {}
        if op.response is not None:
            ref: dict[str, Any] = {"$ref": _REF.format(model=op.response.__name__)}
            schema = {"type": "array", "items": ref} if op.many else ref
            responses[str(op.status)] = {
                "description": op.summary,
                "content": {"application/json": {"schema": schema}},
            }
        else:
            responses[str(op.status)] = {"description": op.summary}
        codes = set(op.errors)
        if op.access != "public":
            codes |= {401, 403}
        if op.body is not None:
            codes |= {400, 422}
        if op.query is not None:
            codes |= {422}
        if "{" in path:
            codes |= {404}
        for code in sorted(codes):
            responses[str(code)] = {
                "description": _ERROR_TEXT[code],
                "content": {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                },
            }
        entry["responses"] = responses
        paths.setdefault(path, {})[op.method.lower()] = entry

    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "sessionToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A session token from POST /api/sessions",
                },
                "apiKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-API-Key",
                    "description": "An API key (also accepted as a bare Authorization header)",
                },
                "apiKeyBearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key as the bearer credential",
                },
            },
        },
    }
