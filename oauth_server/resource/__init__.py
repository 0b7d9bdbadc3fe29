"""Latchkey for the operator's Python APIs (resource servers): the two lines that make an
endpoint safe.

    from oauth_server.resource import LatchkeyClient, init_app, require_scopes

    init_app(app, LatchkeyClient("https://auth.example.com", RS_CLIENT_ID, RS_SECRET))

    @app.get("/teams/<int:team_id>/people")
    @require_scopes("people:read", team_from="team_id")
    def people(team_id: int): ...

* :mod:`.client` asks Latchkey's introspection (RFC 7662) over a pooled session, remembers
  answers for at most ``ttl`` seconds (the revocation delay accepted; 5 by default, 0: none)
  and fails closed; optionally verifies RFC 9068 JWTs locally (:mod:`.local_jwt`).
* :mod:`.guard` reads the credential and decides RFC 6750's 401/403 (and 503);
  :mod:`.flask_views` and :mod:`.middleware` render that for Flask and for plain WSGI.
* :mod:`.principal` is what a view gets: org, team, scopes, subject, display prefix.

This package imports nothing of Latchkey's server: an API installs Latchkey's package and
runs none of it.
"""

from __future__ import annotations

from oauth_server.resource.client import LatchkeyClient
from oauth_server.resource.flask_views import current_principal, init_app, require_scopes
from oauth_server.resource.middleware import ENVIRON_KEY, LatchkeyMiddleware
from oauth_server.resource.outage import LatchkeyUnavailable
from oauth_server.resource.principal import Principal

__all__ = [
    "ENVIRON_KEY",
    "LatchkeyClient",
    "LatchkeyMiddleware",
    "LatchkeyUnavailable",
    "Principal",
    "current_principal",
    "init_app",
    "require_scopes",
]
