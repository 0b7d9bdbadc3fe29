"""What an API key may do to other keys when it, not a member, is the caller.

A key holding ``keys:write`` may create and list keys of its own team scope, with scopes it
holds itself; ``keys:delete`` may list, revoke and delete keys of its own team scope. A key
bound to a team reaches that team's keys only; an all-teams key reaches every key of its org.
So a key can never hand out more than it has.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from keys.errors import Forbidden

KEYS_WRITE = "keys:write"
KEYS_DELETE = "keys:delete"


def _team_name(team_id: int | None) -> str:
    return "all teams" if team_id is None else f"team {team_id}"


@dataclass(frozen=True, slots=True)
class Delegation:
    """The reach of the acting key: its display prefix, team scope and scopes."""

    prefix: str
    team_id: int | None
    scopes: frozenset[str]

    def holds(self, scope: str) -> bool:
        return scope in self.scopes

    def check_team(self, team_id: int | None) -> None:
        """A team-bound key may only name its own team (not another, not all teams)."""
        if self.team_id is not None and team_id != self.team_id:
            raise Forbidden(
                f"API key {self.prefix}… is bound to team {self.team_id}; it cannot reach "
                f"keys of {_team_name(team_id)}. Use a session or an all-teams key."
            )

    def check_grant(self, scopes: Iterable[str], team_id: int | None) -> None:
        """A new key gets no scope and no team reach that the acting key lacks."""
        self.check_team(team_id)
        lacking = [s for s in scopes if s not in self.scopes]
        if lacking:
            raise Forbidden(
                f"API key {self.prefix}… cannot grant {', '.join(sorted(set(lacking)))}: "
                "it does not hold that scope itself."
            )
