"""One live server's workers answer alike: the same introspection from each, a revoked or
deleted key refused by each, and a previous secret's overlap ended by the clock in workers
that remember it. Each call is a new connection, so repeating one reaches both workers.
(That a change reaches warm workers' caches at once is tests/live/test_cache_invalidation.py.)
"""

from __future__ import annotations

import time
from typing import Any

from tests.api import Api
from tests.live.server import LiveServer
from tests.oauth_calls import inactive_everywhere, introspect, issue, token_request

INACTIVE = {"active": False}
#: Enough fresh connections that both gunicorn workers answer.
ACROSS_WORKERS = 10


def test_every_worker_gives_the_same_active_answer(
    server: LiveServer, make_key: Any, resource_server: dict[str, Any]
) -> None:
    key = make_key()
    answers = [introspect(server, resource_server, key["key"]) for _ in range(ACROSS_WORKERS)]
    assert answers[0]["active"] is True
    assert all(a == answers[0] for a in answers), answers


def test_revoked_key_is_inactive_in_every_worker_and_back_on_reactivation(
    server: LiveServer, admin: Api, make_key: Any, resource_server: dict[str, Any]
) -> None:
    key = make_key()
    assert introspect(server, resource_server, key["key"])["active"] is True
    admin.ok("POST", f"/api/keys/{key['id']}/revoke")
    inactive_everywhere(server, resource_server, key["key"])
    admin.ok("POST", f"/api/keys/{key['id']}/reactivate")
    assert introspect(server, resource_server, key["key"])["active"] is True


def test_deleted_key_is_inactive_in_every_worker(
    server: LiveServer, admin: Api, make_key: Any, resource_server: dict[str, Any]
) -> None:
    key = make_key()
    assert introspect(server, resource_server, key["key"])["active"] is True
    assert admin.ok("DELETE", f"/api/keys/{key['id']}") == {"ok": True}
    inactive_everywhere(server, resource_server, key["key"])


def test_every_worker_gives_the_same_answer(
    server: LiveServer, make_app: Any, resource_server: dict[str, Any]
) -> None:
    app = make_app(token_format="jwt")
    token = issue(server, app)
    answers = [introspect(server, resource_server, token) for _ in range(10)]
    assert all(a == answers[0] for a in answers), answers
    assert answers[0]["active"] is True


def test_a_previous_secret_stops_at_the_end_of_its_overlap_in_warm_workers(
    server: LiveServer, admin: Api, make_app: Any
) -> None:
    """Workers remember a secret that matched; the previous one's end comes by the clock,
    with nothing announced, and must still be kept."""
    app = make_app()
    old = app["client_secret"]
    rotated = admin.ok(
        "POST", f"/api/apps/{app['id']}/rotate-secret", json={"grace_period_seconds": 2}
    )
    ends = rotated["previous_secret_expires_at"]
    # A fresh connection each (requests.post), so both workers answer, and remember it.
    warm = [token_request(server, auth=(app["client_id"], old)) for _ in range(8)]
    assert [r.status_code for r in warm] == [200] * 8
    time.sleep(max(0.0, ends / 1000 - time.time()) + 0.2)
    after = [token_request(server, auth=(app["client_id"], old)) for _ in range(8)]
    assert [r.status_code for r in after] == [401] * 8
    assert issue(server, {"client_id": app["client_id"], "client_secret": rotated["client_secret"]})
