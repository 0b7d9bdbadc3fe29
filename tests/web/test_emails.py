"""Emails are one rule wherever they come in: the API, sign-in and the CSV import. (The first
admin, from the settings of a start, and the migration that brings stored emails under the
rule are tests/live/test_emails.py.)

An address typed in fullwidth letters or another case is the same account; an address with
an invisible character is refused, naming the field; an address in another script (a
Cyrillic a for a Latin one) is a different address and is allowed. And an org admin gets the
same answer for an address that is taken in their org and one taken in another org.
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.api import ADMIN_PASSWORD, Api
from tests.credentials import fullwidth
from tests.fixtures import unique
from tests.web.server import WebServer

Item = dict[str, Any]
MakeOrg = Callable[..., tuple[Item, Api]]

INVISIBLE = {
    "soft hyphen": "\u00ad",
    "zero-width space": "\u200b",
    "zero-width joiner": "\u200d",
    "byte order mark": "\ufeff",
    "left-to-right mark": "\u200e",
}
CYRILLIC_A = "\u0430"


def new_address() -> str:
    return f"{unique('ada')}@example.com"


def add(api: Api, email: str, **fields: Any) -> requests.Response:
    body = {"email": email, "name": "Ada", "role": "member", **fields}
    return api.post("/api/users", json=body)


def refusal(r: requests.Response) -> tuple[int, tuple[tuple[str, str], ...]]:
    """The status and the (field, message) pairs of a problem answer."""
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.text
    return r.status_code, tuple((e["field"], e["message"]) for e in r.json()["errors"])


def test_an_address_in_another_form_or_case_is_the_same_account(
    server: WebServer, make_org: MakeOrg
) -> None:
    _, api = make_org()
    email = new_address()
    typed = fullwidth(email.upper())
    created = api.ok("POST", "/api/users", 201, json={**member(typed), "password": ADMIN_PASSWORD})
    assert created["email"] == email  # stored as compared: NFKC, then casefolded
    answers = {refusal(add(api, again)) for again in variants(email)}
    assert len(answers) == 1, answers  # one account, one answer, whichever form was typed
    status, errors = answers.pop()
    assert status == 422 and [field for field, _ in errors] == ["email"]
    for form in (email, email.upper(), typed, f"  {fullwidth(email)} "):
        Api.login(server.url, form, ADMIN_PASSWORD)


def member(email: str) -> Item:
    return {"email": email, "name": "Ada", "role": "member"}


def variants(email: str) -> list[str]:
    return [email, email.upper(), email.title(), fullwidth(email), fullwidth(email.upper())]


@pytest.mark.parametrize("character", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_an_address_with_an_invisible_character_is_refused_naming_the_field(
    admin: Api, character: str
) -> None:
    local, _, domain = new_address().partition("@")
    disguised = f"{local[:2]}{character}{local[2:]}@{domain}"
    r = add(admin, disguised)
    status, errors = refusal(r)
    assert status == 422 and [field for field, _ in errors] == ["email"], r.text
    message = errors[0][1]
    assert f"U+{ord(character):04X}" in message and unicodedata.name(character).lower() in message
    emails = [u["email"] for u in admin.ok("GET", "/api/users", params={"limit": 200})]
    assert not any(local[2:] in e for e in emails)


def test_an_address_in_another_script_is_another_address(make_org: MakeOrg) -> None:
    """A Cyrillic a is not a Latin a: NFKC keeps it, and so does Latchkey. The address is a
    different one (a mail server delivers it elsewhere), visibly so in every list."""
    _, api = make_org()
    latin = new_address()
    cyrillic = latin.replace("a", CYRILLIC_A, 1)
    assert api.ok("POST", "/api/users", 201, json=member(latin))["email"] == latin
    other = api.ok("POST", "/api/users", 201, json=member(cyrillic))
    assert other["email"] == cyrillic != latin
    assert {u["email"] for u in api.ok("GET", "/api/users")} >= {latin, cyrillic}


def test_a_taken_address_gets_one_answer_whichever_org_holds_it(
    admin: Api, make_org: MakeOrg
) -> None:
    """An org admin cannot tell an address of another org's member from one of their own;
    a platform admin, who sees every org, is told which org holds it."""
    elsewhere, other_admin = make_org()
    here, api = make_org()
    theirs, ours = new_address(), new_address()
    other_admin.ok("POST", "/api/users", 201, json=member(theirs))
    api.ok("POST", "/api/users", 201, json=member(ours))

    def answer(email: str) -> tuple[int, str]:
        r = add(api, fullwidth(email.upper()))
        status, errors = refusal(r)
        assert [field for field, _ in errors] == ["email"], r.text
        return status, errors[0][1].replace(email, "<address>")

    assert answer(theirs) == answer(ours)
    assert answer(theirs)[0] == 422
    precise = add(admin, theirs, org_id=here["id"])
    assert precise.status_code == 422
    assert f"organization {elsewhere['id']}" in precise.json()["errors"][0]["message"]


def test_the_csv_import_reads_emails_by_the_same_rule(
    make_org: MakeOrg, import_user_keys: Callable[..., Any]
) -> None:
    org, api = make_org()
    email = new_address()
    api.ok("POST", "/api/users", 201, json=member(email))

    def csv_row(address: str) -> dict[str, str]:
        return {
            "email": address,
            "name": "Old CRM sync",
            "token": f"pat-{secrets.token_hex(20)}",
            "created_at": "2022-02-03T04:05:06Z",
            "scopes": "people:read",
        }

    refused = import_user_keys(org["id"], [csv_row(email.replace("@", "\u200b@"))])
    assert refused.returncode != 0 and "line 2: email" in refused.stderr, refused.stderr
    assert "U+200B" in refused.stderr
    done = import_user_keys(org["id"], [csv_row(fullwidth(email.upper()))])
    assert done.returncode == 0, done.stderr
    assert "0 new member(s)" in done.stdout, done.stdout
    owners = [k["owner"]["email"] for k in api.ok("GET", "/api/user-keys")]
    assert owners == [email]
