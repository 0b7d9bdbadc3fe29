"""Unit-test fixtures: the credential core on a real (in-memory SQLite) database."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from keys.audit import Actor
from keys.base import Base
from keys.core import Core
from keys.format import KindPrefixes
from keys.hashing import SecretHasher
from keys.keyring import KeyRing
from keys.models import ApiKey, Org, Team, User
from keys.webhooks import addresses, endpoints
from keys.webhooks.endpoints import EndpointWithSecret, ReceiverAuth
from keys.webhooks.models import WebhookDelivery
from keys.webhooks.worker import DeliveryWorker, WorkerSettings
from tests.unit.webhook_fixtures import ADDRESSES, Clock

CATALOG = frozenset(
    {"people:read", "people:write", "leads:read", "leads:create", "keys:write", "keys:delete"}
)


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = create_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _foreign_keys(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.execute("PRAGMA foreign_keys=ON")

    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def core() -> Core:
    return Core(
        hasher=SecretHasher(b"p" * 32),
        prefixes=KindPrefixes.from_brand("lk"),
        scope_catalog=CATALOG,
    )


@pytest.fixture
def org(session: Session) -> Org:
    org = Org(name="Acme", api_access=True)
    session.add(org)
    session.commit()
    return org


@pytest.fixture
def team(session: Session, org: Org) -> Team:
    team = Team(org_id=org.id, name="Research")
    session.add(team)
    session.commit()
    return team


@pytest.fixture
def member(session: Session, org: Org) -> User:
    user = User(org_id=org.id, email="ada@example.com", name="Ada", role="admin")
    session.add(user)
    session.commit()
    return user


@pytest.fixture
def actor(member: User) -> Actor:
    return Actor(type="user", id=member.id, label=member.email)


def new_api_key(
    session: Session, core: Core, org: Org, actor: Actor, name: str = "k", **fields: Any
) -> tuple[ApiKey, str]:
    """A committed API key with scope ``people:read`` for all teams (unless ``fields`` say
    otherwise), and its plaintext."""
    from keys import api_keys

    made = api_keys.create(
        session,
        core,
        org_id=org.id,
        actor=actor,
        created_by=None,
        name=name,
        scopes=["people:read"],
        team_id=None,
        **fields,
    )
    session.commit()
    return made.key, made.plaintext


# -- webhooks ----------------------------------------------------------------------------


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Patch the name resolver (not our HTTP surface); returns its table, for changing."""
    table = {k: list(v) for k, v in ADDRESSES.items()}

    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host in table:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in table[host]]
        return socket.getaddrinfo(host, port, *args, **kwargs)  # IP literals, localhost

    monkeypatch.setattr(addresses, "getaddrinfo", resolve)
    return table


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sealer(engine: Engine) -> KeyRing:
    return KeyRing(kek=b"k" * 32, session_factory=lambda: Session(engine))


@pytest.fixture
def worker(engine: Engine, sealer: KeyRing, clock: Clock) -> DeliveryWorker:
    return DeliveryWorker(
        lambda: Session(engine, expire_on_commit=False),
        sealer,
        WorkerSettings(allow_private=False),
        clock=clock,
        rng=random.Random(7),
    )


@dataclass
class Hooks:
    """A webhook test's world: an org and its admin, the key ring's sealer, a worker on a
    driven clock, and requests-mock (``http``) for the receivers."""

    session: Session
    core: Core
    org: Org
    actor: Actor
    sealer: KeyRing
    worker: DeliveryWorker
    clock: Clock
    http: Any

    def register(
        self,
        *,
        url: str = "https://hooks.example.com/latchkey",
        events: list[str] | None = None,
        auth: ReceiverAuth | None = None,
        allow_private: bool = False,
    ) -> EndpointWithSecret:
        made = endpoints.create(
            self.session,
            self.sealer,
            org_id=self.org.id,
            actor=self.actor,
            created_by=None,
            url=url,
            events=events or ["*"],
            description=None,
            auth=auth or ReceiverAuth(),
            allow_private=allow_private,
        )
        self.session.commit()
        return made

    def make_key(self, name: str = "ci") -> int:
        return new_api_key(self.session, self.core, self.org, self.actor, name)[0].id

    def deliveries(self) -> list[WebhookDelivery]:
        self.session.expire_all()
        return list(self.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


@pytest.fixture
def hooks(
    session: Session,
    core: Core,
    org: Org,
    actor: Actor,
    sealer: KeyRing,
    worker: DeliveryWorker,
    clock: Clock,
    requests_mock: Any,
) -> Hooks:
    return Hooks(session, core, org, actor, sealer, worker, clock, requests_mock)
