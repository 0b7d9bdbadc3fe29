"""The first admin: on a start with no user yet, org "Default" and its admin.

Safe when many workers start at once: the email is unique, so exactly one insert wins and
the others roll back (their org with them) and find the winner's user.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError, OperationalError

from keys import directory
from keys.audit import Actor
from keys.base import DbSession
from keys.errors import ValidationFailed
from keys.models import User
from keys.validation import checked_email
from oauth_server.config import ConfigError

DEFAULT_ADMIN_EMAIL = "admin@localhost"


@dataclass(frozen=True, slots=True)
class Bootstrapped:
    email: str
    generated_password: str | None


def ensure_first_admin(
    session: DbSession, email: str | None, password: str | None
) -> Bootstrapped | None:
    """Create the first admin if there is no user at all; return what was created.

    The email is normalized as every other (:func:`keys.validation.checked_email`); one the
    rule refuses stops the start with a message naming ``LATCHKEY_ADMIN_EMAIL``, rather than
    leaving a deployment with no admin."""
    if not inspect(session.get_bind()).has_table("users"):
        return None  # not migrated yet: `flask --app app db upgrade` first
    if session.scalar(select(User.id).limit(1)) is not None:
        return None
    try:
        email = checked_email(email or DEFAULT_ADMIN_EMAIL, "LATCHKEY_ADMIN_EMAIL")
    except ValidationFailed as exc:
        raise ConfigError(exc.message) from None
    generated = None if password else secrets.token_urlsafe(15)
    actor = Actor.system("bootstrap")
    try:
        org = directory.create_org(session, actor=actor, name="Default", api_access=True)
        directory.create_user(
            session,
            actor=actor,
            org_id=org.id,
            email=email,
            name="Admin",
            role="admin",
            password=password or generated,
            is_platform_admin=True,
        )
        session.commit()
    except (IntegrityError, OperationalError, ValidationFailed):
        session.rollback()  # another worker won the race
        return None
    return Bootstrapped(email=email, generated_password=generated)
