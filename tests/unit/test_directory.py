"""Orgs, teams and members (``keys.directory``) on a real SQLite database: the rules on
names and emails, teams of one org, a team in use, members who can or cannot sign in, and
the audit event of every change."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from keys import apps, directory, sessions
from keys.audit import Actor
from keys.core import Core
from keys.errors import Conflict, NotFound, ValidationFailed
from keys.models import AuditEvent, Org, Team, User
from tests.unit.conftest import new_api_key

PASSWORD = "correct horse battery staple"


def _events(session: Session, action: str) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    return list(session.scalars(stmt))


def _other_org(session: Session) -> Org:
    other = Org(name="Globex", api_access=True)
    session.add(other)
    session.commit()
    return other


# -- orgs -------------------------------------------------------------------------------------


def test_an_org_is_created_with_its_plan_and_audited(session: Session, actor: Actor) -> None:
    org = directory.create_org(session, actor=actor, name="  Initech ", api_access=False)
    session.commit()
    assert (org.name, org.api_access) == ("Initech", False)
    assert directory.get_org(session, org.id) is org
    (event,) = _events(session, "org.created")
    assert (event.org_id, event.target_id, event.target_name) == (org.id, str(org.id), "Initech")
    assert event.details == {"api_access": False}


@pytest.mark.parametrize("name", ["", "  ", "x" * 101, "nul\x00name"])
def test_an_org_name_is_checked_on_create_and_on_edit(
    session: Session, actor: Actor, org: Org, name: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        directory.create_org(session, actor=actor, name=name, api_access=True)
    assert [e.field for e in caught.value.errors] == ["name"]
    session.rollback()
    with pytest.raises(ValidationFailed) as caught:
        directory.update_org(session, org, actor, {"name": name})
    assert [e.field for e in caught.value.errors] == ["name"]
    session.rollback()
    assert [o.name for o in session.scalars(select(Org))] == ["Acme"]
    assert session.scalars(select(AuditEvent)).all() == []


def test_an_unknown_org_is_not_found(session: Session, org: Org) -> None:
    with pytest.raises(NotFound) as caught:
        directory.get_org(session, org.id + 1)
    assert caught.value.status == 404 and str(org.id + 1) in caught.value.message


def test_switching_the_plan_records_the_change_once(
    session: Session, actor: Actor, org: Org
) -> None:
    directory.update_org(session, org, actor, {"api_access": False})
    session.commit()
    assert org.api_access is False
    directory.update_org(session, org, actor, {"api_access": False})  # no change: no event
    directory.update_org(session, org, actor, {"api_access": True, "name": "Acme Corp"})
    session.commit()
    assert (org.api_access, org.name) == (True, "Acme Corp")
    assert [e.details["changes"] for e in _events(session, "org.updated")] == [
        {"api_access": {"from": True, "to": False}},
        {"api_access": {"from": False, "to": True}, "name": {"from": "Acme", "to": "Acme Corp"}},
    ]


def test_orgs_are_listed_newest_first_in_pages(session: Session, actor: Actor, org: Org) -> None:
    newer = directory.create_org(session, actor=actor, name="Newer", api_access=True)
    session.commit()
    first, cursor = directory.list_orgs(session, limit=1, cursor=None)
    assert [o.id for o in first] == [newer.id] and cursor is not None
    assert directory.list_orgs(session, limit=1, cursor=cursor) == ([org], None)


# -- teams ------------------------------------------------------------------------------------


def test_team_names_are_unique_in_an_org_whatever_their_case(
    session: Session, actor: Actor, org: Org
) -> None:
    team = directory.create_team(session, org_id=org.id, actor=actor, name="Support")
    session.commit()
    with pytest.raises(ValidationFailed) as caught:
        directory.create_team(session, org_id=org.id, actor=actor, name=" support ")
    session.rollback()
    assert [e.field for e in caught.value.errors] == ["name"]
    assert "already exists" in caught.value.message
    other = _other_org(session)
    theirs = directory.create_team(session, org_id=other.id, actor=actor, name="Support")
    session.commit()
    assert theirs.id != team.id
    assert [(e.org_id, e.target_name) for e in _events(session, "team.created")] == [
        (org.id, "Support"),
        (other.id, "Support"),
    ]


@pytest.mark.parametrize("name", ["", "x" * 101, "two\nlines"])
def test_a_bad_team_name_is_refused_by_field(
    session: Session, actor: Actor, org: Org, name: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        directory.create_team(session, org_id=org.id, actor=actor, name=name)
    session.rollback()
    assert [e.field for e in caught.value.errors] == ["name"]
    assert session.scalars(select(Team)).all() == []


def test_another_orgs_team_is_not_found(session: Session, org: Org, team: Team) -> None:
    other = _other_org(session)
    assert directory.get_team(session, org.id, team.id) is team
    with pytest.raises(NotFound) as caught:
        directory.get_team(session, other.id, team.id)
    assert caught.value.status == 404 and "Research" not in caught.value.message
    assert directory.list_teams(session, other.id, limit=10, cursor=None) == ([], None)


def test_a_team_in_use_is_not_deleted_and_says_by_what(
    session: Session, core: Core, actor: Actor, org: Org, team: Team
) -> None:
    app = apps.create(
        session,
        core,
        org_id=org.id,
        actor=actor,
        created_by=None,
        name="Helpdesk sync",
        scopes=["people:read"],
        team_id=team.id,
    ).app
    session.commit()
    with pytest.raises(Conflict) as caught:
        directory.delete_team(session, team, actor)
    session.rollback()
    assert caught.value.status == 409
    assert "'Helpdesk sync'" in caught.value.message and "1 credential" in caught.value.message
    assert directory.get_team(session, org.id, team.id) is team

    apps.update(session, core, app, actor, {"team_id": None})
    directory.delete_team(session, team, actor)
    session.commit()
    assert session.scalars(select(Team)).all() == []
    (event,) = _events(session, "team.deleted")
    assert (event.target_id, event.target_name) == (str(team.id), "Research")


def test_a_team_used_by_an_api_key_is_not_deleted(
    session: Session, core: Core, actor: Actor, org: Org, team: Team
) -> None:
    key, _ = new_api_key(session, core, org, actor)
    key.team_id = team.id
    session.commit()
    blocker = directory.deletion_blocker(session, team)
    assert blocker is not None and "API key 'k'" in blocker
    with pytest.raises(Conflict):
        directory.delete_team(session, team, actor)


# -- members ----------------------------------------------------------------------------------


def _add(session: Session, actor: Actor, org: Org, email: str, password: str | None) -> User:
    user = directory.create_user(
        session,
        actor=actor,
        org_id=org.id,
        email=email,
        name="Grace",
        role="developer",
        password=password,
    )
    session.commit()
    return user


def test_a_member_with_a_password_signs_in_and_one_without_cannot(
    session: Session, actor: Actor, org: Org
) -> None:
    grace = _add(session, actor, org, "  Grace@Example.com ", PASSWORD)
    assert grace.email == "grace@example.com"
    assert PASSWORD not in repr([getattr(grace, c.key) for c in grace.__table__.columns])
    assert sessions.authenticate_password(session, "GRACE@example.com", PASSWORD) is grace
    assert sessions.authenticate_password(session, "grace@example.com", "wrong") is None
    assert sessions.authenticate_password(session, "nobody@example.com", PASSWORD) is None
    assert sessions.authenticate_password(session, "grace\x00@example.com", PASSWORD) is None

    ghost = _add(session, actor, org, "ghost@example.com", None)
    assert sessions.authenticate_password(session, ghost.email, "") is None
    assert sessions.authenticate_password(session, ghost.email, PASSWORD) is None
    assert [e.details for e in _events(session, "user.created")] == [
        {"role": "developer", "can_log_in": True},
        {"role": "developer", "can_log_in": False},
    ]


def test_an_email_is_one_members_whatever_its_case_and_org(
    session: Session, actor: Actor, org: Org
) -> None:
    grace = _add(session, actor, org, "grace@example.com", None)
    other = _other_org(session)
    with pytest.raises(ValidationFailed) as caught:
        _add(session, actor, other, "GRACE@example.com", None)
    session.rollback()
    assert [e.field for e in caught.value.errors] == ["email"]
    assert "grace@example.com" in caught.value.message
    assert directory.list_users(session, other.id, limit=10, cursor=None) == ([], None)
    assert directory.list_users(session, org.id, limit=1, cursor=None)[0] == [grace]


@pytest.mark.parametrize("name", ["", "x" * 101, "tab\tname"])
def test_a_bad_member_name_is_refused_by_field(
    session: Session, actor: Actor, org: Org, name: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        directory.create_user(
            session,
            actor=actor,
            org_id=org.id,
            email="ann@example.com",
            name=name,
            role="member",
            password=None,
        )
    session.rollback()
    assert [e.field for e in caught.value.errors] == ["name"]
    assert session.scalars(select(User).where(User.email == "ann@example.com")).all() == []


@pytest.mark.parametrize("password", ["short", "x" * 11, "x" * 1025])
def test_a_password_out_of_bounds_is_refused_by_field(
    session: Session, actor: Actor, org: Org, password: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        _add(session, actor, org, "ann@example.com", password)
    session.rollback()
    assert [e.field for e in caught.value.errors] == ["password"]
    assert "12" in caught.value.message
    assert session.scalars(select(User).where(User.email == "ann@example.com")).all() == []
    assert _events(session, "user.created") == []


def test_members_are_listed_per_org_newest_first(
    session: Session, actor: Actor, org: Org, member: User
) -> None:
    first = _add(session, actor, org, "first@example.com", None)
    second = _add(session, actor, org, "second@example.com", None)
    other = _other_org(session)
    elsewhere = _add(session, actor, other, "elsewhere@example.com", None)
    listed, _ = directory.list_users(session, org.id, limit=10, cursor=None)
    assert [u.id for u in listed] == [second.id, first.id, member.id]
    assert directory.list_users(session, other.id, limit=10, cursor=None) == ([elsewhere], None)
