"""Who a request's credential speaks for, read from Latchkey's RFC 7662 answer (or from a
locally verified RFC 9068 JWT): the organization, team and scopes an API enforces.

The answer is checked field by field: an answer that does not carry what DESIGN.md's
introspection section promises is a broken Latchkey (or something else answering at its
address), and the client fails closed on it rather than guess.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

T = TypeVar("T")

#: Where a principal came from: Latchkey's introspection, or the JWT's own signature.
Source = Literal["introspection", "jwt"]


class AnswerMalformed(ValueError):
    """An introspection answer (or JWT claim set) without the fields Latchkey promises."""


@dataclass(frozen=True, slots=True)
class Principal:
    """An active credential, as the view sees it (``flask.g.latchkey`` in a Flask view,
    ``environ["latchkey.principal"]`` behind the WSGI middleware).

    ``team_id`` None means every team of ``org_id``: a view must still look its data up
    within ``org_id``, since team ids alone do not say whose a resource is.
    """

    org_id: int
    team_id: int | None
    scopes: frozenset[str]
    #: ``Bearer`` (an OAuth access token), ``api_key`` or ``user_key``.
    token_type: str
    sub: str | None
    #: The OAuth app's client ID (access tokens only).
    client_id: str | None
    #: The credential's display prefix (for an access token: its app secret's); never a
    #: secret. None for a locally verified JWT, whose claims do not carry it.
    key_prefix: str | None
    name: str | None
    exp: int | None
    jti: str | None
    source: Source = "introspection"

    @property
    def display(self) -> str:
        """What errors and logs call this credential: its display prefix, or the app."""
        return self.key_prefix or self.client_id or "the credential"

    def missing_scopes(self, required: tuple[str, ...]) -> list[str]:
        return [scope for scope in required if scope not in self.scopes]

    def may_use_team(self, team: object) -> bool:
        """Whether a resource of ``team`` (a team id, as an int or its text) is within this
        credential's team scope: every team, or exactly that one."""
        return self.team_id is None or str(self.team_id) == str(team)


def from_introspection(answer: object) -> Principal | None:
    """The principal of an RFC 7662 answer; None when it is not active.

    Raises :class:`AnswerMalformed` for anything else than a JSON object whose ``active``
    is a boolean and, when true, whose ``scope``, ``org_id`` and ``token_type`` are there.
    """
    if not isinstance(answer, Mapping):
        raise AnswerMalformed("the answer is not a JSON object")
    active = answer.get("active")
    if active is False:
        return None
    if active is not True:
        raise AnswerMalformed("the answer has no boolean 'active'")
    return _principal(answer, "introspection", token_type=_text(answer, "token_type"))


def from_jwt_claims(claims: Mapping[str, Any]) -> Principal:
    """The principal of a verified RFC 9068 access token's claims (DESIGN.md: ``client_id``,
    ``org_id``, ``team_id``, ``scope`` beside the registered claims)."""
    _text(claims, "client_id")
    return _principal(claims, "jwt", token_type="Bearer")


def _principal(fields: Mapping[str, Any], source: Source, token_type: str) -> Principal:
    return Principal(
        org_id=_integer(fields, "org_id"),
        team_id=_optional(_integer, fields, "team_id"),
        scopes=frozenset(_text(fields, "scope").split()),
        token_type=token_type,
        sub=_optional(_text, fields, "sub"),
        client_id=_optional(_text, fields, "client_id"),
        key_prefix=_optional(_text, fields, "key_prefix"),
        name=_optional(_text, fields, "name"),
        exp=_optional(_integer, fields, "exp"),
        jti=_optional(_text, fields, "jti"),
        source=source,
    )


def _text(fields: Mapping[str, Any], name: str) -> str:
    value = fields.get(name)
    if not isinstance(value, str):
        raise AnswerMalformed(f"'{name}' is not a string")
    return value


def _integer(fields: Mapping[str, Any], name: str) -> int:
    value = fields.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise AnswerMalformed(f"'{name}' is not an integer")
    return value


def _optional(
    read: Callable[[Mapping[str, Any], str], T], fields: Mapping[str, Any], name: str
) -> T | None:
    """``read``'s value of a member that may be absent or null."""
    return None if fields.get(name) is None else read(fields, name)
