"""The one declarative base, shared by Flask-SQLAlchemy and the framework-free core.

The naming convention makes constraint names deterministic, so Alembic's migrations are
stable across SQLite and PostgreSQL and batch mode can find constraints by name.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
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


_pid = os.getpid()


def _forked() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)


def process_id() -> int:
    """This process's id, kept current across forks without a system call: the hot path
    asks on every request whether it runs in the process that started its helpers."""
    return _pid


def now_ms() -> int:
    """Milliseconds since the epoch: how every stored time and API time is expressed."""
    return time.time_ns() // 1_000_000


def utc_text(ms: int) -> str:
    """A stored time as messages show it: ``2026-05-01 12:00:00 UTC``."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def fresh_second_after(at_ms: int) -> int:
    """The first whole second after ``at_ms``, once the clock has reached it.

    Token times (``iat``) are whole seconds. Ending every token issued up to a moment means
    "valid only if iat >= that second + 1"; waiting (under a second, on a rare admin action)
    until that second has begun guarantees that a token asked for afterwards is not born dead.
    """
    return wait_for_second(at_ms // 1000 + 1)


def wait_for_second(second: int) -> int:
    delay = second - time.time()
    if delay > 0:
        time.sleep(delay)
    return second


# The services take a plain Session, or Flask-SQLAlchemy's request-scoped proxy of one.
DbSession: TypeAlias = Session | scoped_session[Any]
