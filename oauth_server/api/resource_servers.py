"""``/api/resource-servers``: the operator's APIs that may call introspection."""

from __future__ import annotations

from flask import Response

from keys import resource_servers
from oauth_server.api import bp
from oauth_server.api.access import current
from oauth_server.api.paging import next_link
from oauth_server.api.schemas import (
    PageQuery,
    ResourceServerCreate,
    ResourceServerOut,
    ResourceServerWithSecretOut,
)
from oauth_server.api.spec import operation, respond
from oauth_server.extensions import db
from oauth_server.services import services

TAG = "Resource servers"


@operation(
    bp,
    "GET",
    "/resource-servers",
    summary="List resource servers",
    tag=TAG,
    access="platform",
    query=PageQuery,
    response=ResourceServerOut,
    many=True,
)
def list_resource_servers(query: PageQuery) -> Response:
    items, cursor = resource_servers.list_page(db.session, limit=query.limit, cursor=query.cursor)
    return respond([ResourceServerOut.of(s) for s in items], headers=next_link(cursor))


@operation(
    bp,
    "POST",
    "/resource-servers",
    summary="Register a resource server",
    tag=TAG,
    access="platform",
    body=ResourceServerCreate,
    response=ResourceServerWithSecretOut,
    status=201,
)
def create_resource_server(body: ResourceServerCreate) -> Response:
    """Returns ``client_id`` and ``client_secret`` (shown once) for calling introspection."""
    server, secret = resource_servers.create(
        db.session, services().core, actor=current().actor, name=body.name, audience=body.audience
    )
    db.session.commit()
    return respond(
        ResourceServerWithSecretOut(
            **ResourceServerOut.of(server).model_dump(), client_secret=secret
        ),
        201,
    )
