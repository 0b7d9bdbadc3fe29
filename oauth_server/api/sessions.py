"""``/api/sessions``: sign in with email and password for a session token, sign out."""

from __future__ import annotations

from flask import Response, current_app

from keys import sessions
from keys.validation import normalized_email
from oauth_server import signin
from oauth_server.api import bp
from oauth_server.api.access import NotAuthenticated, current
from oauth_server.api.problems import problem
from oauth_server.api.schemas import Ok, SessionCreate, SessionOut
from oauth_server.api.spec import operation, respond
from oauth_server.extensions import db
from oauth_server.services import services


@operation(
    bp,
    "POST",
    "/sessions",
    summary="Sign in",
    tag="Sessions",
    access="public",
    body=SessionCreate,
    response=SessionOut,
    status=201,
    errors=(401, 429),
)
def create_session(body: SessionCreate) -> Response:
    """Exchange a member's email and password for a session token, shown once.

    Ten failed attempts for one account within 15 minutes lock it for the rest of the window.
    """
    account = normalized_email(body.email)  # one account, one lock, however it is typed
    retry_after = signin.locked_for(account)
    if retry_after:
        return problem(
            429,
            "Too many failed sign-ins for this account or from this address; wait and try again.",
            code="rate-limited",
            headers={"Retry-After": str(retry_after)},
        )
    user = signin.check_password(account, body.password)
    if user is None:
        raise NotAuthenticated("Wrong email or password.")
    actor = signin.user_actor(user)
    new = sessions.open_session(
        db.session,
        services().core,
        user,
        actor,
        current_app.config["LATCHKEY_SESSION_TTL_SECONDS"],
    )
    db.session.commit()
    return respond(SessionOut.of(new.session, new.token), 201)


@operation(
    bp,
    "DELETE",
    "/sessions/current",
    summary="Sign out",
    tag="Sessions",
    access="session",
    response=Ok,
)
def delete_session() -> Response:
    """End the session whose token authenticates this request."""
    principal = current()
    if principal.session is not None:
        sessions.close_session(db.session, principal.session, principal.actor)
        db.session.commit()
    return respond(Ok())
