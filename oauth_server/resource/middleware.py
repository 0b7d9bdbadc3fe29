"""The same checks as ``require_scopes``, as plain WSGI middleware in front of any app
(Django, Falcon, Pyramid, Bottle, or a Flask app protected as a whole).

    application = LatchkeyMiddleware(application, client, scopes=("people:read",))

The wrapped app finds the credential's :class:`~oauth_server.resource.principal.Principal`
at ``environ["latchkey.principal"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Final

from oauth_server.resource.client import LatchkeyClient
from oauth_server.resource.guard import Refusal, authenticate, check_access

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

ENVIRON_KEY: Final = "latchkey.principal"


class LatchkeyMiddleware:
    """Every request to ``app`` needs an active credential with all of ``scopes``.

    ``team_from`` (a function of the WSGI environ) gives the requested resource's team id,
    or None for a resource of no team; ``exempt`` (a function of the environ) lets a request
    through unchecked (a health check, say).
    """

    def __init__(
        self,
        app: WSGIApplication,
        client: LatchkeyClient,
        scopes: tuple[str, ...] = (),
        *,
        team_from: Callable[[WSGIEnvironment], object] | None = None,
        exempt: Callable[[WSGIEnvironment], bool] | None = None,
    ) -> None:
        self.app = app
        self.client = client
        self.scopes = tuple(scopes)
        self.team_from = team_from
        self.exempt = exempt

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self.exempt is not None and self.exempt(environ):
            return self.app(environ, start_response)
        principal = authenticate(
            self.client, environ.get("HTTP_AUTHORIZATION"), environ.get("HTTP_X_API_KEY")
        )
        if isinstance(principal, Refusal):
            return _refuse(principal, start_response)
        team = self.team_from(environ) if self.team_from is not None else None
        refusal = check_access(principal, self.scopes, team)
        if refusal is not None:
            return _refuse(refusal, start_response)
        environ[ENVIRON_KEY] = principal
        return self.app(environ, start_response)


def _refuse(refusal: Refusal, start_response: StartResponse) -> list[bytes]:
    body = refusal.body
    headers = [*refusal.headers, ("Content-Length", str(len(body)))]
    start_response(f"{refusal.status} {HTTPStatus(refusal.status).phrase}", headers)
    return [body]
