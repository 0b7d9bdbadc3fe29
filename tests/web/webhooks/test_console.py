"""The console's Webhooks tab, in process (a browser without JavaScript: forms posted with
their CSRF token)."""

from __future__ import annotations

import re
import socket
from typing import Any

import pytest
import requests_mock as rm
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from keys.clock import now_ms
from keys.webhooks import addresses
from keys.webhooks.models import WebhookEndpoint
from keys.webhooks.worker import DeliveryWorker
from oauth_server.extensions import db
from tests.web.webhooks.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Caller

URL = "https://hooks.example.com/latchkey"
TAB = "/settings/api-access/webhooks"


@pytest.fixture(autouse=True)
def resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host == "hooks.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]
        return socket.getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(addresses, "getaddrinfo", resolve)


class Console:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def csrf(self, path: str) -> str:
        match = re.search(r'name="csrf_token"[^>]* value="([^"]+)"', self.client.get(path).text)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def post(self, path: str, data: dict[str, Any], form_page: str) -> Any:
        return self.client.post(path, data={"csrf_token": self.csrf(form_page), **data})


def console_for(app: Flask, email: str) -> Console:
    console = Console(app.test_client())
    response = console.post("/login", {"email": email, "password": ADMIN_PASSWORD}, "/login")
    assert response.status_code == 302
    return console


@pytest.fixture
def console(app: Flask) -> Console:
    return console_for(app, ADMIN_EMAIL)


def no_inline_code(html: str) -> None:
    """The strict CSP runs no inline script or style: the page must not need any."""
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+=", html)


def test_register_shows_the_signing_secret_once(console: Console, app: Flask) -> None:
    page = console.client.get(TAB)
    assert page.status_code == 200 and "No webhook endpoints yet" in page.text
    no_inline_code(page.text)
    assert "api_key.expiring" in page.text  # the grouped event list

    response = console.post(
        TAB,
        {
            "url": URL,
            "events": ["api_key.created", "api_key.revoked"],
            "auth_type": "api_key",
            "auth_header": "X-Receiver-Key",
            "auth_value": "rk_live_secret",
        },
        TAB,
    )
    assert response.status_code == 302
    shown = console.client.get(TAB).text
    secret = re.search(r'value="(whsec_[^"]+)"', shown)
    assert secret, "the signing secret is shown after registering"
    assert "will not be shown again" in shown
    assert "X-Receiver-Key" in shown and "rk_live_secret" not in shown
    no_inline_code(shown)
    again = console.client.get(TAB).text
    assert secret.group(1) not in again and URL in again


def test_a_refused_url_is_named_beside_its_field(console: Console) -> None:
    response = console.post(
        TAB, {"url": "https://127.0.0.1/in", "events": ["*"], "auth_type": "none"}, TAB
    )
    assert response.status_code == 422
    error = re.search(r'id="url-error">([^<]*)<', response.text)
    assert error and "not a public address" in error.group(1)
    response = console.post(
        TAB,
        {
            "url": URL,
            "events": ["*"],
            "auth_type": "oauth2_client_credentials",
            "auth_token_url": "https://hooks.example.com/token",
            "auth_client_id": "c",
        },
        TAB,
    )
    assert response.status_code == 422
    error = re.search(r'id="auth_client_secret-error">([^<]*)<', response.text)
    assert error and "is required" in error.group(1)


def test_deliveries_test_event_and_redeliver(
    console: Console, app: Flask, requests_mock: rm.Mocker, worker: DeliveryWorker
) -> None:
    console.post(TAB, {"url": URL, "events": ["*"], "auth_type": "none"}, TAB)
    with app.app_context():
        webhook_id = db.session.scalars(select(WebhookEndpoint.id)).one()
    deliveries = f"{TAB}/{webhook_id}/deliveries"
    assert console.post(f"{TAB}/{webhook_id}/test", {}, deliveries).status_code == 302
    requests_mock.post(URL, status_code=204)
    worker.run_once()
    page = console.client.get(deliveries).text
    no_inline_code(page)
    assert "webhook.test" in page and "Delivered" in page
    row = re.search(r'data-delivery-id="(\d+)"(.*?)</tr>', page, re.S)
    assert row is not None
    assert "204" in row.group(2) and " ms" in row.group(2)
    assert re.search(r'data-label="Attempts"><div class="cell">1<', row.group(2))
    redeliver = f"{deliveries}/{row.group(1)}/redeliver"
    assert console.post(redeliver, {}, deliveries).status_code == 302
    worker.run_once()
    assert requests_mock.call_count == 2
    assert len(set(r.headers["webhook-id"] for r in requests_mock.request_history)) == 1


def test_rotate_shows_the_new_secret_once(console: Console, app: Flask) -> None:
    console.post(TAB, {"url": URL, "events": ["*"], "auth_type": "none"}, TAB)
    first = re.search(r'value="(whsec_[^"]+)"', console.client.get(TAB).text)
    assert first
    with app.app_context():
        webhook_id = db.session.scalars(select(WebhookEndpoint.id)).one()
    rotate = f"{TAB}/{webhook_id}/rotate"
    assert "two signatures" in console.client.get(rotate).text
    assert console.post(rotate, {}, rotate).status_code == 302
    second = re.search(r'value="(whsec_[^"]+)"', console.client.get(TAB).text)
    assert second and second.group(1) != first.group(1)


def test_admins_see_the_disabled_banner_and_may_enable(
    console: Console, app: Flask, admin: Caller
) -> None:
    console.post(TAB, {"url": URL, "events": ["*"], "auth_type": "none"}, TAB)
    with app.app_context():
        endpoint = db.session.scalars(select(WebhookEndpoint)).one()
        endpoint.disabled_at = now_ms()
        db.session.commit()
        webhook_id = endpoint.id
    banner = console.client.get(TAB).text  # the banner of every API-access tab
    assert "Webhook disabled" in banner and "failed for 24 hours" in banner

    admin.ok(
        "POST",
        "/api/users",
        201,
        json={
            "email": "dev@example.com",
            "name": "Dev",
            "role": "developer",
            "password": ADMIN_PASSWORD,
        },
    )
    developer = console_for(app, "dev@example.com")
    seen = developer.client.get(TAB)
    assert seen.status_code == 200 and URL in seen.text
    assert "Webhook disabled" not in seen.text and "Add an endpoint" not in seen.text
    assert (
        developer.post(TAB, {"url": URL, "events": ["*"], "auth_type": "none"}, TAB).status_code
        == 403
    )

    assert console.post(f"{TAB}/{webhook_id}/enable", {}, TAB).status_code == 302
    assert "Webhook disabled" not in console.client.get(TAB).text
