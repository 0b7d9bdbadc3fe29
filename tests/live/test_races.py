"""Requests that arrive at the same moment, from threads, against two server processes.

Each scenario is repeated: a race that is lost only sometimes must be lost in none of the
tries. What is checked is what a user would notice: the status of every answer (never a
500), the secrets that work afterwards (at introspection for API keys, at the token endpoint
for OAuth apps), and the audit log.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.api import Api
from tests.fixtures import unique
from tests.live.server import LiveServer
from tests.oauth_calls import introspect

Item = dict[str, Any]
Call = Callable[[Api], requests.Response]

#: Concurrent rotations per round, and rounds: with two workers, some of each round's
#: rotations overlap in the server.
ROTATIONS = 8
ROUNDS = 3
#: Tries of the races that a single try may not hit.
REPEATS = 12
HOUR = 3600


def at_once(api: Api, *calls: Call) -> list[requests.Response]:
    """Make the calls from threads released together, each on a connection of its own (as
    ``api``); the answers in call order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Call) -> requests.Response:
        caller = Api(api.base)
        caller.http.headers.update(api.http.headers)
        barrier.wait()
        return call(caller)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def statuses(answers: list[requests.Response]) -> list[int]:
    return [r.status_code for r in answers]


def post(path: str, body: Item | None = None) -> Call:
    return lambda api: api.post(path, json=body)


def delete(path: str) -> Call:
    return lambda api: api.delete(path)


@dataclass(frozen=True)
class Kind:
    """What differs between API keys and OAuth apps in these scenarios."""

    name: str
    collection: str
    rotate: str
    secret_field: str
    audit_type: str

    def create(self, admin: Api, **fields: Any) -> Item:
        body = {"name": unique(self.name), "scopes": ["people:read"], **fields}
        return admin.ok("POST", self.collection, 201, json=body)  # type: ignore[no-any-return]

    def path(self, item: Item) -> str:
        return f"{self.collection}/{item['id']}"

    def audit_prefix(self, item: Item) -> str:
        """How the audit log names the credential: the key's prefix, the app's client ID."""
        return str(item["prefix"] if self.name == "Key" else item["client_id"])


KEY = Kind("Key", "/api/keys", "rotate", "key", "api_key")
APP = Kind("App", "/api/apps", "rotate-secret", "client_secret", "app")


@dataclass(frozen=True)
class Door:
    """Where a secret is tried: introspection for API keys, the token endpoint for apps. A
    new connection each time, so that both workers answer in turn."""

    server: LiveServer
    rs: Item

    def works(self, kind: Kind, item: Item, secret: str) -> bool:
        if kind is KEY:
            return bool(introspect(self.server, self.rs, secret)["active"])
        r = requests.post(
            f"{self.server.url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(item["client_id"], secret),
            headers={"Connection": "close"},
            timeout=10,
        )
        assert r.status_code in (200, 401), r.text
        return r.status_code == 200


@pytest.fixture
def door(server: LiveServer, resource_server: Item) -> Door:
    return Door(server, resource_server)


def rotated_events(admin: Api, kind: Kind, item: Item, after: int) -> list[Item]:
    """The credential's ``<type>.rotated`` events with an id above ``after``, oldest first."""
    found = admin.ok(
        "GET",
        "/api/audit-events",
        params={
            "action": f"{kind.audit_type}.rotated",
            "target": kind.audit_prefix(item),
            "limit": 200,
        },
    )
    mine = [e for e in found if e["target"]["id"] == item["id"] and e["id"] > after]
    return sorted(mine, key=lambda e: int(e["id"]))


# -- rotations at the same moment -------------------------------------------------------------


@pytest.mark.parametrize("kind", [KEY, APP], ids=["api-key", "app"])
def test_concurrent_rotations_leave_working_exactly_the_secrets_they_returned(
    admin: Api, door: Door, kind: Kind
) -> None:
    """Each rotation keeps the secret it replaced for an hour. Rotations that commit one
    after the other form a chain in the audit log; afterwards exactly the last two secrets
    of the chain work: the newest, and the one it keeps for the overlap. A rotation that
    raced another one and was answered 200 anyway would have kept a secret the other one
    had already replaced, and the one the other one returned would be dead."""
    item = kind.create(admin)
    previous: str | None = None
    current = str(item[kind.secret_field])
    seen_event = 0
    conflicts = 0
    for _ in range(ROUNDS):
        body = {"grace_period_seconds": HOUR}
        answers = at_once(admin, *[post(f"{kind.path(item)}/{kind.rotate}", body)] * ROTATIONS)
        assert set(statuses(answers)) <= {200, 409}, [(r.status_code, r.text) for r in answers]
        for r in answers:
            if r.status_code == 409:
                conflicts += 1
                assert "at the same moment" in r.json()["detail"], r.text
        returned = {r.json()["hint"]: r.json()[kind.secret_field] for r in answers if r.ok}
        events = rotated_events(admin, kind, item, seen_event)
        # One event per rotation that took effect, and none for a refused one.
        assert sorted(e["details"]["hint"] for e in events) == sorted(returned), events
        chain = [previous, current, *(returned[e["details"]["hint"]] for e in events)]
        previous, current = chain[-2], chain[-1]
        for secret in {s for s in chain if s is not None}:
            expected = secret in (previous, current)
            assert door.works(kind, item, secret) is expected, (chain.index(secret), chain)
        seen_event = int(events[-1]["id"])
    item = admin.ok("GET", kind.path(item))
    assert item["hint"] == current[-4:] and item["previous_secret_expires_at"] is not None
    print(f"{kind.name}: {conflicts} of {ROUNDS * ROTATIONS} rotations answered 409")


# -- a rotation with an overlap, at the moment of a revoke ------------------------------------


@pytest.mark.parametrize("kind", [KEY, APP], ids=["api-key", "app"])
def test_rotation_racing_a_revoke_never_revives_the_old_secret(
    admin: Api, door: Door, kind: Kind
) -> None:
    """Whichever comes first, a reactivation afterwards brings back only the current secret:
    the rotated-out one is dead when the rotation took effect, and a rotation that came
    after the revoke was refused (so the old secret is still the current one)."""
    for _ in range(REPEATS):
        item = kind.create(admin)
        old = item[kind.secret_field]
        path = kind.path(item)
        rotate, revoke = at_once(
            admin,
            post(f"{path}/{kind.rotate}", {"grace_period_seconds": HOUR}),
            post(f"{path}/revoke"),
        )
        assert revoke.status_code == 200, revoke.text
        assert rotate.status_code in (200, 409), rotate.text
        assert not door.works(kind, item, old)
        reactivated = admin.ok("POST", f"{path}/reactivate")
        assert reactivated["previous_secret_expires_at"] is None, reactivated
        if rotate.status_code == 200:
            assert not door.works(kind, item, old)
            assert door.works(kind, item, rotate.json()[kind.secret_field])
        else:
            assert door.works(kind, item, old)
        admin.ok("DELETE", path)


# -- races that used to answer 500 ------------------------------------------------------------


@pytest.mark.parametrize("kind", [KEY, APP], ids=["api-key", "app"])
def test_team_delete_racing_a_create_in_it_is_never_500_nor_a_key_without_team(
    admin: Api, make_team: Callable[..., Item], kind: Kind
) -> None:
    """Either the team is deleted and the credential refused (422 naming ``team_id``), or the
    credential is made and the deletion refused (409): never both, never a 500."""
    for _ in range(REPEATS):
        team = make_team()
        body = {"name": unique(kind.name), "scopes": ["people:read"], "team_id": team["id"]}
        removed, created = at_once(
            admin, delete(f"/api/teams/{team['id']}"), post(kind.collection, body)
        )
        assert removed.status_code in (200, 409), removed.text
        assert created.status_code in (201, 422), created.text
        teams = [t["id"] for t in admin.ok("GET", "/api/teams", params={"limit": 200})]
        bound = admin.ok("GET", kind.collection, params={"team_id": team["id"], "status": "all"})
        if created.status_code == 201:
            assert removed.status_code == 409 and team["id"] in teams
            assert [c["id"] for c in bound] == [created.json()["id"]]
            admin.ok("DELETE", kind.path(created.json()))
            admin.ok("DELETE", f"/api/teams/{team['id']}")
        else:
            assert [e["field"] for e in created.json()["errors"]] == ["team_id"], created.text
            assert removed.status_code == 200 and team["id"] not in teams and bound == []


@pytest.mark.parametrize("kind", [KEY, APP], ids=["api-key", "app"])
@pytest.mark.parametrize("action", ["revoke", "reactivate", "rotate", "edit"])
def test_a_change_racing_a_delete_is_404_or_done_never_500(
    admin: Api, kind: Kind, action: str
) -> None:
    for _ in range(REPEATS // 2):
        item = kind.create(admin)
        path = kind.path(item)
        if action == "reactivate":
            admin.ok("POST", f"{path}/revoke")
        change = {
            "revoke": post(f"{path}/revoke"),
            "reactivate": post(f"{path}/reactivate"),
            "rotate": post(f"{path}/{kind.rotate}", {"grace_period_seconds": HOUR}),
            "edit": lambda api, path=path: api.patch(path, json={"name": unique("Renamed")}),
        }[action]
        changed, removed = at_once(admin, change, delete(path))
        assert removed.status_code == 200, removed.text
        assert changed.status_code in (200, 404), changed.text
        assert admin.get(path).status_code == 404


def test_two_teams_created_with_one_name_at_once_make_one_team(
    admin: Api, admin_org_id: int
) -> None:
    """The second answer is the one a duplicate sent later gets: 422 naming ``name``. Names
    are compared without regard to case, also at the same moment."""
    for i in range(REPEATS // 2):
        name = unique("Ops")
        other = name.upper() if i % 2 else name
        names = (name, other)
        answers = at_once(admin, *(post("/api/teams", {"name": n}) for n in names))
        assert sorted(statuses(answers)) == [201, 422], [r.text for r in answers]
        lost = statuses(answers).index(422)
        later = admin.post("/api/teams", json={"name": names[lost]})
        assert later.status_code == 422, later.text
        assert later.json()["errors"] == answers[lost].json()["errors"]
        teams = admin.ok("GET", "/api/teams", params={"limit": 200})
        assert [t["name"].lower() for t in teams].count(name.lower()) == 1
