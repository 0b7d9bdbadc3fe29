"""The OAuth calls most live tests make: get a token, introspect it, revoke it."""

from __future__ import annotations

from typing import Any

import requests

from tests.live.server import LiveServer


def issue(server: LiveServer, app: dict[str, Any], **data: Any) -> str:
    """An access token for ``app`` (client_secret_basic); the call must succeed."""
    r = requests.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "client_credentials", **data},
        auth=(app["client_id"], app["client_secret"]),
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def introspect(server: LiveServer, rs: dict[str, Any], token: str, **extra: str) -> dict[str, Any]:
    """The introspection answer for ``token``, asked by resource server ``rs``.

    A new connection each time, so that both workers of the server get to answer."""
    r = requests.post(
        f"{server.url}/oauth/introspect",
        data={"token": token, **extra},
        auth=(rs["client_id"], rs["client_secret"]),
        headers={"Connection": "close"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    assert r.headers["Cache-Control"] == "no-store"
    return r.json()  # type: ignore[no-any-return]


def revoke(server: LiveServer, app: dict[str, Any], token: str) -> None:
    """RFC 7009 revocation of ``token`` by its ``app``; the call must succeed."""
    r = requests.post(
        f"{server.url}/oauth/revoke",
        data={"token": token},
        auth=(app["client_id"], app["client_secret"]),
        timeout=10,
    )
    assert r.status_code == 200, r.text
