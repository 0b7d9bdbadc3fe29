"""Credential strings: round trips, checksums, and a parser that only ever raises its own error."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keys import format as fmt

KIND = "lk"


def test_generated_credential_round_trips() -> None:
    new = fmt.generate(KIND)
    parsed = fmt.parse(new.plaintext, KIND)
    assert parsed.public_id == new.public_id
    assert parsed.display_prefix == f"lk_{new.public_id}" == new.display_prefix
    assert new.hint == new.plaintext[-4:]
    assert new.plaintext.startswith(new.display_prefix + "_")


def test_shape_is_url_safe_and_carries_enough_entropy() -> None:
    new = fmt.generate(KIND)
    allowed = set(string.ascii_letters + string.digits + "_")
    assert set(new.plaintext) <= allowed
    # 32 base62 characters of secret: log2(62) * 32 ≈ 190 bits; 12 of public id ≈ 71 bits.
    assert fmt.SECRET_LENGTH * 5.95 >= 160
    assert fmt.PUBLIC_ID_LENGTH * 5.95 >= 60


def test_rotation_keeps_the_public_id() -> None:
    first = fmt.generate(KIND)
    second = fmt.generate(KIND, first.public_id)
    assert second.display_prefix == first.display_prefix
    assert second.plaintext != first.plaintext


def test_checksum_rejects_every_single_character_change() -> None:
    new = fmt.generate(KIND).plaintext
    alphabet = fmt.BASE62 + "_-."
    start = len(KIND) + 1  # changes to the kind prefix are rejected as another kind
    for i in range(start, len(new)):
        for replacement in alphabet:
            if replacement == new[i]:
                continue
            changed = new[:i] + replacement + new[i + 1 :]
            with pytest.raises(fmt.MalformedCredential):
                fmt.parse(changed, KIND)


def test_wrong_kind_is_rejected() -> None:
    secret = fmt.generate("lkcs").plaintext
    with pytest.raises(fmt.MalformedCredential):
        fmt.parse(secret, KIND)


@given(st.text(max_size=300))
def test_parser_on_arbitrary_text_raises_only_its_own_error(candidate: str) -> None:
    try:
        parsed = fmt.parse(candidate, KIND)
    except fmt.MalformedCredential:
        return
    assert candidate.startswith(parsed.display_prefix)


@given(st.from_regex(r"lk_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}", fullmatch=True))
def test_well_shaped_strings_pass_only_with_their_checksum(candidate: str) -> None:
    body = candidate[: -fmt.CHECKSUM_LENGTH]
    valid = candidate[-fmt.CHECKSUM_LENGTH :] == fmt.checksum(body)
    try:
        fmt.parse(candidate, KIND)
    except fmt.MalformedCredential:
        assert not valid
    else:
        assert valid


def test_brand_gives_distinct_kind_prefixes() -> None:
    prefixes = fmt.KindPrefixes.from_brand("acme")
    kinds = [
        prefixes.api_key,
        prefixes.client_secret,
        prefixes.access_token,
        prefixes.session_token,
        prefixes.app_client_id,
        prefixes.resource_server_client_id,
        prefixes.user_key,
    ]
    assert len(set(kinds)) == len(kinds)
    assert all(prefixes.is_ours(f"{kind}_anything") for kind in kinds)
    assert not prefixes.is_ours("acmex_legacy-token-0123456789")
    assert not prefixes.is_ours("acme")
    with pytest.raises(ValueError):
        fmt.KindPrefixes.from_brand("bad_brand")


def test_display_prefix_of_names_only_well_formed_credentials_of_any_kind() -> None:
    for kind in ("lk", "lkcs", "csk"):
        new = fmt.generate(kind)
        assert fmt.display_prefix_of(new.plaintext) == new.display_prefix
        typo = new.plaintext[:-1] + ("A" if new.plaintext[-1] != "A" else "B")
        assert fmt.display_prefix_of(typo) is None
    for other in ("", "_", "lk_", "a legacy token with spaces", "lk-x_AAAAAAAAAAAA_" + "a" * 38):
        assert fmt.display_prefix_of(other) is None
