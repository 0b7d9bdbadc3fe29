"""A caller of the management API, for every tier: signed in by a session token or an API
key, over :mod:`tests.transport` (a live server's socket, or an app in this process)."""

from __future__ import annotations

from typing import Any

import requests

from tests import transport

#: The first admin of every test server (org "Default"'s admin, and a platform admin).
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "correct horse battery staple"


class Api:
    """A signed-in caller of the management API (``Authorization: Bearer <session>``)."""

    def __init__(self, base: str, token: str | None = None) -> None:
        self.base = base
        self.http = transport.session()
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    @classmethod
    def with_key(cls, base: str, key: str, style: str = "bearer") -> Api:
        """A caller that sends an API key: as ``Authorization: Bearer``, as a bare
        ``Authorization`` header (``bare``), or as ``X-API-Key`` (``x-api-key``)."""
        api = cls(base)
        if style == "bearer":
            api.http.headers["Authorization"] = f"Bearer {key}"
        elif style == "bare":
            api.http.headers["Authorization"] = key
        elif style == "x-api-key":
            api.http.headers["X-API-Key"] = key
        else:
            raise ValueError(style)
        return api

    @classmethod
    def login(cls, base: str, email: str, password: str) -> Api:
        r = transport.post(
            f"{base}/api/sessions", json={"email": email, "password": password}, timeout=10
        )
        assert r.status_code == 201, r.text
        return cls(base, r.json()["token"])

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.http.request(method, self.base + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        """The JSON body of a call that must succeed with ``status``."""
        r = self.request(method, path, **kwargs)
        assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text}"
        return r.json()
