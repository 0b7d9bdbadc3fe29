"""The console as a browser without JavaScript sees it, for the tiers that speak HTTP to it:
a cookie jar that posts forms with their CSRF token, and the text and attributes of the
elements a page holds."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import requests

from tests import transport


class _ById(HTMLParser):
    """The text inside the element with a given id, and the attributes of every element."""

    def __init__(self, wanted: str) -> None:
        super().__init__()
        self.wanted = wanted
        self.depth = 0
        self.text: list[str] = []
        self.attrs: dict[str, dict[str, str | None]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.attrs[str(found["id"])] = found
        if self.depth:
            self.depth += 1
        elif found.get("id") == self.wanted:
            self.depth = 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.text.append(data)


def text_of(html: str, element_id: str) -> str:
    parser = _ById(element_id)
    parser.feed(html)
    assert element_id in parser.attrs, f"no element #{element_id}"
    return " ".join("".join(parser.text).split())


def attrs_of(html: str, element_id: str) -> dict[str, str | None]:
    parser = _ById(element_id)
    parser.feed(html)
    return parser.attrs[element_id]


class Console:
    """A browser without JavaScript: a cookie jar, and forms posted with their CSRF token."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = transport.session()

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.get(self.base + path, timeout=10, allow_redirects=False, **kwargs)

    def csrf_token(self, path: str) -> str:
        r = self.http.get(self.base + path, timeout=10)
        match = re.search(r'name="csrf_token"[^>]* value="([^"]+)"', r.text)
        assert match, f"no CSRF token on {path}: {r.status_code}"
        return match.group(1)

    def post(
        self, path: str, data: dict[str, Any], form_page: str | None = None
    ) -> requests.Response:
        """POST like the form on ``form_page`` (default: ``path``) would."""
        data = {"csrf_token": self.csrf_token(form_page or path), **data}
        return self.http.post(self.base + path, data=data, timeout=10, allow_redirects=False)

    def login(self, email: str, password: str) -> requests.Response:
        return self.post("/login", {"email": email, "password": password})
