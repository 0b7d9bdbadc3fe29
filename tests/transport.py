"""HTTP as ``requests`` speaks it, answered by an app in this process where one is mounted.

The tests of both tiers speak to Latchkey through ``requests`` (``Api``, the OAuth calls, the
console's cookie jar, OAuth client libraries). A live server is reached over a socket; an
in-process app (``tests/web``) is mounted here under its base URL, and every session made by
:func:`session` hands that app's requests to Flask's test client instead. The request is the
one ``requests`` prepared (its encoded body, Basic credentials, cookies, headers) and the
answer is a ``requests.Response``, so a test reads the same bytes, statuses and headers in
both tiers, and its assertions are the same lines.
"""

from __future__ import annotations

from email.message import Message
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import Flask
from requests.adapters import BaseAdapter
from requests.cookies import extract_cookies_to_jar
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

#: Base URL (with its trailing slash) → the adapter that answers it.
_MOUNTED: dict[str, InProcess] = {}


class _Raw:
    """What ``requests`` reads from a response's connection: only the headers, for its cookie
    jar (``http.cookiejar`` asks for every ``Set-Cookie`` line); the body is read already."""

    def __init__(self, headers: list[tuple[str, str]]) -> None:
        self.msg = Message()
        for name, value in headers:
            self.msg[name] = value
        self._original_response = self

    def info(self) -> Message:
        return self.msg

    def close(self) -> None:
        pass

    def release_conn(self) -> None:
        pass


class InProcess(BaseAdapter):
    """A ``requests`` transport that hands each request to an app through Flask's test client,
    from ``remote_addr`` (what a socket would show as the client's address)."""

    def __init__(self, app: Flask, remote_addr: str = "127.0.0.1") -> None:
        super().__init__()
        # Cookies are the session's, as with a socket: the client only carries the request.
        self._client = app.test_client(use_cookies=False)
        self._remote_addr = remote_addr

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **_transport: Any
    ) -> requests.Response:
        body = request.body
        if body is not None and not isinstance(body, bytes | str):
            # A generator is sent chunked, and how a server decodes chunks is the server's:
            # such tests belong to the live tier (tests/live/test_oauth_flow.py).
            raise NotImplementedError("chunked request bodies need a real server (tests/live)")
        url = urlsplit(request.url or "")
        answer = self._client.open(
            url.path or "/",
            base_url=f"{url.scheme}://{url.netloc}",
            method=request.method or "GET",
            query_string=url.query,
            headers=list(request.headers.items()),
            data=body.encode() if isinstance(body, str) else (body or b""),
            environ_base={"REMOTE_ADDR": self._remote_addr},
        )
        try:
            content = answer.get_data()
            headers = list(answer.headers.items())
        finally:
            answer.close()
        return _response(request, answer.status_code, headers, content, self)

    def close(self) -> None:
        pass


def _response(
    request: requests.PreparedRequest,
    status: int,
    headers: list[tuple[str, str]],
    content: bytes,
    adapter: BaseAdapter,
) -> requests.Response:
    """The answer as ``requests`` builds it from a socket (repeated headers joined with
    ``, ``, as urllib3 joins them)."""
    response = requests.Response()
    response.status_code = status
    joined: dict[str, list[str]] = {}
    for name, value in headers:
        joined.setdefault(name, []).append(value)
    response.headers = CaseInsensitiveDict({k: ", ".join(v) for k, v in joined.items()})
    response.encoding = get_encoding_from_headers(response.headers)
    response.reason = HTTPStatus(status).phrase
    response.url = request.url or ""
    response.request = request
    response.connection = adapter
    response.raw = _Raw(headers)
    response._content = content
    response._content_consumed = True
    extract_cookies_to_jar(response.cookies, request, response.raw)
    return response


def mount(base_url: str, app: Flask) -> None:
    """Answer ``base_url`` (scheme and host, no path) with ``app``, in every later session."""
    _MOUNTED[base_url.rstrip("/") + "/"] = InProcess(app)


def unmount(base_url: str) -> None:
    _MOUNTED.pop(base_url.rstrip("/") + "/", None)


def route(http: requests.Session) -> None:
    """Send ``http``'s requests for mounted apps to them (any ``requests.Session``: an OAuth
    client library's, say); the rest go out over sockets as before."""
    for prefix, adapter in _MOUNTED.items():
        http.mount(prefix, adapter)


def session() -> requests.Session:
    """A ``requests.Session`` that reaches mounted apps in process, and servers over HTTP."""
    http = requests.Session()
    route(http)
    return http


def request(method: str, url: str, **kwargs: Any) -> requests.Response:
    """``requests.request``, through :func:`session`."""
    with session() as http:
        return http.request(method, url, **kwargs)


def get(url: str, **kwargs: Any) -> requests.Response:
    return request("GET", url, **kwargs)


def post(url: str, **kwargs: Any) -> requests.Response:
    return request("POST", url, **kwargs)
