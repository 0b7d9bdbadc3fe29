"""The resource-server client when Latchkey, as the operator's API sees it (a remote server),
misbehaves — and its cache. Latchkey is played by ``requests-mock``; the operator's app is
the example people API, in process with Flask's test client."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import requests_mock
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from examples.people_api import create_app
from oauth_server.resource import LatchkeyClient

ISSUER = "https://latchkey.test"
INTROSPECT = f"{ISSUER}/oauth/introspect"
JWKS = f"{ISSUER}/oauth/jwks"
AUDIENCE = "https://people.test"
RS_ID, RS_SECRET = "lkrs_AAAAAAAAAAAA", "lkcs_AAAAAAAAAAAA_resource+server:secret"
KEY = "lk_BBBBBBBBBBBB_" + "s" * 38
ACTIVE = {
    "active": True,
    "scope": "people:read people:write",
    "token_type": "api_key",
    "iat": 1_700_000_000,
    "sub": "7",
    "aud": ISSUER,
    "iss": ISSUER,
    "jti": "lk_BBBBBBBBBBBB",
    "org_id": 1,
    "team_id": None,
    "key_prefix": "lk_BBBBBBBBBBBB",
    "name": "Nightly export",
}

Api = Callable[..., FlaskClient]


@pytest.fixture
def latchkey() -> Iterator[requests_mock.Mocker]:
    with requests_mock.Mocker() as mock:
        yield mock


@pytest.fixture
def people_api() -> Iterator[Api]:
    made: list[LatchkeyClient] = []

    def make(**options: Any) -> FlaskClient:
        client = LatchkeyClient(ISSUER, RS_ID, RS_SECRET, audience=AUDIENCE, **options)
        made.append(client)
        return create_app(client).test_client()

    yield make
    for client in made:
        client.close()


def read(api: FlaskClient, credential: str = KEY) -> Any:
    return api.get("/teams/3/people", headers={"Authorization": f"Bearer {credential}"})


# -- failing closed ------------------------------------------------------------------------------

FAULTS: list[Any] = [
    pytest.param({"exc": requests.exceptions.ConnectTimeout}, id="connect-timeout"),
    pytest.param({"exc": requests.exceptions.ReadTimeout}, id="read-timeout"),
    pytest.param({"exc": requests.exceptions.ConnectionError}, id="connection-refused"),
    pytest.param({"status_code": 500, "text": "Internal Server Error"}, id="500"),
    pytest.param({"status_code": 502, "text": "<html>Bad gateway</html>"}, id="502"),
    pytest.param({"status_code": 503, "json": {"error": "temporarily_unavailable"}}, id="503"),
    pytest.param({"status_code": 401, "json": {"error": "invalid_client"}}, id="401-our-secret"),
    pytest.param({"status_code": 429, "json": {"error": "slow_down"}}, id="429"),
    pytest.param({"status_code": 302, "headers": {"Location": "/login"}}, id="redirect"),
    pytest.param({"text": "<html>a captive portal</html>"}, id="not-json"),
    pytest.param({"json": {"scope": "people:read", "org_id": 1}}, id="no-active"),
    pytest.param({"json": {**ACTIVE, "active": "true"}}, id="active-not-boolean"),
    pytest.param({"json": {**ACTIVE, "active": 1}}, id="active-a-number"),
    pytest.param({"json": [True]}, id="not-an-object"),
    pytest.param({"json": {**ACTIVE, "org_id": None}}, id="active-without-org"),
    pytest.param({"json": {**ACTIVE, "scope": ["people:read"]}}, id="scope-not-text"),
    pytest.param({"json": {**ACTIVE, "team_id": "3"}}, id="team-not-integer"),
]


@pytest.mark.parametrize("fault", FAULTS)
def test_latchkey_failing_is_503_and_never_access(
    latchkey: requests_mock.Mocker, people_api: Api, fault: dict[str, Any]
) -> None:
    latchkey.post(INTROSPECT, **fault)
    api = people_api()
    r = read(api)
    assert r.status_code == 503, r.text
    assert r.headers["Retry-After"] == "5"
    assert "WWW-Authenticate" not in r.headers
    assert r.json["error"] == "temporarily_unavailable"
    assert KEY not in r.get_data(as_text=True)
    # Nothing of the failure is remembered: Latchkey back, the request goes through.
    latchkey.post(INTROSPECT, json=ACTIVE)
    assert read(api).status_code == 200


def test_a_dropped_connection_is_retried_once_and_a_timeout_is_not(
    latchkey: requests_mock.Mocker, people_api: Api
) -> None:
    api = people_api()
    latchkey.post(INTROSPECT, [{"exc": requests.exceptions.ConnectionError}, {"json": ACTIVE}])
    assert read(api).status_code == 200
    assert latchkey.call_count == 2

    latchkey.post(INTROSPECT, [{"exc": requests.exceptions.ReadTimeout}, {"json": ACTIVE}])
    assert read(api, KEY[:-1] + "t").status_code == 503
    assert latchkey.call_count == 3


def test_an_outage_is_logged_once_without_secrets(
    latchkey: requests_mock.Mocker, people_api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    api = people_api()
    latchkey.post(INTROSPECT, status_code=401, json={"error": "invalid_client"})
    with caplog.at_level(logging.INFO, logger="latchkey.resource"):
        for _ in range(5):
            assert read(api).status_code == 503
        latchkey.post(INTROSPECT, json=ACTIVE)
        assert read(api).status_code == 200
        assert read(api, KEY[:-1] + "t").status_code == 200
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        "Latchkey introspection unavailable (HTTP 401: Latchkey refused this resource "
        "server's client ID or secret); failing closed",
        "Latchkey introspection answers again after 5 failed calls",
    ]
    for secret in (KEY, RS_SECRET, "s" * 38):
        assert secret not in caplog.text


def test_the_client_authenticates_with_form_encoded_basic_credentials(
    latchkey: requests_mock.Mocker, people_api: Api
) -> None:
    latchkey.post(INTROSPECT, json=ACTIVE)
    assert read(people_api()).status_code == 200
    sent = latchkey.request_history[0]
    # RFC 6749 §2.3.1: form-urlencoded, then base64 ("+" → %2B, ":" → %3A).
    encoded = "lkrs_AAAAAAAAAAAA:lkcs_AAAAAAAAAAAA_resource%2Bserver%3Asecret"
    assert sent.headers["Authorization"] == "Basic " + base64.b64encode(encoded.encode()).decode()
    assert sent.text == f"token={KEY}"
    assert sent.timeout == 3.0


# -- the cache -------------------------------------------------------------------------------------


def test_answers_are_remembered_for_ttl_and_not_at_all_with_ttl_0(
    latchkey: requests_mock.Mocker, people_api: Api
) -> None:
    latchkey.post(INTROSPECT, json=ACTIVE)
    cached = people_api(ttl=0.5)
    assert read(cached).status_code == 200
    assert read(cached).status_code == 200
    assert latchkey.call_count == 1
    time.sleep(0.55)
    assert read(cached).status_code == 200
    assert latchkey.call_count == 2

    uncached = people_api(ttl=0)
    for _ in range(3):
        assert read(uncached).status_code == 200
    assert latchkey.call_count == 5


def test_inactive_answers_are_remembered_for_ttl_too(
    latchkey: requests_mock.Mocker, people_api: Api
) -> None:
    latchkey.post(INTROSPECT, json={"active": False})
    api = people_api(ttl=0.5)
    for _ in range(3):
        assert read(api).status_code == 401
    assert latchkey.call_count == 1
    time.sleep(0.55)
    latchkey.post(INTROSPECT, json=ACTIVE)  # reactivated
    assert read(api).status_code == 200


def test_an_answer_is_not_remembered_past_its_exp(
    latchkey: requests_mock.Mocker, people_api: Api
) -> None:
    exp = int(time.time()) + 1
    latchkey.post(INTROSPECT, json={**ACTIVE, "exp": exp})
    api = people_api(ttl=60)
    assert read(api).status_code == 200
    assert read(api).status_code == 200
    assert latchkey.call_count == 1
    time.sleep(max(0.0, exp - time.time()) + 0.05)
    latchkey.post(INTROSPECT, json={"active": False})  # Latchkey: expired
    assert read(api).status_code == 401
    assert latchkey.call_count == 2


def test_the_cache_is_bounded_and_garbage_does_not_push_out_live_credentials(
    latchkey: requests_mock.Mocker, people_api: Api
) -> None:
    def answer(request: Any, context: Any) -> dict[str, Any]:
        return ACTIVE if request.text.startswith("token=good") else {"active": False}

    latchkey.post(INTROSPECT, json=answer)
    api = people_api(ttl=60, max_entries=2)
    for credential in ("good-1", "good-2", "good-3"):
        assert read(api, credential).status_code == 200
    assert latchkey.call_count == 3
    assert read(api, "good-3").status_code == 200
    assert latchkey.call_count == 3, "the newest are remembered"
    assert read(api, "good-1").status_code == 200
    assert latchkey.call_count == 4, "the least recently used was dropped"

    for garbage in ("junk-1", "junk-2", "junk-3", "junk-4"):
        assert read(api, garbage).status_code == 401
    calls = latchkey.call_count
    assert read(api, "good-1").status_code == 200
    assert read(api, "good-3").status_code == 200
    assert latchkey.call_count == calls, "inactive answers are kept apart"


# -- JWT access tokens verified locally --------------------------------------------------------


class Signer:
    """Plays Latchkey's signing keys and its JWKS."""

    def __init__(self) -> None:
        self.keys = {
            "RS256": RSAKey.generate_key(2048, parameters={"kid": "rsa-1"}, private=True),
            "ES256": ECKey.generate_key("P-256", parameters={"kid": "ec-1"}, private=True),
        }

    def jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                {**key.as_dict(private=False), "use": "sig", "alg": alg}
                for alg, key in self.keys.items()
            ]
        }

    def token(self, alg: str = "RS256", header: Any = None, **claims: Any) -> str:
        now = int(time.time())
        body = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "lkci_CCCCCCCCCCCC",
            "client_id": "lkci_CCCCCCCCCCCC",
            "jti": "j1",
            "scope": "people:read",
            "org_id": 1,
            "team_id": 3,
            "iat": now,
            "exp": now + 600,
            **claims,
        }
        head = {"typ": "at+jwt", "alg": alg, "kid": self.keys[alg].kid, **(header or {})}
        return jwt.encode(head, {k: v for k, v in body.items() if v is not None}, self.keys[alg])


@pytest.fixture
def signer(latchkey: requests_mock.Mocker) -> Signer:
    signer = Signer()
    latchkey.get(JWKS, json=signer.jwks())
    latchkey.post(INTROSPECT, json={"active": False})
    return signer


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_a_good_jwt_is_verified_without_introspection(
    latchkey: requests_mock.Mocker, people_api: Api, signer: Signer, alg: str
) -> None:
    api = people_api(verify_jwt=True)
    for claims in ({}, {"aud": ISSUER}):  # for this API, or for every resource server
        assert read(api, signer.token(alg, **claims)).status_code == 200
    assert not any(call.method == "POST" for call in latchkey.request_history)
    assert [call.url for call in latchkey.request_history] == [JWKS], "one JWKS fetch"


BAD_TOKENS: list[Any] = [
    pytest.param({"exp": int(time.time()) - 120}, id="expired"),
    pytest.param({"nbf": int(time.time()) + 600}, id="not-yet-valid"),
    pytest.param({"iat": int(time.time()) + 600}, id="issued-in-the-future"),
    pytest.param({"iss": "https://evil.test"}, id="other-issuer"),
    pytest.param({"aud": "https://other-api.test"}, id="other-audience"),
    pytest.param({"exp": None}, id="no-exp"),
    pytest.param({"org_id": "1"}, id="org-not-integer"),
]


@pytest.mark.parametrize("claims", BAD_TOKENS)
def test_a_jwt_of_ours_that_does_not_hold_is_401(
    latchkey: requests_mock.Mocker, people_api: Api, signer: Signer, claims: dict[str, Any]
) -> None:
    latchkey.post(INTROSPECT, json=ACTIVE)  # refused here, not by introspection
    r = read(people_api(verify_jwt=True), signer.token(**claims))
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    assert not any(call.method == "POST" for call in latchkey.request_history)


def test_a_jwt_naming_another_algorithm_than_its_key_is_refused(
    latchkey: requests_mock.Mocker, people_api: Api, signer: Signer
) -> None:
    # Signed with the EC key, but under the RSA key's id: the key decides the algorithm.
    latchkey.post(INTROSPECT, json=ACTIVE)
    forged = signer.token("ES256", header={"kid": "rsa-1"})
    assert read(people_api(verify_jwt=True), forged).status_code == 401
    assert not any(call.method == "POST" for call in latchkey.request_history)


def test_what_is_not_surely_our_jwt_goes_to_introspection(
    latchkey: requests_mock.Mocker, people_api: Api, signer: Signer
) -> None:
    latchkey.post(INTROSPECT, json=ACTIVE)
    api = people_api(verify_jwt=True, jwks_refresh_interval=3600)
    unknown = RSAKey.generate_key(2048, parameters={"kid": "rsa-2"}, private=True)
    head = {"typ": "at+jwt", "alg": "RS256", "kid": "rsa-2"}
    for credential in (
        KEY,  # an API key
        "lkat_kid.c2VhbGVk",  # an opaque token
        signer.token(header={"typ": "JWT"}),  # a JWT, but no access token of RFC 9068's
        jwt.encode(head, {"iss": ISSUER}, unknown),  # a key id not (yet) in the JWKS
    ):
        assert read(api, credential).status_code == 200
    posts = [call for call in latchkey.request_history if call.method == "POST"]
    assert len(posts) == 4
    jwks_calls = [call for call in latchkey.request_history if call.method == "GET"]
    assert len(jwks_calls) == 1, "the unknown kid came within the refresh interval"


def test_an_unknown_kid_fetches_the_jwks_again_at_most_once_per_interval(
    latchkey: requests_mock.Mocker, people_api: Api, signer: Signer
) -> None:
    api = people_api(verify_jwt=True, jwks_refresh_interval=0.3, ttl=0)
    assert read(api, signer.token()).status_code == 200
    signer.keys["RS256"] = RSAKey.generate_key(2048, parameters={"kid": "rsa-2"}, private=True)
    latchkey.get(JWKS, json=signer.jwks())  # Latchkey rotated its keys
    rotated = signer.token()
    for _ in range(3):  # within the interval: introspection answers (here: not active)
        assert read(api, rotated).status_code == 401
    time.sleep(0.35)
    assert read(api, rotated).status_code == 200
    assert [call.method for call in latchkey.request_history] == ["GET", *["POST"] * 3, "GET"]


def test_the_jwks_unavailable_leaves_jwts_to_introspection(
    latchkey: requests_mock.Mocker, people_api: Api, signer: Signer
) -> None:
    latchkey.get(JWKS, status_code=502)
    latchkey.post(INTROSPECT, json={**ACTIVE, "token_type": "Bearer"})
    assert read(people_api(verify_jwt=True), signer.token()).status_code == 200
    latchkey.post(INTROSPECT, exc=requests.exceptions.ConnectTimeout)
    assert read(people_api(verify_jwt=True), signer.token()).status_code == 503


def test_a_jwts_principal_carries_its_claims(
    latchkey: requests_mock.Mocker, people_api: Api, signer: Signer
) -> None:
    api = people_api(verify_jwt=True)
    token = signer.token(scope="people:read people:write", team_id=3)
    r = api.post(
        "/people", json={"name": "Ada", "team_id": 3}, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 201, r.text
    assert r.json == {"name": "Ada", "added_by": "lkci_CCCCCCCCCCCC"}
    r = api.post(
        "/people", json={"name": "Ada", "team_id": 4}, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 403
    assert json.loads(r.get_data())["error"] == "insufficient_scope"
