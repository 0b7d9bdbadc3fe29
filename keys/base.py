"""The one declarative base, shared by Flask-SQLAlchemy and the framework-free core, and the
session type the services take.

The naming convention makes constraint names deterministic, so Alembic's migrations are
stable across SQLite and PostgreSQL and batch mode can find constraints by name.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# The services take a plain Session, or Flask-SQLAlchemy's request-scoped proxy of one.
DbSession: TypeAlias = Session | scoped_session[Any]
