"""Credential strings the tests make up: legacy tokens, and near misses of real keys."""

from __future__ import annotations

import secrets

from keys import format as fmt


def legacy_token() -> str:
    """A token of the old system: no format of ours."""
    return f"pat-{secrets.token_hex(20)}"


def changed(key: str, index: int) -> str:
    """``key`` with the base62 character at ``index`` replaced by another one."""
    return key[:index] + ("A" if key[index] != "A" else "B") + key[index + 1 :]


def with_wrong_secret(key: str) -> str:
    """The same public id, another secret, and a checksum that fits: only the stored hash
    can tell it apart."""
    body = changed(key[: -fmt.CHECKSUM_LENGTH], len(key) - fmt.CHECKSUM_LENGTH - 10)
    return body + fmt.checksum(body)
