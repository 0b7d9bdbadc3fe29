"""Delivering webhooks to other people's servers (requests-mock stands in for them):
signatures that the ``standardwebhooks`` library verifies, the receiver's auth, retries on
Standard Webhooks' schedule, no retry on a 4xx, disabling after a day of failures, order,
claims that expire, and the outbound-address rule at registration and at each delivery."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
import requests_mock as rm
from sqlalchemy import select
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from keys import api_keys
from keys.audit import Actor
from keys.core import Core
from keys.errors import ValidationFailed
from keys.keyring import KeyRing
from keys.models import AuditEvent, Org
from keys.webhooks import endpoints, queue, schedule
from keys.webhooks.endpoints import ReceiverAuth
from keys.webhooks.models import WebhookDelivery, WebhookEndpoint
from keys.webhooks.worker import DeliveryWorker
from tests.unit.webhook_fixtures import Clock

URL = "https://hooks.example.com/latchkey"
TOKEN_URL = "https://auth.example.com/oauth/token"


def register(
    session: Session,
    sealer: KeyRing,
    org: Org,
    actor: Actor,
    *,
    url: str = URL,
    events: list[str] | None = None,
    auth: ReceiverAuth | None = None,
    allow_private: bool = False,
) -> endpoints.EndpointWithSecret:
    made = endpoints.create(
        session,
        sealer,
        org_id=org.id,
        actor=actor,
        created_by=None,
        url=url,
        events=events or ["*"],
        description=None,
        auth=auth or ReceiverAuth(),
        allow_private=allow_private,
    )
    session.commit()
    return made


def make_key(session: Session, core: Core, org: Org, actor: Actor, name: str = "ci") -> int:
    made = api_keys.create(
        session,
        core,
        org_id=org.id,
        actor=actor,
        created_by=None,
        name=name,
        scopes=["people:read"],
        team_id=None,
    )
    session.commit()
    return made.key.id


def deliveries(session: Session) -> list[WebhookDelivery]:
    session.expire_all()
    return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def sent_headers(request: Any) -> dict[str, str]:
    return {k: v for k, v in request.headers.items()}


@pytest.mark.usefixtures("resolver")
def test_a_key_change_arrives_signed_and_verifies_with_standardwebhooks(
    session: Session,
    core: Core,
    org: Org,
    actor: Actor,
    sealer: KeyRing,
    worker: DeliveryWorker,
    requests_mock: rm.Mocker,
) -> None:
    made = register(session, sealer, org, actor)
    assert made.signing_secret.startswith("whsec_")
    key_id = make_key(session, core, org, actor)
    requests_mock.post(URL, status_code=204)

    assert worker.run_once() == 1

    [request] = requests_mock.request_history
    headers = sent_headers(request)
    body = Webhook(made.signing_secret).verify(request.body, headers)
    assert body["type"] == "api_key.created"
    assert body["data"]["target"]["id"] == key_id
    assert headers["webhook-id"].startswith("msg_")
    assert headers["webhook-signature"].startswith("v1,")
    assert headers["Content-Type"] == "application/json"
    assert headers["Host"] == "hooks.example.com"
    [delivery] = deliveries(session)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 204)
    assert delivery.last_latency_ms is not None
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + base64.b64encode(b"x" * 32).decode()).verify(request.body, headers)


@pytest.mark.usefixtures("resolver")
def test_secrets_are_encrypted_at_rest(
    session: Session, org: Org, actor: Actor, sealer: KeyRing
) -> None:
    made = register(
        session,
        sealer,
        org,
        actor,
        auth=ReceiverAuth(type="api_key", header="X-API-Key", value="receiver-key-123456"),
    )
    stored = made.endpoint.encrypted_secrets
    for plaintext in (made.signing_secret, "receiver-key-123456"):
        assert plaintext.encode() not in stored
        assert plaintext.removeprefix("whsec_").encode() not in stored
    assert "receiver-key" not in json.dumps(endpoints.endpoint_item(made.endpoint))


@pytest.mark.usefixtures("resolver")
def test_api_key_receivers_get_their_header(
    session: Session,
    core: Core,
    org: Org,
    actor: Actor,
    sealer: KeyRing,
    worker: DeliveryWorker,
    requests_mock: rm.Mocker,
) -> None:
    register(
        session,
        sealer,
        org,
        actor,
        auth=ReceiverAuth(type="api_key", header="X-Receiver-Key", value="rk_live_abc"),
    )
    make_key(session, core, org, actor)
    requests_mock.post(URL, status_code=200)
    worker.run_once()
    assert requests_mock.last_request.headers["X-Receiver-Key"] == "rk_live_abc"


@pytest.mark.usefixtures("resolver")
def test_oauth_receivers_token_is_fetched_cached_and_fetched_again_once_on_401(
    session: Session,
    core: Core,
    org: Org,
    actor: Actor,
    sealer: KeyRing,
    worker: DeliveryWorker,
    requests_mock: rm.Mocker,
) -> None:
    register(
        session,
        sealer,
        org,
        actor,
        auth=ReceiverAuth(
            type="oauth2_client_credentials",
            token_url=TOKEN_URL,
            client_id="latch key",
            client_secret="s3cret:&",
            scope="events:write",
        ),
    )
    token = requests_mock.post(
        TOKEN_URL,
        [
            {"json": {"access_token": "t1", "token_type": "Bearer", "expires_in": 3600}},
            {"json": {"access_token": "t2", "token_type": "Bearer", "expires_in": 3600}},
        ],
    )
    receiver = requests_mock.post(
        URL,
        [{"status_code": 200}, {"status_code": 200}, {"status_code": 401}, {"status_code": 200}],
    )
    make_key(session, core, org, actor, "one")
    make_key(session, core, org, actor, "two")
    worker.run_once()

    assert token.call_count == 1  # cached for the second event
    first = token.request_history[0]
    assert (
        first.headers["Authorization"]
        == "Basic " + base64.b64encode(b"latch+key:s3cret%3A%26").decode()
    )  # RFC 6749 §2.3.1: form-urlencoded, then Basic
    assert dict(x.split("=") for x in first.text.split("&")) == {
        "grant_type": "client_credentials",
        "scope": "events%3Awrite",
    }
    assert [r.headers["Authorization"] for r in receiver.request_history] == ["Bearer t1"] * 2

    make_key(session, core, org, actor, "three")
    worker.run_once()
    assert token.call_count == 2  # the 401 fetched a new token, once
    assert [r.headers["Authorization"] for r in receiver.request_history[2:]] == [
        "Bearer t1",
        "Bearer t2",
    ]
    assert [d.status for d in deliveries(session)] == ["delivered"] * 3


@pytest.mark.usefixtures("resolver")
def test_a_failing_token_endpoint_is_recorded_on_the_delivery_and_retried(
    session: Session,
    core: Core,
    org: Org,
    actor: Actor,
    sealer: KeyRing,
    worker: DeliveryWorker,
    requests_mock: rm.Mocker,
) -> None:
    register(
        session,
        sealer,
        org,
        actor,
        auth=ReceiverAuth(
            type="oauth2_client_credentials",
            token_url=TOKEN_URL,
            client_id="c",
            client_secret="wrong-secret",
        ),
    )
    requests_mock.post(TOKEN_URL, status_code=401, json={"error": "invalid_client"})
    receiver = requests_mock.post(URL, status_code=200)
    make_key(session, core, org, actor)
    worker.run_once()
    [delivery] = deliveries(session)
    assert receiver.call_count == 0
    assert delivery.status == "pending" and delivery.next_attempt_at is not None
    assert delivery.last_error == "token request answered 401 (invalid_client)"
    assert "wrong-secret" not in (delivery.last_error or "")


@pytest.mark.usefixtures("resolver")
def test_5xx_and_timeouts_are_retried_on_the_schedule_with_jitter(
    session: Session,
    core: Core,
    org: Org,
    actor: Actor,
    sealer: KeyRing,
    worker: DeliveryWorker,
    clock: Clock,
    requests_mock: rm.Mocker,
) -> None:
    register(session, sealer, org, actor)
    answers: list[dict[str, Any]] = [
        {"status_code": 503},
        {"exc": requests.exceptions.ConnectTimeout},
        {"status_code": 500},
        {"exc": requests.exceptions.ConnectionError},
        {"status_code": 429},
        {"status_code": 408},
        {"status_code": 502},
        {"status_code": 200},
    ]
    receiver = requests_mock.post(URL, answers)
    make_key(session, core, org, actor)

    worker.run_once()
    for attempt, delay in enumerate(schedule.RETRY_DELAYS_SECONDS, start=1):
        [delivery] = deliveries(session)
        assert delivery.status == "pending" and delivery.attempts == attempt
        assert delivery.next_attempt_at is not None
        wait = (delivery.next_attempt_at - clock.now) / 1000
        assert delay <= wait <= delay * 1.2 + 0.001  # up to 20 % jitter
        clock.advance(delay * 0.99)
        assert worker.run_once() == 0  # not yet due
        clock.now = delivery.next_attempt_at
        assert worker.run_once() == 1
    [delivery] = deliveries(session)
    assert (delivery.status, delivery.attempts) == ("delivered", 8)
    assert receiver.call_count == 8
    # the same event on every attempt: one webhook-id, the same body
    assert len({r.headers["webhook-id"] for r in receiver.request_history}) == 1
    assert len({r.body for r in receiver.request_history}) == 1


@pytest.mark.usefixtures("resolver")
def test_a_timeout_is_recorded(
    session: Session,
    core: Core,
    org: Org,
    actor: Actor,
    sealer: KeyRing,
    worker: DeliveryWorker,
    requests_mock: rm.Mocker,
) -> None:
    register(session, sealer, org, actor)
    requests_mock.post(URL, exc=requests.exceptions.ReadTimeout)
    make_key(session, core, org, actor)
    worker.run_once()
    [delivery] = deliveries(session)
    assert delivery.last_error == "timed out after 10 s"
    assert delivery.last_status_code is None and delivery.status == "pending"


@pytest.mark.usefixtures("resolver")
def test_a_4xx_fails_at_once_and_the_next_event_proceeds(
    session: Session,
    core: Core,
    org: Org,
    actor: Actor,
    sealer: KeyRing,
    worker: DeliveryWorker,
    requests_mock: rm.Mocker,
) -> None:
    register(session, sealer, org, actor)
    receiver = requests_mock.post(URL, [{"status_code": 400}, {"status_code": 200}])
    make_key(session, core, org, actor, "one")
    make_key(session, core, org, actor, "two")
    worker.run_once()
    first, second = deliveries(session)
    assert (first.status, first.attempts, first.last_status_code) == ("failed", 1, 400)
    assert first.next_attempt_at is None
    assert second.status == "delivered"
    assert receiver.call_count == 2


@pytest.mark.usefixtures("resolver")
def test_a_later_event_waits_while_an_earlier_one_is_retried(
    session: Session,
    core: Core,
    org: Org,
    actor: Actor,
    sealer: KeyRing,
    worker: DeliveryWorker,
    clock: Clock,
    requests_mock: rm.Mocker,
) -> None:
    register(session, sealer, org, actor)
    receiver = requests_mock.post(URL, [{"status_code": 500}, {"status_code": 200}])
    make_key(session, core, org, actor, "one")
    make_key(session, core, org, actor, "two")
    worker.run_once()
    assert receiver.call_count == 1  # "two" waits behind "one"
    clock.advance(10)
    worker.run_once()
    names = [json.loads(r.body)["data"]["target"]["name"] for r in receiver.request_history]
    assert names == ["one", "one", "two"]


@pytest.mark.usefixtures("resolver")
def test_an_endpoint_failing_for_24_hours_is_disabled(
    session: Session,
    core: Core,
    org: Org,
    actor: Actor,
    sealer: KeyRing,
    worker: DeliveryWorker,
    clock: Clock,
    requests_mock: rm.Mocker,
) -> None:
    made = register(session, sealer, org, actor)
    requests_mock.post(URL, status_code=500)
    make_key(session, core, org, actor)
    started = clock.now
    worker.run_once()
    while True:
        [delivery] = deliveries(session)
        if delivery.next_attempt_at is None:
            break
        clock.now = delivery.next_attempt_at
        worker.run_once()
        session.expire_all()
        if made.endpoint.disabled_at is not None:
            break
    endpoint = session.get_one(WebhookEndpoint, made.endpoint.id)
    assert endpoint.disabled_at is not None
    assert endpoint.disabled_at - started >= schedule.DISABLE_AFTER_MS
    audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "webhook.disabled"))
    assert [a.target_id for a in audit] == [str(endpoint.id)]
    # nothing more goes to a disabled endpoint
    calls = requests_mock.call_count
    make_key(session, core, org, actor, "later")
    clock.advance(3600)
    worker.run_once()
    assert requests_mock.call_count == calls


@pytest.mark.usefixtures("resolver")
def test_a_success_resets_the_failure_clock(
    session: Session,
    core: Core,
    org: Org,
    actor: Actor,
    sealer: KeyRing,
    worker: DeliveryWorker,
    clock: Clock,
    requests_mock: rm.Mocker,
) -> None:
    made = register(session, sealer, org, actor)
    requests_mock.post(URL, [{"status_code": 500}, {"status_code": 200}])
    make_key(session, core, org, actor)
    worker.run_once()
    session.expire_all()
    assert made.endpoint.failing_since is not None
    clock.advance(10)
    worker.run_once()
    session.expire_all()
    assert made.endpoint.failing_since is None


@pytest.mark.usefixtures("resolver")
def test_after_a_rotation_both_secrets_sign_for_a_day(
    session: Session,
    core: Core,
    org: Org,
    actor: Actor,
    sealer: KeyRing,
    worker: DeliveryWorker,
    clock: Clock,
    requests_mock: rm.Mocker,
) -> None:
    made = register(session, sealer, org, actor)
    new = endpoints.rotate_secret(session, sealer, made.endpoint, actor)
    session.commit()
    requests_mock.post(URL, status_code=200)
    make_key(session, core, org, actor)
    worker.run_once()
    request = requests_mock.last_request
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (made.signing_secret, new):
        Webhook(secret).verify(request.body, sent_headers(request))
    clock.advance(24 * 3600 + 1)
    make_key(session, core, org, actor, "later")
    worker.run_once()
    request = requests_mock.last_request
    assert len(request.headers["webhook-signature"].split(" ")) == 1
    # (the driven clock is a day ahead: compare the signature itself, not the timestamp)
    at = datetime.fromtimestamp(int(request.headers["webhook-timestamp"]), UTC)
    expected = Webhook(new).sign(request.headers["webhook-id"], at, request.body)
    assert request.headers["webhook-signature"] == expected


@pytest.mark.usefixtures("resolver")
def test_a_claim_of_a_worker_that_died_expires_and_the_delivery_is_retried(
    session: Session,
    core: Core,
    org: Org,
    actor: Actor,
    sealer: KeyRing,
    worker: DeliveryWorker,
    clock: Clock,
    requests_mock: rm.Mocker,
) -> None:
    register(session, sealer, org, actor)
    make_key(session, core, org, actor)
    requests_mock.post(URL, status_code=200)
    # another worker claims it and dies before it answers
    [claimed] = queue.claim(
        session, holder="dead", now=clock.now, claim_ms=60_000, limit=10, skip_locked=False
    )
    assert worker.run_once() == 0
    clock.advance(61)
    assert worker.run_once() == 1
    assert requests_mock.last_request.headers["webhook-id"] == claimed.msg_id
    assert deliveries(session)[0].status == "delivered"


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/in",  # not https
        "https://127.0.0.1/in",
        "https://[::1]/in",
        "https://10.1.2.3/in",
        "https://172.16.0.1/in",
        "https://192.168.0.10/in",
        "https://169.254.169.254/latest/meta-data",  # the cloud's metadata service
        "https://100.64.0.1/in",  # shared address space
        "https://224.0.0.1/in",  # multicast
        "https://0.0.0.0/in",
        "https://[::ffff:127.0.0.1]/in",  # loopback written as IPv6
        "https://[fe80::1]/in",
        "https://localhost/in",  # a name that resolves to 127.0.0.1
        "https://intranet.example.com/in",
        "https://mixed.example.com/in",  # one private address among public ones
        "https://nowhere.invalid/in",
        "https://user:pass@hooks.example.com/in",
        "ftp://hooks.example.com/in",
    ],
)
@pytest.mark.usefixtures("resolver")
def test_non_public_urls_are_refused_at_registration(
    session: Session, org: Org, actor: Actor, sealer: KeyRing, url: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        register(session, sealer, org, actor, url=url)
    assert [e.field for e in refused.value.errors] == ["url"]
    session.rollback()
    assert session.scalars(select(WebhookEndpoint)).all() == []


@pytest.mark.usefixtures("resolver")
def test_the_token_url_follows_the_same_rule(
    session: Session, org: Org, actor: Actor, sealer: KeyRing
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        register(
            session,
            sealer,
            org,
            actor,
            auth=ReceiverAuth(
                type="oauth2_client_credentials",
                token_url="https://localhost/token",
                client_id="c",
                client_secret="s",
            ),
        )
    assert [e.field for e in refused.value.errors] == ["auth.token_url"]


@pytest.mark.usefixtures("resolver")
def test_allow_private_admits_http_and_loopback(
    session: Session, org: Org, actor: Actor, sealer: KeyRing
) -> None:
    made = register(session, sealer, org, actor, url="http://localhost:8080/in", allow_private=True)
    assert made.endpoint.url == "http://localhost:8080/in"


@pytest.mark.usefixtures("resolver")
def test_dns_rebinding_after_registration_is_refused_at_delivery(
    session: Session,
    core: Core,
    org: Org,
    actor: Actor,
    sealer: KeyRing,
    worker: DeliveryWorker,
    resolver: dict[str, list[str]],
    requests_mock: rm.Mocker,
) -> None:
    register(session, sealer, org, actor)  # hooks.example.com is public now ...
    resolver["hooks.example.com"] = ["127.0.0.1"]  # ... and points to loopback later
    requests_mock.post(URL, status_code=200)
    make_key(session, core, org, actor)
    worker.run_once()
    assert requests_mock.call_count == 0
    [delivery] = deliveries(session)
    assert delivery.status == "pending"
    assert "127.0.0.1, which is not a public address" in (delivery.last_error or "")


def test_the_request_connects_to_the_checked_address(resolver: dict[str, list[str]]) -> None:
    """The connection goes to the address that was checked, whatever the name says by the
    time the connection is made (nothing listens on the checked address here: the refused
    connection names it)."""
    from keys.webhooks.sender import Receiver, Sender

    resolver["hooks.example.com"] = ["127.0.0.1"]
    sender = Sender(allow_private=True, timeout=2)
    outcome = sender.send(
        Receiver(
            endpoint_id=1,
            url="http://hooks.example.com:9/in",
            auth_type="none",
            signing_secrets=("whsec_" + base64.b64encode(b"s" * 32).decode(),),
        ),
        "msg_1",
        "{}",
        0,
    )
    assert outcome.status_code is None
    assert outcome.error == "connection failed (ConnectionError)"


@pytest.mark.parametrize(
    ("auth", "field"),
    [
        (ReceiverAuth(type="basic"), "auth.type"),
        (ReceiverAuth(type="api_key", value="v"), "auth.header"),
        (ReceiverAuth(type="api_key", header="Bad Header", value="v"), "auth.header"),
        (ReceiverAuth(type="api_key", header="webhook-signature", value="v"), "auth.header"),
        (ReceiverAuth(type="api_key", header="X-Key"), "auth.value"),
        (
            ReceiverAuth(type="oauth2_client_credentials", client_id="c", client_secret="s"),
            "auth.token_url",
        ),
        (
            ReceiverAuth(type="oauth2_client_credentials", token_url=TOKEN_URL, client_secret="s"),
            "auth.client_id",
        ),
        (
            ReceiverAuth(type="oauth2_client_credentials", token_url=TOKEN_URL, client_id="c"),
            "auth.client_secret",
        ),
    ],
)
@pytest.mark.usefixtures("resolver")
def test_auth_is_checked_field_by_field(
    session: Session, org: Org, actor: Actor, sealer: KeyRing, auth: ReceiverAuth, field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        register(session, sealer, org, actor, auth=auth)
    assert [e.field for e in refused.value.errors] == [field]


@pytest.mark.usefixtures("resolver")
def test_unknown_event_types_are_refused(
    session: Session, org: Org, actor: Actor, sealer: KeyRing
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        register(session, sealer, org, actor, events=["api_key.created", "api_key.exploded"])
    assert [e.field for e in refused.value.errors] == ["events"]
