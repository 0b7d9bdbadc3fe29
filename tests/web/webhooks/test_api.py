"""``/api/webhooks`` in process: registration and its rules, who may do what, test events,
deliveries and redelivery, rotation, and that a rolled-back change sends nothing. Receivers
are other people's servers: requests-mock stands in for them."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import requests_mock as rm
from flask import Flask
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from standardwebhooks import Webhook

from keys.webhooks import addresses, outbox
from keys.webhooks.models import WebhookDelivery, WebhookEvent
from keys.webhooks.worker import DeliveryWorker
from oauth_server.extensions import db
from tests.web.webhooks.conftest import ADMIN_PASSWORD, Caller, sign_in

URL = "https://hooks.example.com/latchkey"
PUBLIC = {"hooks.example.com": "93.184.215.14", "auth.example.com": "93.184.215.15"}


@pytest.fixture(autouse=True)
def resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names of the tests' receivers resolve to public addresses (the resolver is not our
    HTTP surface); every other name resolves as usual (``localhost`` to loopback)."""

    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host in PUBLIC:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC[host], port))]
        return socket.getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(addresses, "getaddrinfo", resolve)


def register(admin: Caller, **fields: Any) -> dict[str, Any]:
    body = {"url": URL, "events": ["*"], "auth": {"type": "none"}, **fields}
    return admin.ok("POST", "/api/webhooks", 201, json=body)  # type: ignore[no-any-return]


def member(admin: Caller, role: str, org_id: int | None = None) -> Caller:
    email = f"{role}-{org_id}@example.com"
    body = {"email": email, "name": role, "role": role, "password": ADMIN_PASSWORD}
    if org_id is not None:
        body["org_id"] = org_id
    admin.ok("POST", "/api/users", 201, json=body)
    return sign_in(admin.client, email)


def delivered_count() -> float:
    value = REGISTRY.get_sample_value("latchkey_webhook_deliveries_total", {"outcome": "delivered"})
    return value or 0.0


def count(app: Flask, model: type[Any]) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def test_register_shows_the_signing_secret_once_and_never_the_receivers_secret(
    admin: Caller,
) -> None:
    made = register(
        admin,
        description="billing sync",
        auth={"type": "api_key", "header": "X-Receiver-Key", "value": "rk_live_secret"},
        events=["api_key.created", "api_key.revoked"],
    )
    assert made["signing_secret"].startswith("whsec_")
    assert made["auth"] == {
        "type": "api_key",
        "header": "X-Receiver-Key",
        "token_url": None,
        "client_id": None,
        "scope": None,
    }
    assert made["status"] == "active" and made["events"] == ["api_key.created", "api_key.revoked"]
    read = admin.ok("GET", f"/api/webhooks/{made['id']}")
    assert "signing_secret" not in read
    assert "rk_live_secret" not in str(read) and "rk_live_secret" not in str(
        admin.ok("GET", "/api/webhooks")
    )
    audit = admin.ok("GET", "/api/audit-events?action=webhook.created")
    assert [e["target"]["id"] for e in audit] == [made["id"]]
    assert "rk_live_secret" not in str(audit) and made["signing_secret"] not in str(audit)


def test_list_is_newest_first_and_paginated(admin: Caller) -> None:
    ids = [register(admin)["id"] for _ in range(3)]
    response = admin.call("GET", "/api/webhooks?limit=2")
    assert [w["id"] for w in response.get_json()] == ids[::-1][:2]
    assert 'rel="next"' in response.headers["Link"]
    rest = admin.ok("GET", f"/api/webhooks?limit=2&cursor={ids[1]}")
    assert [w["id"] for w in rest] == [ids[0]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://hooks.example.com/in"}, "url"),
        ({"url": "https://localhost/in"}, "url"),
        ({"url": "https://10.0.0.8/in"}, "url"),
        ({"url": "https://169.254.169.254/"}, "url"),
        ({"events": []}, "events"),
        ({"events": ["api_key.exploded"]}, "events"),
        ({"events": "api_key.created"}, "events"),
        ({"auth": {"type": "basic"}}, "auth.type"),
        ({"auth": {"type": "api_key", "value": "v"}}, "auth.header"),
        ({"auth": {"type": "api_key", "header": "X-Key"}}, "auth.value"),
        (
            {
                "auth": {
                    "type": "oauth2_client_credentials",
                    "token_url": "https://127.0.0.1/t",
                    "client_id": "c",
                    "client_secret": "s",
                }
            },
            "auth.token_url",
        ),
        ({"auth": None}, "auth"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_invalid_registrations_are_422_naming_the_field(
    app: Flask, admin: Caller, body: dict[str, Any], field: str
) -> None:
    full = {"url": URL, "events": ["*"], "auth": {"type": "none"}, **body}
    response = admin.call("POST", "/api/webhooks", json=full)
    assert response.status_code == 422, response.get_data(True)
    assert field in [e["field"] for e in response.get_json()["errors"]]
    assert count(app, WebhookEvent) == 0
    assert admin.ok("GET", "/api/webhooks") == []


def test_malformed_json_is_400(admin: Caller) -> None:
    response = admin.call(
        "POST",
        "/api/webhooks",
        data="{",
        headers={**admin.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400


def test_developers_read_admins_manage_other_orgs_see_nothing(admin: Caller) -> None:
    made = register(admin)
    developer = member(admin, "developer")
    assert developer.ok("GET", "/api/webhooks")[0]["id"] == made["id"]
    developer.ok("GET", f"/api/webhooks/{made['id']}/deliveries")
    for method, path in [
        ("POST", "/api/webhooks"),
        ("PATCH", f"/api/webhooks/{made['id']}"),
        ("DELETE", f"/api/webhooks/{made['id']}"),
        ("POST", f"/api/webhooks/{made['id']}/rotate-secret"),
        ("POST", f"/api/webhooks/{made['id']}/test"),
    ]:
        assert developer.call(method, path, json={}).status_code == 403, (method, path)
    assert member(admin, "member").call("GET", "/api/webhooks").status_code == 403

    org = admin.ok("POST", "/api/orgs", 201, json={"name": "Other", "api_access": True})
    other = member(admin, "admin", org["id"])
    assert other.ok("GET", "/api/webhooks") == []
    for method, path in [
        ("GET", f"/api/webhooks/{made['id']}"),
        ("PATCH", f"/api/webhooks/{made['id']}"),
        ("DELETE", f"/api/webhooks/{made['id']}"),
        ("POST", f"/api/webhooks/{made['id']}/test"),
        ("GET", f"/api/webhooks/{made['id']}/deliveries"),
    ]:
        assert other.call(method, path, json={}).status_code == 404, (method, path)


def test_a_test_event_is_delivered_signed_and_listed_with_its_outcome(
    app: Flask, admin: Caller, requests_mock: rm.Mocker, worker: DeliveryWorker
) -> None:
    made = register(admin)
    queued = admin.ok("POST", f"/api/webhooks/{made['id']}/test", 202)
    assert queued["type"] == "webhook.test" and queued["status"] == "pending"
    requests_mock.post(URL, status_code=202)
    delivered = delivered_count()

    assert worker.run_once() == 1
    assert delivered_count() == delivered + 1  # /metrics counts it

    request = requests_mock.last_request
    body = Webhook(made["signing_secret"]).verify(request.body, dict(request.headers))
    assert body["type"] == "webhook.test" and body["data"]["target"]["id"] == made["id"]
    assert request.headers["webhook-id"] == queued["event_id"]
    [delivery] = admin.ok("GET", f"/api/webhooks/{made['id']}/deliveries")
    assert delivery["status"] == "delivered" and delivery["attempts"] == 1
    assert delivery["last_status_code"] == 202 and delivery["latency_ms"] is not None
    assert delivery["next_retry_at"] is None

    again = admin.ok(
        "POST", f"/api/webhooks/{made['id']}/deliveries/{delivery['id']}/redeliver", 202
    )
    assert again["id"] != delivery["id"] and again["event_id"] == delivery["event_id"]
    worker.run_once()
    assert requests_mock.call_count == 2
    assert requests_mock.last_request.headers["webhook-id"] == delivery["event_id"]
    listed = admin.ok("GET", f"/api/webhooks/{made['id']}/deliveries")
    assert [d["id"] for d in listed] == [again["id"], delivery["id"]]
    assert (
        admin.call("POST", f"/api/webhooks/{made['id']}/deliveries/999999/redeliver").status_code
        == 404
    )


def test_a_failed_delivery_shows_its_next_retry(
    app: Flask, admin: Caller, requests_mock: rm.Mocker, worker: DeliveryWorker
) -> None:
    made = register(admin)
    admin.ok("POST", f"/api/webhooks/{made['id']}/test", 202)
    requests_mock.post(URL, status_code=503)
    worker.run_once()
    [delivery] = admin.ok("GET", f"/api/webhooks/{made['id']}/deliveries")
    assert delivery["status"] == "pending" and delivery["last_status_code"] == 503
    assert delivery["next_retry_at"] > delivery["last_attempt_at"] + 5000 - 1
    assert delivery["last_error"] == "answered 503"


def test_rotation_returns_a_new_secret_and_both_sign(
    app: Flask, admin: Caller, requests_mock: rm.Mocker, worker: DeliveryWorker
) -> None:
    made = register(admin)
    rotated = admin.ok("POST", f"/api/webhooks/{made['id']}/rotate-secret")
    assert rotated["signing_secret"] != made["signing_secret"]
    assert rotated["previous_secret_expires_at"] is not None
    admin.ok("POST", f"/api/webhooks/{made['id']}/test", 202)
    requests_mock.post(URL, status_code=200)
    worker.run_once()
    request = requests_mock.last_request
    for secret in (made["signing_secret"], rotated["signing_secret"]):
        Webhook(secret).verify(request.body, dict(request.headers))
    assert (
        admin.ok("GET", "/api/audit-events?action=webhook.rotated")[0]["target"]["id"] == made["id"]
    )


def test_edit_pause_resume_and_delete(admin: Caller) -> None:
    made = register(admin)
    edited = admin.ok(
        "PATCH",
        f"/api/webhooks/{made['id']}",
        json={"events": ["app.created"], "description": "apps only"},
    )
    assert edited["events"] == ["app.created"] and edited["description"] == "apps only"
    assert (
        admin.ok("PATCH", f"/api/webhooks/{made['id']}", json={"enabled": False})["status"]
        == "disabled"
    )
    assert admin.call("POST", f"/api/webhooks/{made['id']}/test").status_code == 409
    assert (
        admin.ok("PATCH", f"/api/webhooks/{made['id']}", json={"enabled": True})["status"]
        == "active"
    )
    # a new receiver key for the same auth type may leave the stored value out of an edit ...
    admin.ok(
        "PATCH",
        f"/api/webhooks/{made['id']}",
        json={"auth": {"type": "api_key", "header": "X-K", "value": "v1"}},
    )
    admin.ok(
        "PATCH", f"/api/webhooks/{made['id']}", json={"auth": {"type": "api_key", "header": "X-K2"}}
    )
    # ... but not when switching to another type
    switched = admin.call(
        "PATCH",
        f"/api/webhooks/{made['id']}",
        json={
            "auth": {
                "type": "oauth2_client_credentials",
                "token_url": "https://auth.example.com/t",
                "client_id": "c",
            }
        },
    )
    assert switched.status_code == 422
    assert [e["field"] for e in switched.get_json()["errors"]] == ["auth.client_secret"]
    assert (
        admin.call(
            "PATCH", f"/api/webhooks/{made['id']}", json={"url": "https://127.0.0.1/"}
        ).status_code
        == 422
    )
    updated = admin.ok("GET", "/api/audit-events?action=webhook.updated")
    assert len(updated) == 5
    assert admin.ok("DELETE", f"/api/webhooks/{made['id']}") == {"ok": True}
    assert admin.call("GET", f"/api/webhooks/{made['id']}").status_code == 404
    assert (
        admin.ok("GET", "/api/audit-events?action=webhook.deleted")[0]["target"]["id"] == made["id"]
    )


def test_a_key_change_that_is_rolled_back_sends_nothing(
    app: Flask,
    admin: Caller,
    monkeypatch: pytest.MonkeyPatch,
    requests_mock: rm.Mocker,
    worker: DeliveryWorker,
) -> None:
    register(admin, events=["api_key.created"])
    publish = outbox.publish_change

    def publish_then_fail(*args: Any, **kwargs: Any) -> None:
        publish(*args, **kwargs)  # the audit event and the webhook event are written ...
        raise RuntimeError("the disk is full")  # ... and the change fails after them

    monkeypatch.setattr(outbox, "publish_change", publish_then_fail)
    response = admin.call("POST", "/api/keys", json={"name": "doomed", "scopes": ["people:read"]})
    assert response.status_code == 500
    assert count(app, WebhookEvent) == 0 and count(app, WebhookDelivery) == 0
    requests_mock.post(URL, status_code=200)
    worker.run_once()
    assert requests_mock.call_count == 0

    monkeypatch.setattr(outbox, "publish_change", publish)
    admin.ok("POST", "/api/keys", 201, json={"name": "kept", "scopes": ["people:read"]})
    assert count(app, WebhookEvent) == 1


def test_the_endpoints_are_in_the_openapi_document(app: Flask) -> None:
    paths = app.test_client().get("/openapi.json").get_json()["paths"]
    for path in (
        "/api/webhooks",
        "/api/webhooks/{webhook_id}",
        "/api/webhooks/{webhook_id}/rotate-secret",
        "/api/webhooks/{webhook_id}/test",
        "/api/webhooks/{webhook_id}/deliveries",
        "/api/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    ):
        assert path in paths, path
