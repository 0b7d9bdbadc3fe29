"""Webhooks end to end: a real server, a real receiver on loopback, real worker processes.

* create a key, and the receiver gets ``api_key.created``, signed, within seconds, once
  (the embedded default: two gunicorn workers each run a delivery thread);
* kill ``flask --app app worker`` mid-delivery, start it again, and the receiver sees every
  event (deduplicated by ``webhook-id``), none lost.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest
from standardwebhooks import Webhook

from tests.api import ADMIN_EMAIL, ADMIN_PASSWORD, Api
from tests.live.receiver import Receiver
from tests.live.server import ROOT, LiveServer

pytestmark = pytest.mark.live


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


def register(api: Api, receiver: Receiver) -> dict[str, object]:
    return api.ok(  # type: ignore[no-any-return]
        "POST",
        "/api/webhooks",
        201,
        json={"url": receiver.url, "events": ["api_key.created"], "auth": {"type": "none"}},
    )


def test_a_new_key_arrives_signed_within_seconds_once(
    server_factory: Callable[..., LiveServer], receiver: Receiver
) -> None:
    server = server_factory(LATCHKEY_WEBHOOK_ALLOW_PRIVATE="1")
    admin = Api.login(server.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    secret = str(register(admin, receiver)["signing_secret"])
    started = time.time()
    key = admin.ok("POST", "/api/keys", 201, json={"name": "ci", "scopes": ["people:read"]})

    [got] = receiver.wait_for(lambda r: len(r) >= 1, timeout=10)
    assert got.at - started < 5
    event = Webhook(secret).verify(got.body, got.headers)
    assert event["type"] == "api_key.created"
    assert event["data"]["target"]["id"] == key["id"]
    assert event["data"]["target"]["prefix"] == key["prefix"]
    assert key["key"] not in got.body.decode()
    time.sleep(2)  # both server processes run a delivery thread: still only one delivery
    assert len(receiver.received) == 1


def _start_worker(server: LiveServer) -> subprocess.Popen[bytes]:
    with (server.workdir / "worker.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "worker"],
            cwd=ROOT,
            env=server.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def test_a_worker_killed_mid_delivery_loses_nothing(
    server_factory: Callable[..., LiveServer], receiver: Receiver
) -> None:
    server = server_factory(
        LATCHKEY_WEBHOOK_ALLOW_PRIVATE="1",
        LATCHKEY_WEBHOOK_DELIVERY="worker",
        LATCHKEY_WEBHOOK_CLAIM_SECONDS="3",
    )
    admin = Api.login(server.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    register(admin, receiver)
    receiver.released.clear()  # the receiver stalls: the worker is caught mid-delivery
    made = [
        admin.ok("POST", "/api/keys", 201, json={"name": f"k{i}", "scopes": ["people:read"]})
        for i in range(5)
    ]
    worker = _start_worker(server)
    try:
        receiver.wait_for(lambda r: len(r) >= 1, timeout=15)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        receiver.released.set()
        time.sleep(0.5)
        assert len(receiver.unique()) == 1  # nothing went out while no worker ran

        worker = _start_worker(server)
        receiver.wait_for(lambda r: len({x.headers["webhook-id"] for x in r}) >= 5, timeout=30)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(20)
    events = [r.event for r in receiver.unique().values()]
    assert sorted(e["data"]["target"]["id"] for e in events) == sorted(k["id"] for k in made)
    # per endpoint in order of events: the receiver saw the first key first, and again first
    order = [r.event["data"]["target"]["id"] for r in receiver.received]
    assert order[0] == order[1] == made[0]["id"]
    assert [i for i in dict.fromkeys(order)] == [k["id"] for k in made]
