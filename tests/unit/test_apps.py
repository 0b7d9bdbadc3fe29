"""The OAuth-app lifecycle (``keys.apps``) on a real SQLite database: the rules on each field,
the secret shown once, org isolation, rotation with an overlap, revoke and reactivate, and
the audit event of every change."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from keys import apps, client_secrets
from keys.audit import Actor
from keys.core import Core
from keys.errors import Conflict, NotFound, ValidationFailed
from keys.models import AuditEvent, OAuthApp, Org, Team


def _create(session: Session, core: Core, org: Org, actor: Actor, **fields: Any) -> Any:
    values: dict[str, Any] = {
        "name": "Zapier",
        "scopes": ["people:read", "leads:read"],
        "team_id": None,
        **fields,
    }
    made = apps.create(session, core, org_id=org.id, actor=actor, created_by=None, **values)
    session.commit()
    return made


def _works(core: Core, app: OAuthApp, secret: str) -> bool:
    """Whether ``secret`` authenticates as ``app`` now."""
    return (
        client_secrets.valid_until(app, core.hasher, core.prefixes.client_secret, secret)
        is not None
    )


def _actions(session: Session, app: OAuthApp) -> list[str]:
    """The audit actions that name ``app``, oldest first."""
    stmt = select(AuditEvent).where(AuditEvent.target_prefix == app.client_id)
    return [e.action for e in session.scalars(stmt.order_by(AuditEvent.id))]


def _field_of(caught: pytest.ExceptionInfo[ValidationFailed]) -> list[str]:
    return [e.field for e in caught.value.errors]


def test_create_shows_the_secret_once_and_stores_only_its_hash(
    session: Session, core: Core, org: Org, actor: Actor
) -> None:
    made = _create(session, core, org, actor, token_ttl_seconds=600, token_format="jwt")
    app = made.app
    assert app.client_id.startswith(core.prefixes.app_client_id + "_")
    assert made.client_secret.startswith(core.prefixes.client_secret + "_")
    assert made.client_secret.endswith(app.secret_hint) and len(app.secret_hint) == 4
    assert (app.scope_list, app.token_ttl_seconds, app.token_format) == (
        ["people:read", "leads:read"],
        600,
        "jwt",
    )
    assert _works(core, app, made.client_secret)
    row = session.scalars(select(OAuthApp)).one()
    assert made.client_secret not in repr([getattr(row, c.key) for c in row.__table__.columns])

    (event,) = session.scalars(select(AuditEvent)).all()
    assert (event.action, event.org_id, event.target_id) == ("app.created", org.id, str(app.id))
    assert (event.target_name, event.target_prefix) == ("Zapier", app.client_id)
    assert (event.actor_type, event.actor_label) == ("user", actor.label)
    assert made.client_secret not in repr(event.details)


def test_another_apps_secret_or_a_wrong_one_does_not_work(
    session: Session, core: Core, org: Org, actor: Actor
) -> None:
    first, second = _create(session, core, org, actor), _create(session, core, org, actor)
    assert not _works(core, first.app, second.client_secret)
    assert not _works(core, first.app, first.client_secret[:-1] + "x")
    assert _works(core, first.app, first.client_secret)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "two\nlines"}, "name"),
        ({"scopes": []}, "scopes"),
        ({"scopes": ["people:read", "people:fly"]}, "scopes"),
        ({"team_id": 999_999}, "team_id"),
        ({"token_ttl_seconds": 59}, "token_ttl_seconds"),
        ({"token_ttl_seconds": 86_401}, "token_ttl_seconds"),
        ({"token_format": "jwt", "jwt_signing_alg": "HS256"}, "jwt_signing_alg"),
        ({"jwt_signing_alg": "none"}, "jwt_signing_alg"),
    ],
)
def test_create_refuses_a_bad_field_by_name_and_writes_nothing(
    session: Session, core: Core, org: Org, actor: Actor, fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        _create(session, core, org, actor, **fields)
    session.rollback()
    assert _field_of(caught) == [field]
    assert field in caught.value.message
    assert session.scalars(select(OAuthApp)).all() == []
    assert session.scalars(select(AuditEvent)).all() == []


def test_create_accepts_the_bounds(session: Session, core: Core, org: Org, actor: Actor) -> None:
    for ttl in (60, 86_400):
        assert (
            _create(session, core, org, actor, token_ttl_seconds=ttl).app.token_ttl_seconds == ttl
        )
    made = _create(session, core, org, actor, name="x" * 100, jwt_signing_alg="ES256")
    assert (made.app.name, made.app.jwt_signing_alg) == ("x" * 100, "ES256")
    # Scopes named twice are kept once, in the order given.
    assert _create(
        session, core, org, actor, scopes=["leads:read", "people:read", "leads:read"]
    ).app.scope_list == [
        "leads:read",
        "people:read",
    ]


def test_a_team_of_another_org_is_no_team_at_all(
    session: Session, core: Core, org: Org, actor: Actor
) -> None:
    other = Org(name="Globex", api_access=True)
    session.add(other)
    session.flush()
    theirs = Team(org_id=other.id, name="Theirs")
    session.add(theirs)
    session.commit()
    with pytest.raises(ValidationFailed) as caught:
        _create(session, core, org, actor, team_id=theirs.id)
    session.rollback()
    assert _field_of(caught) == ["team_id"]


def test_get_is_404_for_another_orgs_app_and_for_none(
    session: Session, core: Core, org: Org, actor: Actor
) -> None:
    app = _create(session, core, org, actor).app
    assert apps.get(session, org.id, app.id) is app
    for org_id, app_id in ((org.id + 1, app.id), (org.id, app.id + 1)):
        with pytest.raises(NotFound) as caught:
            apps.get(session, org_id, app_id)
        assert caught.value.status == 404
        assert "Zapier" not in caught.value.message and app.client_id not in caught.value.message


def test_list_filters_by_status_and_team_newest_first_in_pages(
    session: Session, core: Core, org: Org, actor: Actor, team: Team
) -> None:
    older = _create(session, core, org, actor).app
    bound = _create(session, core, org, actor, team_id=team.id).app
    newest = _create(session, core, org, actor).app
    apps.revoke(session, older, actor)
    session.commit()

    def ids(**kw: Any) -> list[int]:
        return [a.id for a in apps.list_page(session, org.id, limit=10, cursor=None, **kw)[0]]

    assert ids() == [newest.id, bound.id, older.id]
    assert ids(status="active") == [newest.id, bound.id]
    assert ids(status="revoked") == [older.id]
    assert ids(team_id=team.id) == [bound.id]
    first, cursor = apps.list_page(session, org.id, limit=2, cursor=None)
    assert [a.id for a in first] == [newest.id, bound.id] and cursor is not None
    rest, end = apps.list_page(session, org.id, limit=2, cursor=cursor)
    assert ([a.id for a in rest], end) == ([older.id], None)
    assert apps.list_page(session, org.id + 1, limit=10, cursor=None) == ([], None)


def test_update_changes_only_the_fields_given_and_records_what_changed(
    session: Session, core: Core, org: Org, actor: Actor, team: Team
) -> None:
    made = _create(session, core, org, actor)
    app = apps.update(
        session,
        core,
        made.app,
        actor,
        {"name": "Zapier prod", "scopes": ["people:read"], "team_id": team.id},
    )
    session.commit()
    assert (app.name, app.scope_list, app.team_id, app.token_ttl_seconds) == (
        "Zapier prod",
        ["people:read"],
        team.id,
        900,
    )
    assert _works(core, app, made.client_secret)  # an edit keeps the secret
    updated = session.scalars(select(AuditEvent).where(AuditEvent.action == "app.updated")).one()
    assert updated.details["changes"] == {
        "name": {"from": "Zapier", "to": "Zapier prod"},
        "scopes": {"from": "people:read leads:read", "to": "people:read"},
        "team_id": {"from": None, "to": team.id},
    }
    # An edit that changes nothing records nothing.
    apps.update(session, core, app, actor, {"name": "Zapier prod"})
    session.commit()
    assert _actions(session, app).count("app.updated") == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"scopes": ["people:fly"]}, "scopes"),
        ({"team_id": 999_999}, "team_id"),
        ({"token_ttl_seconds": 86_401}, "token_ttl_seconds"),
        ({"jwt_signing_alg": "RS512"}, "jwt_signing_alg"),
    ],
)
def test_update_refuses_a_bad_field_by_name_and_changes_nothing(
    session: Session, core: Core, org: Org, actor: Actor, changes: dict[str, Any], field: str
) -> None:
    app = _create(session, core, org, actor).app
    with pytest.raises(ValidationFailed) as caught:
        apps.update(session, core, app, actor, {"name": "Renamed", **changes})
    session.rollback()
    assert _field_of(caught) == [field]
    stored = session.get(OAuthApp, app.id)
    assert stored is not None
    assert (stored.name, stored.scope_list, stored.team_id, stored.jwt_signing_alg) == (
        "Zapier",
        ["people:read", "leads:read"],
        None,
        "RS256",
    )
    assert _actions(session, stored) == ["app.created"]


def test_rotation_with_an_overlap_keeps_the_old_secret_until_it_ends(
    session: Session, core: Core, org: Org, actor: Actor
) -> None:
    made = _create(session, core, org, actor)
    rotated = apps.rotate_secret(session, core, made.app, actor, grace_period_seconds=3600)
    session.commit()
    app = rotated.app
    assert rotated.client_secret != made.client_secret
    assert app.client_id == made.app.client_id and app.secret_hint == rotated.client_secret[-4:]
    assert _works(core, app, made.client_secret) and _works(core, app, rotated.client_secret)
    assert app.previous_secret_expires_at is not None

    third = apps.rotate_secret(session, core, app, actor, grace_period_seconds=0)
    session.commit()
    assert app.previous_secret_expires_at is None
    for old in (made.client_secret, rotated.client_secret):
        assert not _works(core, app, old)
    assert _works(core, app, third.client_secret)
    (first_rotation, second_rotation) = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "app.rotated").order_by(AuditEvent.id)
    )
    # Each names the overlap and the new secret's hint (what the console shows), never more.
    assert (first_rotation.details, second_rotation.details) == (
        {"grace_period_seconds": 3600, "hint": rotated.client_secret[-4:]},
        {"grace_period_seconds": 0, "hint": third.client_secret[-4:]},
    )
    assert rotated.client_secret not in repr(first_rotation.details)


@pytest.mark.parametrize("grace", [-1, 2_592_001])
def test_rotation_refuses_an_overlap_out_of_range_and_keeps_the_secret(
    session: Session, core: Core, org: Org, actor: Actor, grace: int
) -> None:
    made = _create(session, core, org, actor)
    with pytest.raises(ValidationFailed) as caught:
        apps.rotate_secret(session, core, made.app, actor, grace_period_seconds=grace)
    session.rollback()
    assert _field_of(caught) == ["grace_period_seconds"]
    assert _works(core, made.app, made.client_secret)
    assert _actions(session, made.app) == ["app.created"]


def test_a_revoked_app_is_not_rotated(session: Session, core: Core, org: Org, actor: Actor) -> None:
    made = _create(session, core, org, actor)
    apps.revoke(session, made.app, actor)
    session.commit()
    with pytest.raises(Conflict) as caught:
        apps.rotate_secret(session, core, made.app, actor, grace_period_seconds=0)
    session.rollback()
    assert caught.value.status == 409
    assert made.app.client_id in caught.value.message and "reactivate" in caught.value.message
    assert made.app.revoked_at is not None
    assert _works(core, made.app, made.client_secret)  # the same secret as before


def test_revoke_and_reactivate_and_a_revoke_ends_a_rotations_overlap_for_good(
    session: Session, core: Core, org: Org, actor: Actor
) -> None:
    made = _create(session, core, org, actor)
    rotated = apps.rotate_secret(session, core, made.app, actor, grace_period_seconds=3600)
    app = apps.revoke(session, rotated.app, actor)
    session.commit()
    assert app.revoked_at is not None
    apps.revoke(session, app, actor)  # again: nothing more happens, nothing more is recorded
    session.commit()

    app = apps.reactivate(session, app, actor)
    session.commit()
    assert app.revoked_at is None
    assert not _works(core, app, made.client_secret)  # the overlap did not come back
    assert _works(core, app, rotated.client_secret)
    apps.reactivate(session, app, actor)
    session.commit()
    assert _actions(session, app) == [
        "app.created",
        "app.rotated",
        "app.revoked",
        "app.reactivated",
    ]


def test_delete_removes_the_app_and_keeps_its_audit_trail(
    session: Session, core: Core, org: Org, actor: Actor
) -> None:
    app = _create(session, core, org, actor).app
    client_id, app_id = app.client_id, app.id
    apps.delete(session, app, actor)
    session.commit()
    assert session.get(OAuthApp, app_id) is None
    with pytest.raises(NotFound):
        apps.get(session, org.id, app_id)
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(e.action, e.target_name, e.target_prefix) for e in events] == [
        ("app.created", "Zapier", client_id),
        ("app.deleted", "Zapier", client_id),
    ]
