"""schemathesis against the management API's own OpenAPI document: every operation, signed in.

Each generated request is sent with the admin's session token, and for the operations that
admit an API key also with a ``keys:write``/``keys:delete`` key (as ``X-API-Key`` and as the
bearer credential, by turns). Whatever schemathesis sends, valid or not, the answer is never a
server error, and it is what the document says it is: a declared status code and content
type, and a body that validates against the declared schema.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
import schemathesis
from flask import Flask
from schemathesis import checks
from schemathesis.specs.openapi import checks as openapi_checks

from tests.fuzz.conftest import ANSWERS, Caller, fuzz_settings

#: Examples per operation and credential in CI (schemathesis adds its coverage cases).
EXAMPLES = 20

CHECKS = [
    checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
]


def _document() -> dict[str, Any]:
    """The document ``/openapi.json`` serves (``test_the_served_document_is_the_one_fuzzed``
    holds the two together), built without an app so that the operations are known when
    pytest collects the tests."""
    from oauth_server.api import register_views
    from oauth_server.api.spec import openapi_document

    register_views()
    return openapi_document("Latchkey management API", "1", "http://localhost")


class CurrentApp:
    """The app of the backend being fuzzed: the document is loaded before any app exists,
    and schemathesis sends every request, its own probes included, to the schema's app."""

    app: Flask | None = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        assert self.app is not None
        return self.app(environ, start_response)


DOCUMENT = _document()
CURRENT = CurrentApp()
schema = schemathesis.openapi.from_dict(DOCUMENT)
schema.app = CURRENT


def test_the_served_document_is_the_one_fuzzed(caller: Caller) -> None:
    served = caller.client.get("/openapi.json").get_json()
    assert served == {**DOCUMENT, "servers": served["servers"]}  # the app's own issuer


def _accepts_keys(case: Any) -> bool:
    return any("apiKey" in s for s in case.operation.definition.raw.get("security", []))


def _renew(caller: Caller, case: Any) -> None:
    """Renew what the request may have spent."""
    path = case.operation.path
    if path == "/api/sessions/current":
        caller.sign_in()
    if (
        path.startswith("/api/keys/{key_id}")
        and case.path_parameters.get("key_id") == caller.key_id
    ):
        caller.new_key()
    if path == "/api/orgs/{org_id}" and case.method == "PATCH":
        caller.restore_org()


@schema.parametrize()
@fuzz_settings(EXAMPLES)
def test_no_server_error_and_as_documented(case: Any, caller: Caller) -> None:
    CURRENT.app = caller.client.application
    response = case.call_and_validate(headers=caller.session(), checks=CHECKS)
    ANSWERS["management API", response.status_code] += 1
    _renew(caller, case)
    if _accepts_keys(case):
        response = case.call_and_validate(headers=caller.key_headers(), checks=CHECKS)
        ANSWERS["management API (API key)", response.status_code] += 1
        _renew(caller, case)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/api/keys/0"),
        ("PATCH", "/api/keys/0"),
        ("DELETE", "/api/apps/0"),
        ("DELETE", "/api/apps/2147483648"),
        ("PATCH", "/api/orgs/0"),
    ],
)
def test_a_path_that_names_no_record_is_not_found(caller: Caller, method: str, path: str) -> None:
    """Found by the fuzz above: these were 405s naming methods that do not serve the path
    either (``GET /api/keys/0`` was already a 404)."""
    answer = caller.client.open(path, method=method, json={}, headers=caller.session())
    assert answer.status_code == 404, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"


def test_a_method_no_route_serves_is_still_not_allowed(caller: Caller) -> None:
    answer = caller.client.put("/api/keys/1", json={}, headers=caller.session())
    assert answer.status_code == 405
    assert set(answer.headers["Allow"].split(", ")) >= {"GET", "PATCH", "DELETE"}


def test_a_team_name_taken_in_any_case_is_refused(caller: Caller) -> None:
    """Found by the longer fuzz: on SQLite a second team named with a capital that is not
    ASCII ("Équipe") was a 500, and "équipe" beside "Équipe" was allowed (on PostgreSQL
    both were the 422 that ASCII names get)."""
    taken = f"Équipe Ørsted {secrets.token_hex(4)}"  # schemathesis sends this file's strings
    assert caller.post("/api/teams", {"name": taken})["name"] == taken
    for name in (taken, taken.lower(), taken.upper()):
        answer = caller.client.post("/api/teams", json={"name": name}, headers=caller.session())
        assert answer.status_code == 422, answer.get_data(as_text=True)
        assert [e["field"] for e in answer.get_json()["errors"]] == ["name"]
