"""hypothesis on the raw requests of the three OAuth POST endpoints: whatever the body, the
headers and the client's credentials, the answer is RFC 6749 JSON and never a server error.

Three shapes of request, each over all three endpoints: arbitrary bytes under arbitrary
``Content-Type`` and ``Content-Length`` values; form-encoded bodies of the endpoints' own
parameters (repeated, odd grant types, real and broken credentials and tokens); and
``Authorization`` headers of every kind, HTTP Basic included with base64 of any bytes
(non-UTF-8, NUL, a colon or none, huge).

Every answer (RFC 6749 §5.1/§5.2, RFC 7662 §2.2, RFC 7009 §2.2): a status below 500; a JSON
object, holding an ``error`` string on any 4xx; ``Cache-Control: no-store``; a 401 names its
scheme in ``WWW-Authenticate``; and no traceback in the body.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from tests.fuzz.conftest import ANSWERS, Caller, fuzz_settings

PATHS = ["/oauth/token", "/oauth/introspect", "/oauth/revoke"]
FORM = "application/x-www-form-urlencoded"
#: Examples per test in CI.
EXAMPLES = 400

PARAMETERS = [
    "grant_type",
    "scope",
    "client_id",
    "client_secret",
    "token",
    "token_type_hint",
    "resource",
    "team",
    "audience",
]


@dataclass(frozen=True)
class Material:
    """Genuine credentials, so that fuzzed requests also get past client authentication."""

    app: tuple[str, str]
    jwt_app: tuple[str, str]
    resource_server: tuple[str, str]
    tokens: tuple[str, ...]


@pytest.fixture(scope="session")
def material(caller: Caller) -> Material:
    scopes = ["people:read", "leads:read"]
    app = caller.post("/api/apps", {"name": "Fuzz app", "scopes": scopes, "team_id": None})
    jwt_app = caller.post(
        "/api/apps",
        {"name": "Fuzz JWT app", "scopes": scopes, "team_id": None, "token_format": "jwt"},
    )
    rs = caller.post(
        "/api/resource-servers", {"name": "Fuzz API", "audience": "https://fuzz.example.com"}
    )
    key = caller.post("/api/keys", {"name": "Fuzz key", "scopes": scopes, "team_id": None})
    tokens = [key["key"], caller.session_token]
    for made in (app, jwt_app):
        answer = caller.client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": _basic(made["client_id"], made["client_secret"])},
        )
        assert answer.status_code == 200, answer.get_data(as_text=True)
        tokens.append(answer.get_json()["access_token"])
    return Material(
        app=(app["client_id"], app["client_secret"]),
        jwt_app=(jwt_app["client_id"], jwt_app["client_secret"]),
        resource_server=(rs["client_id"], rs["client_secret"]),
        tokens=tuple(tokens),
    )


def _basic(user: str | bytes, password: str | bytes = b"") -> str:
    raw = (user if isinstance(user, bytes) else user.encode()) + b":"
    raw += password if isinstance(password, bytes) else password.encode()
    return "Basic " + base64.b64encode(raw).decode()


# -- strategies -------------------------------------------------------------------------------

#: Text a client might send, and text no client should: control characters, NUL, surrogates
#: escaped by the encoder, very long runs.
odd_text = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(codec="latin-1"), max_size=40),
    st.sampled_from(["", " ", "\x00", "%00", "%ff%fe", "a" * 5000, "😀", "\r\n", "null", "[]"]),
)


def _huge(low: int, high: int) -> st.SearchStrategy[bytes]:
    """Between ``low`` and ``high`` bytes: a short random run, repeated (drawing that many
    bytes one by one would cost Hypothesis more than the request does)."""
    return st.builds(
        lambda run, size: (run * (size // len(run) + 1))[:size],
        st.binary(min_size=1, max_size=16),
        st.integers(low, high),
    )


def _credential(material: Material) -> st.SearchStrategy[str]:
    """A token or key: genuine, genuine but damaged, or of our shape but made up."""
    genuine = st.sampled_from(material.tokens)
    return st.one_of(
        genuine,
        st.builds(lambda t, i: t[:i] + t[i + 1 :], genuine, st.integers(0, 60)),
        st.builds(lambda t, s: t + s, genuine, odd_text),
        st.sampled_from(["lk_", "lkat_", "lk_x_y", "eyJhbGciOiJub25lIn0.e30.", "a.b.c"]),
        odd_text,
    )


def _authorization(material: Material) -> st.SearchStrategy[str | None]:
    """An ``Authorization`` header: absent, genuine, or broken in every way we can think of."""
    clients = st.sampled_from([material.app, material.jwt_app, material.resource_server])
    any_bytes = st.binary(max_size=64)
    return st.one_of(
        st.none(),
        clients.map(lambda c: _basic(*c)),
        st.builds(lambda c, s: _basic(c[0], s), clients, st.binary(max_size=60)),
        st.builds(_basic, any_bytes, any_bytes),  # non-UTF-8, NUL, colons in either half
        any_bytes.map(lambda b: "Basic " + base64.b64encode(b).decode()),  # maybe no colon
        _huge(20_000, 40_000).map(lambda b: "Basic " + base64.b64encode(b).decode()),
        st.builds(lambda s: "Basic " + s, odd_text),  # not base64 at all
        st.sampled_from(["Basic", "Basic ", "basic Og==", "BASIC Og==", "Basic ===="]),
        _credential(material).map(lambda t: "Bearer " + t),
        st.text(st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=80),
    )


def _form(material: Material) -> st.SearchStrategy[list[tuple[str, str]]]:
    """Form parameters: the endpoints' own (each possibly repeated) and strangers."""
    name = st.one_of(st.sampled_from(PARAMETERS), odd_text)
    value = st.one_of(
        st.sampled_from(
            [
                "client_credentials",
                "authorization_code",
                "password",
                "refresh_token",
                "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "urn:ietf:params:oauth:grant-type:token-exchange",
                "CLIENT_CREDENTIALS",
                "client_credentials ",
                "people:read",
                "people:read leads:read",
                "keys:write",
                "access_token",
                "refresh_token",
                "api_key",
                "https://fuzz.example.com",
                "https://unknown.example.com",
                "1",
                "0",
                "-1",
                "99999999999999999999",
            ]
        ),
        st.sampled_from([material.app[0], material.app[1], *material.resource_server]),
        _credential(material),
        odd_text,
    )
    return st.lists(st.tuples(name, value), max_size=4, unique_by=lambda pair: pair[0])


def _urlencoded(pairs: list[tuple[str, str]]) -> bytes:
    from urllib.parse import urlencode

    return urlencode(pairs, encoding="utf-8", errors="surrogatepass").encode("ascii")


content_types = st.one_of(
    st.none(),
    st.sampled_from(
        [
            FORM,
            "application/x-www-form-urlencoded; charset=utf-8",
            "APPLICATION/X-WWW-FORM-URLENCODED",
            "application/x-www-form-urlencoded; charset=latin-1",
            "multipart/form-data",
            "multipart/form-data; boundary=x",
            'multipart/form-data; boundary=""',
            "application/json",
            "text/plain",
            ";",
            "",
        ]
    ),
    st.text(st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=40),
)

#: ``"right"``: the body's length; ``None``: no header; else a value of the header.
content_lengths = st.one_of(
    st.just("right"),
    st.none(),
    st.sampled_from(["0", "1", "-1", "abc", "1e3", " 5", "65536", "65537", "99999999999999999"]),
    st.integers(0, 200).map(str),
)


# -- sending and judging ----------------------------------------------------------------------


def send(
    client: FlaskClient,
    path: str,
    body: bytes,
    content_type: str | None,
    content_length: str | None,
    authorization: str | None,
    method: str = "POST",
) -> Any:
    """One request, its ``Content-Type`` and ``Content-Length`` exactly as given, and its
    ``Authorization`` as a WSGI server hands it on (PEP 3333: the header's bytes read as
    latin-1; a line break would have ended the header)."""
    headers = {} if authorization is None else {"Authorization": _on_the_wire(authorization)}
    environ = EnvironBuilder(path=path, method=method, data=body, headers=headers).get_environ()
    environ.pop("CONTENT_TYPE", None)
    if content_type is not None:
        environ["CONTENT_TYPE"] = content_type
    if content_length is None:
        environ.pop("CONTENT_LENGTH", None)
    elif content_length != "right":
        environ["CONTENT_LENGTH"] = content_length
    return client.open(Request(environ))


def _on_the_wire(value: str) -> str:
    sent = value.replace("\r", "").replace("\n", "").encode("utf-8", "surrogatepass")
    return sent.decode("latin-1")


def check_answer(response: Any) -> None:
    """What every answer of an OAuth endpoint must be, whatever was asked."""
    ANSWERS["OAuth endpoints", response.status_code] += 1
    text = response.get_data(as_text=True)
    assert response.status_code < 500, text
    assert "Traceback" not in text and 'File "' not in text, text
    assert response.headers.get("Cache-Control") == "no-store", response.headers
    assert response.mimetype == "application/json", response.headers
    body = json.loads(text)
    assert isinstance(body, dict), text
    if response.status_code >= 400:
        assert isinstance(body.get("error"), str) and body["error"], text
    else:
        assert response.status_code == 200, text
    if response.status_code == 401:
        assert response.headers.get("WWW-Authenticate", "").startswith("Basic"), response.headers


# -- the tests --------------------------------------------------------------------------------


@fuzz_settings(EXAMPLES)
@given(
    path=st.sampled_from(PATHS),
    body=st.one_of(st.binary(max_size=300), _huge(60_000, 70_000)),
    content_type=content_types,
    content_length=content_lengths,
    data=st.data(),
)
def test_arbitrary_bytes(
    caller: Caller,
    material: Material,
    path: str,
    body: bytes,
    content_type: str | None,
    content_length: str | None,
    data: st.DataObject,
) -> None:
    authorization = data.draw(_authorization(material))
    check_answer(send(caller.client, path, body, content_type, content_length, authorization))


def _client_of(material: Material, path: str) -> tuple[str, str]:
    """The client that may call ``path``: a resource server introspects, an app the rest."""
    return material.resource_server if path == "/oauth/introspect" else material.app


def _plausible(material: Material, path: str, data: st.DataObject) -> list[tuple[str, str]]:
    """The parameters a well-behaved client sends to ``path``."""
    if path == "/oauth/token":
        return [("grant_type", "client_credentials")]
    pairs = [("token", data.draw(_credential(material)))]
    if data.draw(st.booleans()):
        hint = ["access_token", "refresh_token", "api_key", "user_key", ""]
        pairs.append(("token_type_hint", data.draw(st.sampled_from(hint))))
    return pairs


def _authenticated(
    material: Material, path: str, pairs: list[tuple[str, str]], data: st.DataObject
) -> tuple[list[tuple[str, str]], str | None]:
    """The body and ``Authorization``: half of the time the right client's credentials (in
    the header or in the body), so that the parameters get past client authentication."""
    client_id, secret = _client_of(material, path)
    how = data.draw(st.sampled_from(["basic", "post", "fuzzed"]))
    if how == "basic":
        return pairs, _basic(client_id, secret)
    if how == "post":
        return [*pairs, ("client_id", client_id), ("client_secret", secret)], None
    return pairs, data.draw(_authorization(material))


@fuzz_settings(EXAMPLES)
@given(path=st.sampled_from(PATHS), data=st.data())
def test_form_bodies(caller: Caller, material: Material, path: str, data: st.DataObject) -> None:
    """A plausible request, with parameters added (the endpoints' own, strangers, odd grant
    types), one sent twice now and then, the required one left out now and then, in any
    order."""
    pairs = _plausible(material, path, data)
    if data.draw(st.sampled_from([False] * 7 + [True])):
        pairs = pairs[1:]  # the required parameter left out
    sent = {name for name, _ in pairs}
    pairs += [(n, v) for n, v in data.draw(_form(material)) if n not in sent]
    if pairs and data.draw(st.sampled_from([False] * 3 + [True])):
        pairs.append(data.draw(st.sampled_from(pairs)))  # a parameter sent twice
    pairs = data.draw(st.permutations(pairs))
    pairs, authorization = _authenticated(material, path, pairs, data)
    content_type = data.draw(
        st.sampled_from(
            [
                FORM,
                "application/x-www-form-urlencoded; charset=utf-8",
                "application/x-www-form-urlencoded;charset=ISO-8859-1",
            ]
        )
    )
    length = data.draw(st.sampled_from(["right", "right", None]))
    body = _urlencoded(pairs)
    check_answer(send(caller.client, path, body, content_type, length, authorization))


@fuzz_settings(EXAMPLES)
@given(path=st.sampled_from(PATHS), data=st.data())
def test_authorization_headers(
    caller: Caller, material: Material, path: str, data: st.DataObject
) -> None:
    """A plausible body for the endpoint, so that the header is what decides."""
    pairs = _plausible(material, path, data)
    if data.draw(st.booleans()):
        pairs.append(("client_id", data.draw(st.sampled_from([material.app[0], "x", ""]))))
    authorization = data.draw(_authorization(material))
    body = _urlencoded(pairs)
    check_answer(
        send(
            caller.client,
            path,
            body,
            FORM,
            "right",
            authorization,
        )
    )


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", PATHS)
def test_other_methods(caller: Caller, path: str, method: str) -> None:
    check_answer(send(caller.client, path, b"", None, "right", None, method=method))


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic ",  # nothing after the scheme: Authlib's split found one word (a 500)
        "Basic \t",
        "Basic \xe9t\xe9",  # latin-1, not base64 (b64decode refused a non-ASCII str: a 500)
        _basic(b"\xff\xfe", b"\xc3\x28"),  # decodes to bytes that are not UTF-8
        _basic(b"lkapp_\x00", b"\x00"),
        "Basic " + base64.b64encode(b"\x80" * 30_000).decode(),
    ],
    ids=["empty", "tab", "latin-1", "not-utf-8", "nul", "overlong"],
)
@pytest.mark.parametrize("path", PATHS)
def test_unreadable_basic_credentials_are_invalid_client(
    caller: Caller, path: str, authorization: str
) -> None:
    """Found by the fuzzers above: these were 500s with a traceback, unauthenticated."""
    body = b"grant_type=client_credentials&token=x"
    answer = send(caller.client, path, body, FORM, "right", authorization)
    check_answer(answer)
    assert answer.status_code == 401
    assert answer.get_json()["error"] == "invalid_client"
