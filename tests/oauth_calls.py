"""The OAuth calls most tests make, in every tier: ask for a token, introspect it; and what
an RFC 6749 §5.2 error must look like."""

from __future__ import annotations

from typing import Any

import requests

from tests import transport


def creds(app: dict[str, Any]) -> tuple[str, str]:
    return app["client_id"], app["client_secret"]


def token_request(
    server: Any,
    data: dict[str, Any] | None = None,
    auth: tuple[str, str] | None = None,
    http: requests.Session | None = None,
) -> requests.Response:
    """``POST /oauth/token`` with the client-credentials grant and ``data``."""
    form = {"grant_type": "client_credentials", **(data or {})}
    return (http or transport).post(f"{server.url}/oauth/token", data=form, auth=auth, timeout=10)


def assert_error(r: requests.Response, status: int, error: str) -> dict[str, Any]:
    """An RFC 6749 §5.2 error: status, JSON ``error``, never cached; 401 names its scheme."""
    assert r.status_code == status, f"{r.status_code} {r.text}"
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = r.json()
    assert body["error"] == error, body
    if status == 401:
        challenge = r.headers.get("WWW-Authenticate", "")
        assert challenge.startswith('Basic realm="'), r.headers  # RFC 7617 §2: realm
        assert 'error="invalid_client"' in challenge
    return body


def issue(server: Any, app: dict[str, Any], **data: Any) -> str:
    """An access token for ``app`` (client_secret_basic); the call must succeed."""
    r = transport.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "client_credentials", **data},
        auth=(app["client_id"], app["client_secret"]),
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def introspect(server: Any, rs: dict[str, Any], token: str, **extra: str) -> dict[str, Any]:
    """The introspection answer for ``token``, asked by resource server ``rs``.

    A new connection each time, so that both workers of a live server get to answer."""
    r = transport.post(
        f"{server.url}/oauth/introspect",
        data={"token": token, **extra},
        auth=(rs["client_id"], rs["client_secret"]),
        headers={"Connection": "close"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    assert r.headers["Cache-Control"] == "no-store"
    return r.json()  # type: ignore[no-any-return]


def introspect_response(
    server: Any, caller: dict[str, Any] | None, data: dict[str, str], **kwargs: Any
) -> requests.Response:
    """``POST /oauth/introspect`` with ``data``, as ``caller`` (Basic) or as no one."""
    auth = (caller["client_id"], caller["client_secret"]) if caller else None
    return transport.post(
        f"{server.url}/oauth/introspect", data=data, auth=auth, timeout=10, **kwargs
    )


def inactive_everywhere(server: Any, rs: dict[str, Any], token: str, **extra: str) -> None:
    """Exactly ``{"active": false}``, asked ten times: on a live server, of each worker."""
    for _ in range(10):
        assert introspect(server, rs, token, **extra) == {"active": False}


def revoke(server: Any, app: dict[str, Any], token: str) -> None:
    """RFC 7009 revocation of ``token`` by its ``app``; the call must succeed."""
    r = transport.post(
        f"{server.url}/oauth/revoke",
        data={"token": token},
        auth=(app["client_id"], app["client_secret"]),
        timeout=10,
    )
    assert r.status_code == 200, r.text
