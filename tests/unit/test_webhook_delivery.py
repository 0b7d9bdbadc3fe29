"""Delivering webhooks to other people's servers (requests-mock stands in for them):
signatures that the ``standardwebhooks`` library verifies, the receiver's auth, retries on
Standard Webhooks' schedule, no retry on a 4xx, disabling after a day of failures, order,
claims that expire, and the outbound-address rule at registration and at each delivery."""

from __future__ import annotations

import base64
import json
import random
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from keys.errors import ValidationFailed
from keys.keyring import KeyRing
from keys.models import AuditEvent
from keys.webhooks import endpoints, queue, schedule
from keys.webhooks.endpoints import ReceiverAuth
from keys.webhooks.models import WebhookEndpoint
from keys.webhooks.worker import DeliveryWorker, WorkerSettings
from tests.unit.conftest import Hooks

URL = "https://hooks.example.com/latchkey"
TOKEN_URL = "https://auth.example.com/oauth/token"


def sent_headers(request: Any) -> dict[str, str]:
    return {k: v for k, v in request.headers.items()}


@pytest.mark.usefixtures("resolver")
def test_a_key_change_arrives_signed_and_verifies_with_standardwebhooks(hooks: Hooks) -> None:
    made = hooks.register()
    assert made.signing_secret.startswith("whsec_")
    key_id = hooks.make_key()
    hooks.http.post(URL, status_code=204)

    assert hooks.worker.run_once() == 1

    [request] = hooks.http.request_history
    headers = sent_headers(request)
    body = Webhook(made.signing_secret).verify(request.body, headers)
    assert body["type"] == "api_key.created"
    assert body["data"]["target"]["id"] == key_id
    assert headers["webhook-id"].startswith("msg_")
    assert headers["webhook-signature"].startswith("v1,")
    assert headers["Content-Type"] == "application/json"
    assert headers["Host"] == "hooks.example.com"
    [delivery] = hooks.deliveries()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 204)
    assert delivery.last_latency_ms is not None
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + base64.b64encode(b"x" * 32).decode()).verify(request.body, headers)


@pytest.mark.usefixtures("resolver")
def test_secrets_are_encrypted_at_rest(hooks: Hooks) -> None:
    made = hooks.register(
        auth=ReceiverAuth(type="api_key", header="X-API-Key", value="receiver-key-123456"),
    )
    stored = made.endpoint.encrypted_secrets
    for plaintext in (made.signing_secret, "receiver-key-123456"):
        assert plaintext.encode() not in stored
        assert plaintext.removeprefix("whsec_").encode() not in stored
    assert "receiver-key" not in json.dumps(endpoints.endpoint_item(made.endpoint))


@pytest.mark.usefixtures("resolver")
def test_api_key_receivers_get_their_header(hooks: Hooks) -> None:
    hooks.register(
        auth=ReceiverAuth(type="api_key", header="X-Receiver-Key", value="rk_live_abc"),
    )
    hooks.make_key()
    hooks.http.post(URL, status_code=200)
    hooks.worker.run_once()
    assert hooks.http.last_request.headers["X-Receiver-Key"] == "rk_live_abc"


@pytest.mark.usefixtures("resolver")
def test_oauth_receivers_token_is_fetched_cached_and_fetched_again_once_on_401(
    hooks: Hooks,
) -> None:
    hooks.register(
        auth=ReceiverAuth(
            type="oauth2_client_credentials",
            token_url=TOKEN_URL,
            client_id="latch key",
            client_secret="s3cret:&",
            scope="events:write",
        ),
    )
    token = hooks.http.post(
        TOKEN_URL,
        [
            {"json": {"access_token": "t1", "token_type": "Bearer", "expires_in": 3600}},
            {"json": {"access_token": "t2", "token_type": "Bearer", "expires_in": 3600}},
        ],
    )
    receiver = hooks.http.post(
        URL,
        [{"status_code": 200}, {"status_code": 200}, {"status_code": 401}, {"status_code": 200}],
    )
    hooks.make_key("one")
    hooks.make_key("two")
    hooks.worker.run_once()

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

    hooks.make_key("three")
    hooks.worker.run_once()
    assert token.call_count == 2  # the 401 fetched a new token, once
    assert [r.headers["Authorization"] for r in receiver.request_history[2:]] == [
        "Bearer t1",
        "Bearer t2",
    ]
    assert [d.status for d in hooks.deliveries()] == ["delivered"] * 3


@pytest.mark.usefixtures("resolver")
def test_a_failing_token_endpoint_is_recorded_on_the_delivery_and_retried(hooks: Hooks) -> None:
    hooks.register(
        auth=ReceiverAuth(
            type="oauth2_client_credentials",
            token_url=TOKEN_URL,
            client_id="c",
            client_secret="wrong-secret",
        ),
    )
    hooks.http.post(TOKEN_URL, status_code=401, json={"error": "invalid_client"})
    receiver = hooks.http.post(URL, status_code=200)
    hooks.make_key()
    hooks.worker.run_once()
    [delivery] = hooks.deliveries()
    assert receiver.call_count == 0
    assert delivery.status == "pending" and delivery.next_attempt_at is not None
    assert delivery.last_error == "token request answered 401 (invalid_client)"
    assert "wrong-secret" not in (delivery.last_error or "")


@pytest.mark.usefixtures("resolver")
def test_5xx_and_timeouts_are_retried_on_the_schedule_with_jitter(hooks: Hooks) -> None:
    hooks.register()
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
    receiver = hooks.http.post(URL, answers)
    hooks.make_key()

    hooks.worker.run_once()
    for attempt, delay in enumerate(schedule.RETRY_DELAYS_SECONDS, start=1):
        [delivery] = hooks.deliveries()
        assert delivery.status == "pending" and delivery.attempts == attempt
        assert delivery.next_attempt_at is not None
        wait = (delivery.next_attempt_at - hooks.clock.now) / 1000
        assert delay <= wait <= delay * 1.2 + 0.001  # up to 20 % jitter
        hooks.clock.advance(delay * 0.99)
        assert hooks.worker.run_once() == 0  # not yet due
        hooks.clock.now = delivery.next_attempt_at
        assert hooks.worker.run_once() == 1
    [delivery] = hooks.deliveries()
    assert (delivery.status, delivery.attempts) == ("delivered", 8)
    assert receiver.call_count == 8
    # the same event on every attempt: one webhook-id, the same body
    assert len({r.headers["webhook-id"] for r in receiver.request_history}) == 1
    assert len({r.body for r in receiver.request_history}) == 1


@pytest.mark.usefixtures("resolver")
def test_a_timeout_is_recorded(hooks: Hooks) -> None:
    hooks.register()
    hooks.http.post(URL, exc=requests.exceptions.ReadTimeout)
    hooks.make_key()
    hooks.worker.run_once()
    [delivery] = hooks.deliveries()
    assert delivery.last_error == "timed out after 10 s"
    assert delivery.last_status_code is None and delivery.status == "pending"


@pytest.mark.usefixtures("resolver")
def test_a_4xx_fails_at_once_and_the_next_event_proceeds(hooks: Hooks) -> None:
    hooks.register()
    receiver = hooks.http.post(URL, [{"status_code": 400}, {"status_code": 200}])
    hooks.make_key("one")
    hooks.make_key("two")
    hooks.worker.run_once()
    first, second = hooks.deliveries()
    assert (first.status, first.attempts, first.last_status_code) == ("failed", 1, 400)
    assert first.next_attempt_at is None
    assert second.status == "delivered"
    assert receiver.call_count == 2


@pytest.mark.usefixtures("resolver")
def test_a_later_event_waits_while_an_earlier_one_is_retried(hooks: Hooks) -> None:
    hooks.register()
    receiver = hooks.http.post(URL, [{"status_code": 500}, {"status_code": 200}])
    hooks.make_key("one")
    hooks.make_key("two")
    hooks.worker.run_once()
    assert receiver.call_count == 1  # "two" waits behind "one"
    hooks.clock.advance(10)
    hooks.worker.run_once()
    names = [json.loads(r.body)["data"]["target"]["name"] for r in receiver.request_history]
    assert names == ["one", "one", "two"]


@pytest.mark.usefixtures("resolver")
def test_an_endpoint_failing_for_24_hours_is_disabled(hooks: Hooks) -> None:
    made = hooks.register()
    hooks.http.post(URL, status_code=500)
    hooks.make_key()
    started = hooks.clock.now
    hooks.worker.run_once()
    while True:
        [delivery] = hooks.deliveries()
        if delivery.next_attempt_at is None:
            break
        hooks.clock.now = delivery.next_attempt_at
        hooks.worker.run_once()
        hooks.session.expire_all()
        if made.endpoint.disabled_at is not None:
            break
    endpoint = hooks.session.get_one(WebhookEndpoint, made.endpoint.id)
    assert endpoint.disabled_at is not None
    assert endpoint.disabled_at - started >= schedule.DISABLE_AFTER_MS
    audit = hooks.session.scalars(select(AuditEvent).where(AuditEvent.action == "webhook.disabled"))
    assert [a.target_id for a in audit] == [str(endpoint.id)]
    # nothing more goes to a disabled endpoint
    calls = hooks.http.call_count
    hooks.make_key("later")
    hooks.clock.advance(3600)
    hooks.worker.run_once()
    assert hooks.http.call_count == calls


@pytest.mark.usefixtures("resolver")
def test_a_success_resets_the_failure_clock(hooks: Hooks) -> None:
    made = hooks.register()
    hooks.http.post(URL, [{"status_code": 500}, {"status_code": 200}])
    hooks.make_key()
    hooks.worker.run_once()
    hooks.session.expire_all()
    assert made.endpoint.failing_since is not None
    hooks.clock.advance(10)
    hooks.worker.run_once()
    hooks.session.expire_all()
    assert made.endpoint.failing_since is None


@pytest.mark.usefixtures("resolver")
def test_after_a_rotation_both_secrets_sign_for_a_day(hooks: Hooks) -> None:
    made = hooks.register()
    new = endpoints.rotate_secret(hooks.session, hooks.sealer, made.endpoint, hooks.actor)
    hooks.session.commit()
    hooks.http.post(URL, status_code=200)
    hooks.make_key()
    hooks.worker.run_once()
    request = hooks.http.last_request
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (made.signing_secret, new):
        Webhook(secret).verify(request.body, sent_headers(request))
    hooks.clock.advance(24 * 3600 + 1)
    hooks.make_key("later")
    hooks.worker.run_once()
    request = hooks.http.last_request
    assert len(request.headers["webhook-signature"].split(" ")) == 1
    # (the driven clock is a day ahead: compare the signature itself, not the timestamp)
    at = datetime.fromtimestamp(int(request.headers["webhook-timestamp"]), UTC)
    expected = Webhook(new).sign(request.headers["webhook-id"], at, request.body)
    assert request.headers["webhook-signature"] == expected


@pytest.mark.usefixtures("resolver")
def test_a_claim_of_a_worker_that_died_expires_and_the_delivery_is_retried(hooks: Hooks) -> None:
    hooks.register()
    hooks.make_key()
    hooks.http.post(URL, status_code=200)
    # another worker claims it and dies before it answers
    [claimed] = queue.claim(
        hooks.session,
        holder="dead",
        now=hooks.clock.now,
        claim_ms=60_000,
        limit=10,
        skip_locked=False,
    )
    assert hooks.worker.run_once() == 0
    hooks.clock.advance(61)
    assert hooks.worker.run_once() == 1
    assert hooks.http.last_request.headers["webhook-id"] == claimed.msg_id
    assert hooks.deliveries()[0].status == "delivered"


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
def test_non_public_urls_are_refused_at_registration(hooks: Hooks, url: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        hooks.register(url=url)
    assert [e.field for e in refused.value.errors] == ["url"]
    hooks.session.rollback()
    assert hooks.session.scalars(select(WebhookEndpoint)).all() == []


@pytest.mark.usefixtures("resolver")
def test_the_token_url_follows_the_same_rule(hooks: Hooks) -> None:
    with pytest.raises(ValidationFailed) as refused:
        hooks.register(
            auth=ReceiverAuth(
                type="oauth2_client_credentials",
                token_url="https://localhost/token",
                client_id="c",
                client_secret="s",
            ),
        )
    assert [e.field for e in refused.value.errors] == ["auth.token_url"]


@pytest.mark.usefixtures("resolver")
def test_allow_private_admits_http_and_loopback(hooks: Hooks) -> None:
    made = hooks.register(url="http://localhost:8080/in", allow_private=True)
    assert made.endpoint.url == "http://localhost:8080/in"


@pytest.mark.usefixtures("resolver")
def test_dns_rebinding_after_registration_is_refused_at_delivery(
    hooks: Hooks, resolver: dict[str, list[str]]
) -> None:
    hooks.register()  # hooks.example.com is public now ...
    resolver["hooks.example.com"] = ["127.0.0.1"]  # ... and points to loopback later
    hooks.http.post(URL, status_code=200)
    hooks.make_key()
    hooks.worker.run_once()
    assert hooks.http.call_count == 0
    [delivery] = hooks.deliveries()
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
def test_auth_is_checked_field_by_field(hooks: Hooks, auth: ReceiverAuth, field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        hooks.register(auth=auth)
    assert [e.field for e in refused.value.errors] == [field]


@pytest.mark.usefixtures("resolver")
def test_unknown_event_types_are_refused(hooks: Hooks) -> None:
    with pytest.raises(ValidationFailed) as refused:
        hooks.register(events=["api_key.created", "api_key.exploded"])
    assert [e.field for e in refused.value.errors] == ["events"]


def test_a_token_is_used_until_30_seconds_before_it_expires() -> None:
    from keys.webhooks.sender import TokenCache

    now = [1000.0]
    cache = TokenCache(clock=lambda: now[0])
    cache.put(("endpoint",), "t1", expires_in=100)
    now[0] += 69.9
    assert cache.get(("endpoint",)) == "t1"
    now[0] += 0.2  # 30 s before expires_in ends
    assert cache.get(("endpoint",)) is None


@pytest.mark.usefixtures("resolver")
def test_secrets_sealed_under_another_pepper_fail_the_attempt_with_words(
    hooks: Hooks, engine: Engine
) -> None:
    hooks.register()
    hooks.make_key()
    hooks.http.post(URL, status_code=200)
    other = DeliveryWorker(
        lambda: Session(engine, expire_on_commit=False),
        KeyRing(kek=b"o" * 32, session_factory=lambda: Session(engine)),
        WorkerSettings(),
        clock=hooks.clock,
        rng=random.Random(1),
    )
    assert other.run_once() == 1
    [delivery] = hooks.deliveries()
    assert hooks.http.call_count == 0 and delivery.status == "pending"
    assert "LATCHKEY_PEPPER" in (delivery.last_error or "")
