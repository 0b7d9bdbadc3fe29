"""Apps and resource servers as Authlib clients, and how they authenticate (RFC 6749 §2.3.1).

OAuth apps authenticate at the token and revocation endpoints, resource servers at the
introspection endpoint; any other combination is ``invalid_client`` (401).
"""

from __future__ import annotations

import re
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.util import scope_to_list

from keys import client_records, client_secrets
from keys.client_records import AppRecord, ClientRecord, ResourceServerRecord
from keys.clock import now_ms
from keys.hashing import fingerprint
from oauth_server.extensions import db
from oauth_server.services import services, state_view

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

#: Client IDs are ``<kind>_<public id>``: URL-safe characters (DESIGN.md, "Credential formats").
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")


class SecretClient(ClientMixin):
    """What apps and resource servers share: a client ID and a rotatable secret."""

    endpoints: frozenset[str] = frozenset()

    def __init__(self, record: ClientRecord) -> None:
        self.record = record

    def get_client_id(self) -> str:
        return self.record.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        """RFC 6749 §2.3.1: the current secret, or the previous one during a rotation.

        A secret that matched is remembered, by a digest, under the request's stamp (a
        rotation or a revoke moves it) until the end :func:`client_secrets.valid_until`
        gives, so a client that authenticates on every request pays the parse, checksum and
        HMAC once. Failures are not remembered: guesses must not fill the cache.
        """
        core = services().core
        until = state_view().get(
            ("client secret", self.record.client_id, fingerprint(client_secret)),
            lambda: client_secrets.valid_until(
                self.record, core.hasher, core.prefixes.client_secret, client_secret
            ),
            keep=lambda matched: matched is not None,
        )
        return until is not None and until > now_ms()

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """RFC 7591 §2: which endpoints this kind of client may authenticate at."""
        return method in CLIENT_AUTH_METHODS and endpoint in self.endpoints

    def check_grant_type(self, grant_type: str) -> bool:
        return False


class AppClient(SecretClient):
    record: AppRecord
    endpoints = frozenset({"token", "revocation"})

    def __init__(self, record: AppRecord) -> None:
        super().__init__(record)
        self.team_id: int | None = record.team_id
        self.audience: str | None = None

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"

    def get_allowed_scope(self, scope: str | None) -> str:
        """RFC 6749 §3.3: no scope asked (absent, empty or only spaces) means all of the app's
        scopes; a token with none would be refused everywhere."""
        requested = scope_to_list(scope) if scope else None
        if not requested:
            return self.record.scopes
        return " ".join(dict.fromkeys(requested))


class ResourceServerClient(SecretClient):
    record: ResourceServerRecord
    endpoints = frozenset({"introspection"})


def looks_like_client_id(value: str) -> bool:
    """Whether ``value`` could be a client ID of ours: 1 to 100 URL-safe characters."""
    return _CLIENT_ID.fullmatch(value) is not None


def query_client(client_id: str) -> SecretClient | None:
    """The live app or resource server with this client ID. An ID that is not URL-safe
    characters is none of ours, and is never sent to the database (PostgreSQL refuses a
    NUL in a query: a 500 instead of the client's 401)."""
    if not looks_like_client_id(client_id):
        return None
    kind = services().core.prefixes.kind_of(client_id)
    if kind == "app_client_id":
        app = client_records.app_record(state_view(), db.session, client_id)
        return AppClient(app) if app and app.revoked_at is None else None
    if kind == "resource_server_client_id":
        server = client_records.resource_server_record(state_view(), db.session, client_id)
        return ResourceServerClient(server) if server and server.revoked_at is None else None
    return None


def _authenticate(client_id: str | None, secret: str | None) -> SecretClient | None:
    if not client_id or not secret:
        return None
    client = query_client(client_id)
    return client if client and client.check_client_secret(secret) else None


def authenticate_basic(_query_client: Any, request: Any) -> SecretClient | None:
    """RFC 6749 §2.3.1 HTTP Basic (form-urlencoded id and secret, then base64)."""
    return _authenticate(*request.basic_credentials)


def authenticate_post(_query_client: Any, request: Any) -> SecretClient | None:
    """RFC 6749 §2.3.1 credentials in the request body.

    Unlike Authlib's default, an unknown client is not answered with a 400 here: every
    failed client authentication is the same 401 ``invalid_client``.
    """
    return _authenticate(request.form.get("client_id"), request.form.get("client_secret"))
