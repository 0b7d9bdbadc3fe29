"""Resource servers: the operator's APIs, allowed to introspect, each with an audience."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from keys import client_secrets
from keys import format as fmt
from keys.audit import Actor, Target, record
from keys.base import DbSession
from keys.core import Core
from keys.errors import NotFound, ValidationFailed
from keys.models import ResourceServer
from keys.pagination import page
from keys.validation import checked_name


def create(
    session: DbSession, core: Core, *, actor: Actor, name: str, audience: str
) -> tuple[ResourceServer, str]:
    name = checked_name(name)
    if session.scalar(select(ResourceServer.id).where(ResourceServer.audience == audience)):
        raise ValidationFailed.one("audience", f"{audience!r} is already registered")
    public_id = fmt.new_public_id()
    server = ResourceServer(
        name=name,
        audience=audience,
        client_id=fmt.display_prefix(core.prefixes.resource_server_client_id, public_id),
    )
    secret = client_secrets.issue(server, core.hasher, core.prefixes.client_secret)
    session.add(server)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent registration of the same audience
        raise ValidationFailed.one("audience", f"{audience!r} is already registered") from exc
    record(
        session,
        org_id=None,
        verb="created",
        actor=actor,
        target=Target("resource_server", server.id, server.name, server.client_id),
        details={"audience": audience},
    )
    return server, secret


def get(session: DbSession, server_id: int) -> ResourceServer:
    server = session.get(ResourceServer, server_id)
    if server is None:
        raise NotFound(f"No resource server {server_id}.")
    return server


def list_page(
    session: DbSession, *, limit: int, cursor: int | None
) -> tuple[list[ResourceServer], int | None]:
    return page(session, select(ResourceServer), ResourceServer.id, limit, cursor)
