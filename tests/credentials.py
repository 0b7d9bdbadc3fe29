"""Strings the tests make up: legacy tokens, near misses of real keys and tokens, and
look-alike text."""

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


def fullwidth(text: str) -> str:
    """``text`` in fullwidth forms (U+FF01 to U+FF5E), which look alike and NFKC undoes."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def tampered(token: str) -> str:
    """The token with one character of its last segment (sealed claims / signature) changed.
    A middle character, so that the change is never lost in base64's padding bits."""
    start = token.rfind(".") + 1
    i = start + (len(token) - start) // 2
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
