"""Credential string formats: generate, parse, checksum, display prefix and hint.

Every machine secret Latchkey issues has the shape
``<kind prefix>_<public id>_<secret><checksum>``:

* the kind prefix says what a leaked string is (API key, client secret, session token);
* the public id (12 base62 characters, 71 bits) is the indexed lookup handle, not a secret;
* the secret is 32 base62 characters (190 bits) from :mod:`secrets`;
* the checksum is the CRC32 of everything before it, base62, 6 characters, so that a typo
  or a random string is rejected before any database access (as GitHub's tokens do).

Nothing outside this module splits credential strings: :func:`parse` is the one parser and
:class:`MalformedCredential` the one error it raises.
"""

from __future__ import annotations

import secrets
import string
import zlib
from dataclasses import dataclass, field
from typing import Literal, get_args

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_BASE62_SET = frozenset(BASE62)
PUBLIC_ID_LENGTH = 12
SECRET_LENGTH = 32
CHECKSUM_LENGTH = 6
HINT_LENGTH = 4
_MAX_LENGTH = 200


class MalformedCredential(ValueError):
    """The string is not a well-formed credential of the expected kind."""


@dataclass(frozen=True, slots=True)
class ParsedCredential:
    """A credential string split into its parts; the checksum has been verified."""

    kind: str
    public_id: str
    secret: str

    @property
    def display_prefix(self) -> str:
        return display_prefix(self.kind, self.public_id)


@dataclass(frozen=True, slots=True)
class NewCredential:
    """A freshly generated credential: the full string is shown once, then forgotten."""

    kind: str
    public_id: str
    plaintext: str

    @property
    def display_prefix(self) -> str:
        return display_prefix(self.kind, self.public_id)

    @property
    def hint(self) -> str:
        return hint(self.plaintext)


def random_base62(length: int) -> str:
    return "".join(secrets.choice(BASE62) for _ in range(length))


def checksum(body: str) -> str:
    """CRC32 of ``body`` in base62, left-padded to a fixed width."""
    value = zlib.crc32(body.encode("ascii"))
    digits = []
    for _ in range(CHECKSUM_LENGTH):
        value, rem = divmod(value, 62)
        digits.append(BASE62[rem])
    return "".join(reversed(digits))


def display_prefix(kind: str, public_id: str) -> str:
    """The part of a credential shown in lists, logs and errors; it can never authenticate."""
    return f"{kind}_{public_id}"


def hint(plaintext: str) -> str:
    """The last characters of a full secret, so an admin can tell two secrets apart."""
    return plaintext[-HINT_LENGTH:]


def new_public_id() -> str:
    return random_base62(PUBLIC_ID_LENGTH)


def generate(kind: str, public_id: str | None = None) -> NewCredential:
    """Generate a credential of ``kind``; pass ``public_id`` to keep the handle on rotation."""
    _check_kind(kind)
    public_id = public_id or new_public_id()
    body = f"{kind}_{public_id}_{random_base62(SECRET_LENGTH)}"
    return NewCredential(kind=kind, public_id=public_id, plaintext=body + checksum(body))


def parse(candidate: str, kind: str) -> ParsedCredential:
    """Split ``candidate`` and verify its checksum, or raise :class:`MalformedCredential`.

    Costs a few microseconds and touches no storage: garbage is rejected here.
    """
    if not isinstance(candidate, str) or len(candidate) > _MAX_LENGTH:
        raise MalformedCredential("not a credential string")
    head, sep, rest = candidate.partition("_")
    if not sep or head != kind:
        raise MalformedCredential(f"not a {kind}_ credential")
    public_id, sep, tail = rest.partition("_")
    if (
        not sep
        or len(public_id) != PUBLIC_ID_LENGTH
        or len(tail) != SECRET_LENGTH + CHECKSUM_LENGTH
        or not _BASE62_SET.issuperset(public_id)
        or not _BASE62_SET.issuperset(tail)
    ):
        raise MalformedCredential("malformed credential")
    secret, check = tail[:SECRET_LENGTH], tail[SECRET_LENGTH:]
    if checksum(candidate[:-CHECKSUM_LENGTH]) != check:
        raise MalformedCredential("checksum mismatch")
    return ParsedCredential(kind=kind, public_id=public_id, secret=secret)


def display_prefix_of(candidate: str) -> str | None:
    """The display prefix of a well-formed credential of any kind (its checksum holds), else
    None: what an error may name about a string that authenticated nothing, without its
    secret. A legacy token, garbage or a typo gets None, so nothing of it is repeated."""
    if not isinstance(candidate, str):
        return None
    head = candidate.partition("_")[0]
    if not _is_kind(head):
        return None
    try:
        return parse(candidate, head).display_prefix
    except MalformedCredential:
        return None


def is_public_id(value: str) -> bool:
    return len(value) == PUBLIC_ID_LENGTH and _BASE62_SET.issuperset(value)


def public_id_of(identifier: str) -> str:
    """The public id of a client ID (``<kind>_<public id>``), which its secrets share."""
    return identifier.partition("_")[2]


def _is_kind(kind: str) -> bool:
    return bool(kind) and "_" not in kind and _BASE62_SET.issuperset(kind)


def _check_kind(kind: str) -> None:
    if not _is_kind(kind):
        raise ValueError(f"kind prefix {kind!r} must be non-empty base62 without '_'")


#: The kinds of string Latchkey issues (the fields of :class:`KindPrefixes`).
Kind = Literal[
    "api_key",
    "client_secret",
    "access_token",
    "session_token",
    "app_client_id",
    "resource_server_client_id",
    "user_key",
]


@dataclass(frozen=True, slots=True)
class KindPrefixes:
    """The kind prefixes of one deployment, derived from its brand (default ``lk``).

    Distinct per kind, so a leaked string says what it is: ``lk_`` API key, ``lkcs_`` client
    secret, ``lkat_`` access token, ``lkst_`` session token; ``lkci_`` and ``lkrs_`` start the
    (public) client IDs of OAuth apps and resource servers, and ``lkuk_`` the handle that names
    an imported legacy user key (whose token has no format of ours).
    """

    api_key: str
    client_secret: str
    access_token: str
    session_token: str
    app_client_id: str
    resource_server_client_id: str
    user_key: str
    _kinds: dict[str, Kind] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        kinds = {getattr(self, kind): kind for kind in get_args(Kind)}
        object.__setattr__(self, "_kinds", kinds)

    def kind_of(self, candidate: str) -> Kind | None:
        """Which kind ``candidate`` claims to be by its prefix (``"api_key"``,
        ``"session_token"``, ...), well-formed or not; None for a string with none of these
        prefixes (a legacy token, or garbage). The one place a kind prefix is split off."""
        head, sep, _ = candidate.partition("_")
        return self._kinds.get(head) if sep else None

    def is_ours(self, candidate: str) -> bool:
        """Whether ``candidate`` starts with one of these kinds and ``_``: a string of ours,
        never a legacy token."""
        return self.kind_of(candidate) is not None

    @classmethod
    def from_brand(cls, brand: str) -> KindPrefixes:
        prefixes = cls(
            api_key=brand,
            client_secret=f"{brand}cs",
            access_token=f"{brand}at",
            session_token=f"{brand}st",
            app_client_id=f"{brand}ci",
            resource_server_client_id=f"{brand}rs",
            user_key=f"{brand}uk",
        )
        for kind in (prefixes.api_key, prefixes.client_secret, prefixes.access_token):
            _check_kind(kind)
        return prefixes
