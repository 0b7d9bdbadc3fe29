"""The API-key lifecycle and the verification hot path, on a real SQLite database."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from keys import api_keys, format, verification
from keys.audit import Actor
from keys.clock import now_ms
from keys.core import Core
from keys.delegation import Delegation
from keys.errors import Conflict, Forbidden, ValidationFailed
from keys.models import AuditEvent, Org, Team


def _create(session: Session, core: Core, org: Org, actor: Actor, **fields: Any) -> Any:
    values: dict[str, Any] = {
        "name": "Nightly export",
        "scopes": ["people:read"],
        "team_id": None,
        **fields,
    }
    result = api_keys.create(session, core, org_id=org.id, actor=actor, created_by=None, **values)
    session.commit()
    return result


def _reason(session: Session, core: Core, candidate: str) -> str:
    with pytest.raises(verification.KeyRejected) as caught:
        verification.verify(session, core, candidate)
    return caught.value.reason


def test_created_key_verifies_and_no_column_holds_it(
    session: Session, core: Core, org: Org, actor: Actor
) -> None:
    made = _create(session, core, org, actor)
    found = verification.verify(session, core, made.plaintext)
    assert (found.kind, found.id, found.org_id, found.scopes) == (
        "api_key",
        made.key.id,
        org.id,
        "people:read",
    )
    assert made.plaintext.startswith(made.key.prefix + "_")
    row = session.scalars(select(api_keys.ApiKey)).one()
    assert made.plaintext not in repr([getattr(row, c.key) for c in row.__table__.columns])


def test_rules_on_name_scopes_team_and_expiry(
    session: Session, core: Core, org: Org, actor: Actor, team: Team
) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"name": "  "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"scopes": []}, "scopes"),
        ({"scopes": ["people:fly"]}, "scopes"),
        ({"team_id": team.id + 100}, "team_id"),
        ({"expires_at": now_ms() - 1}, "expires_at"),
    ]
    for fields, field in cases:
        with pytest.raises(ValidationFailed) as caught:
            _create(session, core, org, actor, **fields)
        session.rollback()
        assert caught.value.errors[0].field == field
    assert session.scalars(select(api_keys.ApiKey)).all() == []
    assert _create(session, core, org, actor, name="x" * 100).key.name == "x" * 100


def test_rotation_overlap_keeps_the_old_secret_until_it_ends(
    session: Session, core: Core, org: Org, actor: Actor
) -> None:
    made = _create(session, core, org, actor)
    rotated = api_keys.rotate(session, core, made.key, actor, grace_period_seconds=1)
    session.commit()
    assert rotated.key.prefix == made.key.prefix and rotated.plaintext != made.plaintext
    assert verification.verify(session, core, made.plaintext).id == made.key.id
    assert verification.verify(session, core, rotated.plaintext).id == made.key.id
    time.sleep(1.05)
    assert _reason(session, core, made.plaintext) == "mismatch"
    assert verification.verify(session, core, rotated.plaintext).id == made.key.id


def test_revoke_ends_a_rotation_overlap_for_good(
    session: Session, core: Core, org: Org, actor: Actor
) -> None:
    made = _create(session, core, org, actor)
    rotated = api_keys.rotate(session, core, made.key, actor, grace_period_seconds=3600)
    api_keys.revoke(session, made.key, actor)
    session.commit()
    assert _reason(session, core, rotated.plaintext) == "revoked"
    with pytest.raises(Conflict):
        api_keys.rotate(session, core, made.key, actor, grace_period_seconds=0)
    api_keys.reactivate(session, made.key, actor)
    session.commit()
    assert verification.verify(session, core, rotated.plaintext).id == made.key.id
    assert _reason(session, core, made.plaintext) == "mismatch"


def test_expiry_deletion_plan_and_typos_each_stop_a_key(
    session: Session, core: Core, org: Org, actor: Actor
) -> None:
    soon = _create(session, core, org, actor, expires_at=now_ms() + 50)
    gone = _create(session, core, org, actor)
    plain = _create(session, core, org, actor)
    time.sleep(0.06)
    assert _reason(session, core, soon.plaintext) == "expired"
    assert api_keys.status_of(soon.key) == "expired"
    api_keys.delete(session, gone.key, actor)
    session.commit()
    assert _reason(session, core, gone.plaintext) == "unknown"
    typo = plain.plaintext[:-1] + ("A" if plain.plaintext[-1] != "A" else "B")
    assert _reason(session, core, typo) == "malformed"
    org.api_access = False
    session.commit()
    assert _reason(session, core, plain.plaintext) == "plan"


def test_messages_name_the_key_by_its_prefix_only(
    session: Session, core: Core, org: Org, actor: Actor
) -> None:
    made = _create(session, core, org, actor)
    api_keys.revoke(session, made.key, actor)
    session.commit()
    with pytest.raises(verification.KeyRejected) as caught:
        verification.verify(session, core, made.plaintext)
    assert f"{made.key.prefix}…" in caught.value.message
    secret_part = made.plaintext[len(made.key.prefix) + 1 :]
    assert secret_part not in caught.value.message


def test_delegation_never_grants_what_the_acting_key_lacks(
    session: Session, core: Core, org: Org, actor: Actor, team: Team
) -> None:
    within = Delegation("lk_parent", team.id, frozenset({"keys:write", "people:read"}))
    ok = _create(session, core, org, actor, team_id=team.id, within=within)
    assert ok.key.team_id == team.id
    for fields in (
        {"team_id": team.id, "scopes": ["leads:read"]},
        {"team_id": None},
        {"team_id": team.id, "scopes": ["people:read", "people:write"]},
    ):
        with pytest.raises(Forbidden):
            _create(session, core, org, actor, within=within, **fields)
        session.rollback()
    assert len(session.scalars(select(api_keys.ApiKey)).all()) == 1


def test_an_expiring_acting_key_grants_no_later_expiry(
    session: Session, core: Core, org: Org, actor: Actor
) -> None:
    ends = now_ms() + 600_000
    within = Delegation("lk_parent", None, frozenset({"keys:write", "people:read"}), ends)
    for expires_at in (ends, ends - 1):
        assert _create(session, core, org, actor, expires_at=expires_at, within=within)
    for expires_at in (None, ends + 1):
        with pytest.raises(Forbidden, match=f"lk_parent… expires at {ends} "):
            _create(session, core, org, actor, expires_at=expires_at, within=within)
        session.rollback()
    temporary = api_keys.create_temporary(
        session, core, org_id=org.id, actor=actor, created_by=None, within=within
    )
    assert temporary.key.expires_at == ends  # its hour would outlast the acting key
    forever = Delegation("lk_forever", None, within.scopes)
    assert _create(session, core, org, actor, within=forever).key.expires_at is None


def test_temporary_keys_last_an_hour_and_default_to_read_scopes(
    session: Session, core: Core, org: Org, actor: Actor
) -> None:
    made = api_keys.create_temporary(session, core, org_id=org.id, actor=actor, created_by=None)
    session.commit()
    assert made.key.temporary and made.key.name == api_keys.TEMPORARY_NAME
    assert set(made.key.scope_list) == {"people:read", "leads:read"}
    assert made.key.expires_at is not None
    assert abs(made.key.expires_at - (now_ms() + 3_600_000)) < 5_000


def test_every_lifecycle_step_is_audited_without_the_secret(
    session: Session, core: Core, org: Org, actor: Actor
) -> None:
    made = _create(session, core, org, actor)
    api_keys.update(session, core, made.key, actor, {"name": "Renamed"})
    rotated = api_keys.rotate(session, core, made.key, actor, 0)
    api_keys.revoke(session, made.key, actor)
    api_keys.reactivate(session, made.key, actor)
    api_keys.delete(session, made.key, actor)
    session.commit()
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == [
        "api_key.created",
        "api_key.updated",
        "api_key.rotated",
        "api_key.revoked",
        "api_key.reactivated",
        "api_key.deleted",
    ]
    assert {e.target_prefix for e in events} == {made.key.prefix}
    dumped = repr([(e.details, e.target_name, e.actor_label) for e in events])
    assert made.plaintext not in dumped and rotated.plaintext not in dumped


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=200)
@given(candidate=st.one_of(st.text(max_size=600), st.from_regex(r"lk_\w{0,60}", fullmatch=True)))
def test_verification_of_arbitrary_input_raises_only_its_own_error(
    session: Session, core: Core, candidate: str
) -> None:
    try:
        verification.verify(session, core, candidate)
    except verification.KeyRejected as rejected:
        assert rejected.reason in {"malformed", "unknown"}
    else:  # pragma: no cover - there is no key in this database to find
        pytest.fail(f"{candidate!r} verified")


def test_a_well_formed_key_of_another_deployment_costs_one_lookup_and_is_unknown(
    session: Session, core: Core
) -> None:
    foreign = format.generate(core.prefixes.api_key).plaintext
    assert _reason(session, core, foreign) == "unknown"


def test_a_match_says_until_when_it_holds(core: Core) -> None:
    """What a caller may remember a matched secret for: the current one until something
    changes, the previous one until its overlap ends by the clock."""
    from keys.client_secrets import FOREVER, matching_until

    current, previous = "lk_current", "lk_previous"
    hashes = (core.hasher.digest(current), core.hasher.digest(previous))
    ends = now_ms() + 60_000
    assert matching_until(core.hasher, current, *hashes, ends) == FOREVER
    assert matching_until(core.hasher, previous, *hashes, ends) == ends
    assert matching_until(core.hasher, previous, *hashes, now_ms() - 1) is None  # over
    assert matching_until(core.hasher, previous, hashes[0], None, None) is None  # no overlap
    assert matching_until(core.hasher, "lk_guess", *hashes, ends) is None
