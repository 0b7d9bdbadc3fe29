"""The outbox: a credential change queues its webhook event in the same transaction."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keys import api_keys, apps, user_keys
from keys.audit import Actor
from keys.core import Core
from keys.models import Org, User, UserKey
from keys.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from tests.unit.conftest import new_api_key


def _endpoint(session: Session, org: Org, events: str = "*", **fields: object) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(org_id=org.id, url="https://hooks.example.com/in", events=events)
    for name, value in fields.items():
        setattr(endpoint, name, value)
    session.add(endpoint)
    session.commit()
    return endpoint


def _bodies(session: Session) -> list[dict[str, object]]:
    return [json.loads(e.body) for e in session.scalars(select(WebhookEvent).order_by("id"))]


def _count(session: Session, model: type[object]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_created_key_queues_its_item_for_each_listening_endpoint(
    session: Session, core: Core, org: Org, actor: Actor
) -> None:
    everything = _endpoint(session, org)
    keys_only = _endpoint(session, org, events="api_key.created api_key.revoked")
    _endpoint(session, org, events="app.created")  # not listening
    _endpoint(session, org, disabled_at=1)  # disabled

    key, plaintext = new_api_key(session, core, org, actor, "ci")

    [body] = _bodies(session)
    assert body["type"] == "api_key.created"
    assert isinstance(body["timestamp"], str) and body["timestamp"].endswith("Z")
    data = body["data"]
    assert isinstance(data, dict)
    assert data["org_id"] == org.id
    assert data["actor"] == {"type": "user", "id": actor.id, "email": actor.label}
    target = data["target"]
    assert target["id"] == key.id and target["prefix"] == key.prefix
    assert target["hint"] == key.hint and target["status"] == "active"
    assert target["scopes"] == ["people:read"] and target["team_id"] is None
    assert plaintext not in json.dumps(body)  # never the secret
    endpoints = {d.endpoint_id for d in session.scalars(select(WebhookDelivery))}
    assert endpoints == {everything.id, keys_only.id}


def test_every_credential_change_is_an_event(
    session: Session, core: Core, org: Org, actor: Actor, member: User
) -> None:
    _endpoint(session, org)
    key = new_api_key(session, core, org, actor, "k")[0]
    api_keys.update(session, core, key, actor, {"name": "renamed"})
    api_keys.rotate(session, core, key, actor, 0)
    api_keys.revoke(session, key, actor)
    api_keys.reactivate(session, key, actor)
    api_keys.delete(session, key, actor)
    app = apps.create(
        session,
        core,
        org_id=org.id,
        actor=actor,
        created_by=None,
        name="a",
        scopes=["people:read"],
        team_id=None,
    ).app
    apps.revoke(session, app, actor)
    legacy = UserKey(
        org_id=org.id,
        user_id=member.id,
        name="old",
        prefix="lkuk_x",
        hint="abcd",
        token_hash="h" * 64,
        scopes="people:read",
    )
    session.add(legacy)
    session.flush()
    user_keys.replace(session, core, legacy, actor, None)
    user_keys.revoke(session, legacy, actor)
    session.commit()

    types = [b["type"] for b in _bodies(session)]
    assert types == [
        "api_key.created",
        "api_key.updated",
        "api_key.rotated",
        "api_key.revoked",
        "api_key.reactivated",
        "api_key.deleted",
        "app.created",
        "app.revoked",
        "api_key.created",
        "user_key.replaced",
        "user_key.revoked",
    ]
    deleted = _bodies(session)[5]["data"]
    assert isinstance(deleted, dict) and deleted["target"]["name"] == "renamed"


def test_a_rolled_back_change_queues_nothing(
    session: Session, core: Core, org: Org, actor: Actor
) -> None:
    _endpoint(session, org)
    api_keys.create(
        session,
        core,
        org_id=org.id,
        actor=actor,
        created_by=None,
        name="doomed",
        scopes=["people:read"],
        team_id=None,
    )
    session.flush()
    assert _count(session, WebhookEvent) == 1  # written with the change ...
    session.rollback()
    assert _count(session, WebhookEvent) == 0  # ... and gone with it
    assert _count(session, WebhookDelivery) == 0


@pytest.mark.parametrize("events", ["app.created", ""])
def test_an_org_without_listeners_stores_no_event(
    session: Session, core: Core, org: Org, actor: Actor, events: str
) -> None:
    if events:
        _endpoint(session, org, events=events)
    new_api_key(session, core, org, actor, "k")
    session.commit()
    assert _count(session, WebhookEvent) == 0
