"""Resource servers (``keys.resource_servers``) on a real SQLite database: one per audience,
the secret shown once, the deployment's audit event, and the list."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from keys import client_secrets, resource_servers
from keys.audit import Actor
from keys.core import Core
from keys.errors import NotFound, ValidationFailed
from keys.models import AuditEvent, ResourceServer

AUDIENCE = "https://people.example.com"


def _register(
    session: Session, core: Core, actor: Actor, name: str = "People API", audience: str = AUDIENCE
) -> tuple[ResourceServer, str]:
    made = resource_servers.create(session, core, actor=actor, name=name, audience=audience)
    session.commit()
    return made


def test_registration_shows_the_secret_once_and_records_the_audience(
    session: Session, core: Core, actor: Actor
) -> None:
    server, secret = _register(session, core, actor, name="  People API ")
    assert (server.name, server.audience) == ("People API", AUDIENCE)
    assert server.client_id.startswith(core.prefixes.resource_server_client_id + "_")
    assert (
        secret.startswith(core.prefixes.client_secret + "_") and server.secret_hint == secret[-4:]
    )
    kind = core.prefixes.client_secret
    assert client_secrets.valid_until(server, core.hasher, kind, secret) is not None
    assert client_secrets.valid_until(server, core.hasher, kind, secret[:-1] + "x") is None
    row = session.scalars(select(ResourceServer)).one()
    assert secret not in repr([getattr(row, c.key) for c in row.__table__.columns])

    (event,) = session.scalars(select(AuditEvent)).all()
    assert event.action == "resource_server.created"
    assert event.org_id is None  # the deployment's, not an org's
    assert (event.target_id, event.target_name, event.target_prefix) == (
        str(server.id),
        "People API",
        server.client_id,
    )
    assert event.details == {"audience": AUDIENCE}
    assert secret not in repr(event.details)


def test_an_audience_is_registered_once(session: Session, core: Core, actor: Actor) -> None:
    first, _ = _register(session, core, actor)
    with pytest.raises(ValidationFailed) as caught:
        _register(session, core, actor, name="Another")
    session.rollback()
    assert [e.field for e in caught.value.errors] == ["audience"]
    assert AUDIENCE in caught.value.message and "already registered" in caught.value.message
    assert [s.id for s in session.scalars(select(ResourceServer))] == [first.id]
    assert len(session.scalars(select(AuditEvent)).all()) == 1
    # Another audience is another resource server.
    assert _register(session, core, actor, audience=AUDIENCE + "/v2")[0].id != first.id


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "tab\there"])
def test_a_bad_name_is_refused_by_field_and_registers_nothing(
    session: Session, core: Core, actor: Actor, name: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        _register(session, core, actor, name=name)
    session.rollback()
    assert [e.field for e in caught.value.errors] == ["name"]
    assert session.scalars(select(ResourceServer)).all() == []
    assert session.scalars(select(AuditEvent)).all() == []


def test_get_and_the_list(session: Session, core: Core, actor: Actor) -> None:
    servers = [_register(session, core, actor, audience=f"{AUDIENCE}/{i}")[0] for i in range(3)]
    assert resource_servers.get(session, servers[1].id) is servers[1]
    with pytest.raises(NotFound) as caught:
        resource_servers.get(session, servers[-1].id + 1)
    assert caught.value.status == 404

    first, cursor = resource_servers.list_page(session, limit=2, cursor=None)
    assert [s.id for s in first] == [servers[2].id, servers[1].id] and cursor is not None
    rest, end = resource_servers.list_page(session, limit=2, cursor=cursor)
    assert ([s.id for s in rest], end) == ([servers[0].id], None)
