"""The OAuth POST endpoints (token, introspection, revocation) served as plain WSGI.

Resource servers call introspection on every request they serve and machine clients ask for
tokens all day, so what these endpoints cost per request is the operator's bill. Through
Flask, the framework around them cost more than everything Latchkey did for them: a request
context, URL routing, context-local proxies, the response object and the after-request hooks
(the benchmark's profile; the README's "Benchmark" has the figures). So they are answered here,
in front of Flask, with only what they use: Werkzeug's form parser, an app context (for the
database session and the services), and Authlib's authorization server, which does all the
protocol work exactly as before. Every other path goes on to Flask untouched.

What the blueprint did for these endpoints is done here too: the per-client and per-address
throttle on failed client authentication, RFC 6749 §5.2 JSON for HTTP-level errors (413, 405),
and the security headers every response carries.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from werkzeug.datastructures import EnvironHeaders, MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.formparser import parse_form_data

from keys.freshness import StampNotWritten
from oauth_server import throttle
from oauth_server.headers import security_headers
from oauth_server.oauth.clients import looks_like_client_id
from oauth_server.outages import OUTAGES, REDIS, RETRY_AFTER_SECONDS, unavailable
from oauth_server.request_log import note_credential
from oauth_server.services import Services, bound

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from flask import Flask

    from oauth_server.oauth.server import LatchkeyAuthorizationServer

log = logging.getLogger("latchkey")

#: Path → the Authlib endpoint that answers it ("token" is the grant's token endpoint).
ENDPOINTS = {
    "/oauth/token": "token",
    "/oauth/introspect": "introspection",
    "/oauth/revoke": "revocation",
}

CLIENT_AUTH_LIMIT = "LATCHKEY_CLIENT_AUTH_LIMIT"

NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))

Headers = list[tuple[str, str]]


class Form(MultiDict[str, str]):
    """The body's parameters. ``get`` of an absent one returns the default at once, where
    Werkzeug's raises and catches an exception for each: Authlib asks for several
    parameters a request does not carry, which cost a few per cent of a token request
    (the benchmark's profile)."""

    def get(self, key: str, default: Any = None, type: Any = None) -> Any:  # type: ignore[override]
        values = dict.get(self, key)
        if not values:
            return default
        if type is None:
            return values[0]
        try:
            return type(values[0])
        except (ValueError, TypeError):
            return default


class FormPayload(OAuth2Payload):
    """The request's parameters, as Authlib reads them: the body's form (a request with a
    query string is refused before this exists)."""

    def __init__(self, values: MultiDict[str, str]) -> None:
        self._values = values

    @property
    def data(self) -> MultiDict[str, str]:
        return self._values

    @property
    def datalist(self) -> dict[str, list[str]]:  # type: ignore[override]
        return self._values.to_dict(flat=False)


class WsgiOAuth2Request(OAuth2Request):
    """Authlib's request, read straight from the WSGI environ; ``uri`` is the endpoint's
    public URL under the issuer (what the client addressed, behind any proxy)."""

    def __init__(self, environ: WSGIEnvironment, uri: str, form: MultiDict[str, str]) -> None:
        super().__init__(environ["REQUEST_METHOD"], uri, headers=EnvironHeaders(environ))
        self._form = form
        self.payload = FormPayload(form)
        #: The client's address (ProxyFix has already applied ``LATCHKEY_PROXY_HOPS``).
        self.remote_addr: str | None = environ.get("REMOTE_ADDR")
        #: RFC 6749 §2.3.1 client ID and secret from ``Authorization: Basic``, decoded once
        #: for the throttle and client authentication both.
        self.basic_credentials = basic_credentials(self.headers)

    @property
    def args(self) -> MultiDict[str, str]:
        return MultiDict()

    @property
    def form(self) -> MultiDict[str, str]:
        return self._form


def basic_credentials(headers: EnvironHeaders) -> tuple[str | None, str | None]:
    """RFC 6749 §2.3.1's HTTP Basic client ID and secret, as Authlib reads them, or
    ``(None, None)``. A header Authlib cannot read is nobody's credentials (every client ID
    and secret of ours is ASCII): decoded bytes that are not UTF-8, a value that is not ASCII
    (``b64decode`` refuses it), or ``Basic`` and spaces with nothing after them (its split
    finds one word). A failed authentication, not a server error."""
    try:
        return extract_basic_authorization(headers)  # type: ignore[no-any-return]
    except ValueError:  # UnicodeDecodeError among them
        return None, None


def leave_transport_to_the_proxy() -> None:
    """Authlib's request refuses a URL that is neither ``https://`` nor loopback ("OAuth 2
    MUST utilize https") unless its documented switch ``AUTHLIB_INSECURE_TRANSPORT`` is set.

    Latchkey never sees TLS: it serves plain HTTP behind the operator's TLS-terminating proxy
    or on loopback, and an ``http://`` issuer works as is (DESIGN.md, "Transport"), so
    Authlib's check of the URL it is handed could only refuse deployments that are right.
    The switch is set for the process (unless the operator set it): with it, the check is one
    environment read, where parsing the URL and its address on every request cost four times
    what building the rest of the request does. Authlib is used by nothing else here."""
    os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")


class OAuthEndpoints:
    """WSGI middleware that answers the OAuth POST endpoints and passes everything else on."""

    def __init__(
        self, flask_app: Flask, server: LatchkeyAuthorizationServer, downstream: WSGIApplication
    ) -> None:
        self._flask_app = flask_app
        self._server = server
        self._downstream = downstream
        self._max_content_length: int | None = flask_app.config["MAX_CONTENT_LENGTH"]
        self._issuer: str = flask_app.config["LATCHKEY_ISSUER"]
        self._services: Services = flask_app.extensions["latchkey"]
        self._security_headers = tuple(security_headers(self._issuer))
        #: Each endpoint's public URL, the ``uri`` of its Authlib requests.
        self._urls = {endpoint: self._issuer + path for path, endpoint in ENDPOINTS.items()}
        leave_transport_to_the_proxy()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        endpoint = ENDPOINTS.get(environ.get("PATH_INFO", ""))
        if endpoint is None:
            return self._downstream(environ, start_response)
        with self._flask_app.app_context(), bound(self._services):
            status, body, headers = self._respond(endpoint, environ)
        payload = json.dumps(body).encode() if isinstance(body, dict) else body
        headers = [*headers, *self._security_headers, ("Content-Length", str(len(payload)))]
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [payload]

    def _respond(self, endpoint: str, environ: WSGIEnvironment) -> tuple[int, Any, Headers]:
        if environ["REQUEST_METHOD"] != "POST":
            return _error(405, "invalid_request", "Use POST.", [("Allow", "POST")])
        if environ.get("QUERY_STRING"):
            # RFC 6749 §2.3.1, §4.4.2, RFC 7662 §2.1, RFC 7009 §2.1: parameters travel in the
            # body. Read from the URL, a ``scope`` there would override the body's; ignored,
            # the client would silently get every scope of its app instead of the ones asked.
            return _error(
                400,
                "invalid_request",
                "Send the parameters in the form-encoded request body, not in the URL.",
            )
        try:
            form = self._form(environ)
        except HTTPException as error:  # 413: a body over MAX_CONTENT_LENGTH
            return _error(error.code or 400, "invalid_request", error.description or error.name)
        request = WsgiOAuth2Request(environ, self._urls[endpoint], form)
        try:
            return self._answer(endpoint, request)
        except StampNotWritten as exc:  # a revocation (or a throttle lock) saved, not announced
            OUTAGES.failed(REDIS, exc)
            return _error(
                503,
                "temporarily_unavailable",
                "The change was saved, but other Latchkey processes could not be told (Redis "
                "is unreachable). Retry once Redis is back.",
                [("Retry-After", str(RETRY_AFTER_SECONDS))],
            )
        except Exception as exc:
            down = unavailable(exc)  # RFC 6749 §4.1.2.1's code for a server that cannot now
            if down is not None:
                return _error(
                    503, "temporarily_unavailable", down.description, [*down.headers.items()]
                )
            log.exception("unhandled error on POST %s", environ.get("PATH_INFO"))
            return _error(500, "server_error", "Something went wrong on our side.")
        finally:  # the request log names the client that authenticated (a public ID)
            note_credential(environ, request.client and request.client.get_client_id())

    def _form(self, environ: WSGIEnvironment) -> MultiDict[str, str]:
        """The body's parameters. RFC 6749 clients send a urlencoded body with its length;
        that is read as Werkzeug's form parser reads it (the same ``parse_qsl`` call), without
        its generic stream and header machinery, which cost a tenth of an introspection.
        Anything else (multipart, chunked, a body over the limit) goes to the parser itself."""
        length = environ.get("CONTENT_LENGTH", "")
        mimetype = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
        if (
            mimetype == "application/x-www-form-urlencoded"
            and length.isdigit()
            and (self._max_content_length is None or int(length) <= self._max_content_length)
        ):
            try:
                text = environ["wsgi.input"].read(int(length)).decode()
            except UnicodeDecodeError:
                return Form()  # as the parser answers it
            return Form(parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote"))
        _, form, _ = parse_form_data(environ, max_content_length=self._max_content_length)
        return Form(form)

    def _answer(self, endpoint: str, request: WsgiOAuth2Request) -> tuple[int, Any, Headers]:
        """Authlib's answer; a failed client authentication (401) past 20 a minute from the
        source address, or from it for the same client ID (DESIGN.md, "Limits"), becomes a
        429 with ``Retry-After`` until the window resets.

        Only failures are refused: a correct secret authenticates whatever others sent. A
        client ID is not a secret, so a lock on it alone would let anyone who knows one
        switch that app or resource server off; the address is in every key, so failures
        from elsewhere cannot lock a client out of its own address."""
        server = self._server
        if endpoint == "token":
            status, body, headers = server.create_token_response(request)
        else:
            status, body, headers = server.create_endpoint_response(endpoint, request)
        if status != 401:
            return status, body, headers
        client_id = request.basic_credentials[0] or request.form.get("client_id") or ""
        if not looks_like_client_id(client_id):
            client_id = "(none)"  # no key of unbounded, attacker-chosen text
        # Namespaced by issuer, as the sign-in limits are: deployments may share one Redis.
        address = f"{self._issuer} ip:{request.remote_addr}"
        exhausted = throttle.refuse_failure(
            CLIENT_AUTH_LIMIT, address, f"{address} client:{client_id}"
        )
        if exhausted is None:
            return status, body, headers
        return _error(
            429,
            "temporarily_unavailable",
            "Too many failed client authentications from this address; retry later.",
            [("Retry-After", str(exhausted.retry_after))],
        )


def _error(
    status: int, error: str, description: str, extra: Headers | None = None
) -> tuple[int, dict[str, str], Headers]:
    """An error in RFC 6749 §5.2's JSON shape, never cached."""
    headers: Headers = [("Content-Type", "application/json"), *NO_STORE, *(extra or [])]
    return status, {"error": error, "error_description": description}, headers
