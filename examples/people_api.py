"""A tiny people API protected by Latchkey: the operator's side of introspection.

Register the API as a resource server (``POST /api/resource-servers``), then:

    export LATCHKEY_ISSUER=http://localhost:5000
    export LATCHKEY_RS_CLIENT_ID=lkrs_… LATCHKEY_RS_CLIENT_SECRET=lkcs_…
    flask --app examples.people_api run --port 8000
    curl localhost:8000/teams/1/people -H "Authorization: Bearer $KEY"

Reading a team's people needs ``people:read`` and a credential for that team (or for every
team); adding a person needs ``people:write`` on the team named in the body. People are kept
per organization: a credential for every team of one organization sees none of another's.
"""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any

from flask import Flask, Request, request

from oauth_server.resource import LatchkeyClient, current_principal, init_app, require_scopes


def client_from_env() -> LatchkeyClient:
    return LatchkeyClient(
        os.environ.get("LATCHKEY_ISSUER", "http://localhost:5000"),
        os.environ["LATCHKEY_RS_CLIENT_ID"],
        os.environ["LATCHKEY_RS_CLIENT_SECRET"],
        audience=os.environ.get("LATCHKEY_RS_AUDIENCE"),
        verify_jwt=os.environ.get("LATCHKEY_VERIFY_JWT") == "1",
    )


def team_in_body(req: Request) -> object:
    """The team a new person joins: ``team_id`` of the JSON body."""
    body = req.get_json(silent=True)
    return body.get("team_id") if isinstance(body, dict) else None


def create_app(client: LatchkeyClient | None = None) -> Flask:
    app = Flask(__name__)
    init_app(app, client or client_from_env())
    people: defaultdict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)

    @app.get("/teams/<int:team_id>/people")
    @require_scopes("people:read", team_from="team_id")
    def list_people(team_id: int) -> dict[str, Any]:
        who = current_principal()
        return {"team_id": team_id, "people": people[(who.org_id, team_id)]}

    @app.post("/people")
    @require_scopes("people:write", team_from=team_in_body)
    def add_person() -> tuple[dict[str, Any], int]:
        body = request.get_json(silent=True)
        name = body.get("name") if isinstance(body, dict) else None
        team_id = body.get("team_id") if isinstance(body, dict) else None
        if (
            not isinstance(name, str)
            or not name.strip()
            or not isinstance(team_id, int)
            or isinstance(team_id, bool)
        ):
            return {"error": "send a JSON body with 'name' (text) and 'team_id' (a team id)"}, 422
        person = {"name": name.strip(), "added_by": current_principal().display}
        people[(current_principal().org_id, team_id)].append(person)
        return person, 201

    return app
