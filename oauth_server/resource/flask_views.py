"""The Flask side: ``init_app`` once, then ``@require_scopes(...)`` on each view.

    resource.init_app(app, LatchkeyClient(issuer, client_id, client_secret))

    @app.get("/teams/<int:team_id>/people")
    @require_scopes("people:read", team_from="team_id")
    def people(team_id: int): ...

The credential is checked before anything of the view runs (``team_from`` included): an
unauthenticated request never reaches the operator's code.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Final, ParamSpec, TypeVar

from flask import Flask, Request, Response, current_app, g, request

from oauth_server.resource.client import LatchkeyClient
from oauth_server.resource.guard import Refusal, authenticate, check_access
from oauth_server.resource.principal import Principal

P = ParamSpec("P")
R = TypeVar("R")

EXTENSION: Final = "latchkey.resource"
#: A view argument's name, or a function of the request: the resource's team id (None: a
#: resource of no team, whatever the credential's team).
TeamFrom = str | Callable[[Request], object]


def init_app(app: Flask, client: LatchkeyClient) -> None:
    """The client every ``require_scopes`` view of ``app`` asks."""
    app.extensions[EXTENSION] = client


def require_scopes(
    *scopes: str, team_from: TeamFrom | None = None
) -> Callable[[Callable[P, R]], Callable[P, R | Response]]:
    """Let the view run only for an active credential holding every one of ``scopes`` and,
    with ``team_from``, bound to the resource's team or to every team; otherwise answer
    RFC 6750's 401 or 403 (or 503 while Latchkey gives no answer). The view finds the
    credential's :class:`Principal` at ``flask.g.latchkey`` (or :func:`current_principal`).

    A credential for every team (``team_id`` null) passes any team: the view must still
    look the resource up within ``principal.org_id``.
    """

    def decorate(view: Callable[P, R]) -> Callable[P, R | Response]:
        @functools.wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R | Response:
            client = current_app.extensions.get(EXTENSION)
            if not isinstance(client, LatchkeyClient):
                raise RuntimeError("call oauth_server.resource.init_app(app, client) first")
            principal = authenticate(
                client, request.headers.get("Authorization"), request.headers.get("X-API-Key")
            )
            if isinstance(principal, Refusal):
                return refusal_response(principal)
            refusal = check_access(principal, scopes, _team(team_from, kwargs))
            if refusal is not None:
                return refusal_response(refusal)
            g.latchkey = principal
            return view(*args, **kwargs)

        return guarded

    return decorate


def current_principal() -> Principal:
    """The credential of the request, inside a ``require_scopes`` view."""
    principal = g.get("latchkey")
    if not isinstance(principal, Principal):
        raise RuntimeError("current_principal() is for views under @require_scopes")
    return principal


def refusal_response(refusal: Refusal) -> Response:
    return Response(refusal.body, status=refusal.status, headers=refusal.headers)


def _team(team_from: TeamFrom | None, view_args: dict[str, object]) -> object | None:
    if team_from is None:
        return None
    if isinstance(team_from, str):
        if team_from not in view_args:
            # Fail closed: a misnamed argument must not pass every team.
            raise RuntimeError(f"require_scopes(team_from={team_from!r}): no such view argument")
        return view_args[team_from]
    return team_from(request)
