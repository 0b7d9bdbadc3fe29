"""``/api/orgs``, ``/api/users``, ``/api/teams``: the org's structure and its members."""

from __future__ import annotations

from flask import Response

from keys import directory
from keys.errors import Forbidden, ValidationFailed
from keys.models import Org
from oauth_server.api import bp
from oauth_server.api.access import current
from oauth_server.api.paging import next_link
from oauth_server.api.schemas import (
    Ok,
    OrgCreate,
    OrgOut,
    OrgUpdate,
    PageQuery,
    TeamCreate,
    TeamOut,
    UserCreate,
    UserOut,
    UsersQuery,
)
from oauth_server.api.spec import operation, patch_changes, respond
from oauth_server.extensions import db

# -- orgs (platform admins) -------------------------------------------------------------------


@operation(
    bp,
    "GET",
    "/orgs",
    summary="List organizations",
    tag="Organizations",
    access="platform",
    query=PageQuery,
    response=OrgOut,
    many=True,
)
def list_orgs(query: PageQuery) -> Response:
    items, cursor = directory.list_orgs(db.session, limit=query.limit, cursor=query.cursor)
    return respond([OrgOut.of(o) for o in items], headers=next_link(cursor))


@operation(
    bp,
    "POST",
    "/orgs",
    summary="Create an organization",
    tag="Organizations",
    access="platform",
    body=OrgCreate,
    response=OrgOut,
    status=201,
)
def create_org(body: OrgCreate) -> Response:
    org = directory.create_org(
        db.session, actor=current().actor, name=body.name, api_access=body.api_access
    )
    db.session.commit()
    return respond(OrgOut.of(org), 201)


@operation(
    bp,
    "GET",
    "/orgs/<id:org_id>",
    summary="Read an organization",
    tag="Organizations",
    access="platform",
    response=OrgOut,
)
def get_org(org_id: int) -> Response:
    return respond(OrgOut.of(directory.get_org(db.session, org_id)))


@operation(
    bp,
    "PATCH",
    "/orgs/<id:org_id>",
    summary="Edit an organization or its plan",
    tag="Organizations",
    access="platform",
    body=OrgUpdate,
    response=OrgOut,
)
def update_org(org_id: int, body: OrgUpdate) -> Response:
    """``{"api_access": false}`` switches the plan off: every credential of the org stops
    authenticating at once, and its credential management answers "Upgrade required"."""
    org = directory.get_org(db.session, org_id)
    changes = patch_changes(body)
    directory.update_org(db.session, org, current().actor, changes)
    db.session.commit()
    return respond(OrgOut.of(org))


# -- users (org admins) -----------------------------------------------------------------------


@operation(
    bp,
    "GET",
    "/users",
    summary="List members",
    tag="Members",
    access="admin",
    query=UsersQuery,
    response=UserOut,
    many=True,
)
def list_users(query: UsersQuery) -> Response:
    org_id = _org_for(query.org_id, "org_id")
    items, cursor = directory.list_users(db.session, org_id, limit=query.limit, cursor=query.cursor)
    return respond([UserOut.of(u) for u in items], headers=next_link(cursor))


@operation(
    bp,
    "POST",
    "/users",
    summary="Add a member",
    tag="Members",
    access="admin",
    body=UserCreate,
    response=UserOut,
    status=201,
)
def create_user(body: UserCreate) -> Response:
    """A member without a password exists (and can own user keys) but cannot sign in.

    The email is compared and stored normalized (Unicode NFKC, casefolded: fullwidth letters
    and capitals are the plain lower-case ones); invisible characters are refused. An address
    that already has an account gets the same 422 wherever that account is; platform admins
    are told its org."""
    org_id = _org_for(body.org_id, "org_id")
    principal = current()
    user = directory.create_user(
        db.session,
        actor=principal.actor,
        org_id=org_id,
        email=body.email,
        name=body.name,
        role=body.role,
        password=body.password,
        name_the_org=principal.user.is_platform_admin,
    )
    db.session.commit()
    return respond(UserOut.of(user), 201)


def _org_for(requested: int | None, field_name: str) -> int:
    """Org admins act on their own org; platform admins may name any existing org."""
    principal = current()
    if requested is None or requested == principal.org_id:
        return principal.org_id
    if not principal.user.is_platform_admin:
        raise Forbidden("Org admins manage the members of their own organization only.")
    if db.session.get(Org, requested) is None:
        raise ValidationFailed.one(field_name, f"no organization {requested}")
    return requested


# -- teams ------------------------------------------------------------------------------------


@operation(
    bp,
    "GET",
    "/teams",
    summary="List teams",
    tag="Teams",
    access="manager",
    query=PageQuery,
    response=TeamOut,
    many=True,
)
def list_teams(query: PageQuery) -> Response:
    items, cursor = directory.list_teams(
        db.session, current().org_id, limit=query.limit, cursor=query.cursor
    )
    return respond([TeamOut.of(t) for t in items], headers=next_link(cursor))


@operation(
    bp,
    "POST",
    "/teams",
    summary="Create a team",
    tag="Teams",
    access="admin",
    body=TeamCreate,
    response=TeamOut,
    status=201,
)
def create_team(body: TeamCreate) -> Response:
    principal = current()
    team = directory.create_team(
        db.session, org_id=principal.org_id, actor=principal.actor, name=body.name
    )
    db.session.commit()
    return respond(TeamOut.of(team), 201)


@operation(
    bp,
    "DELETE",
    "/teams/<id:team_id>",
    summary="Delete a team",
    tag="Teams",
    access="admin",
    response=Ok,
    errors=(409,),
)
def delete_team(team_id: int) -> Response:
    """Refused with 409 while any credential is bound to the team."""
    principal = current()
    team = directory.get_team(db.session, principal.org_id, team_id)
    directory.delete_team(db.session, team, principal.actor)
    db.session.commit()
    return respond(Ok())
