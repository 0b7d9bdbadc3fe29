"""What an API key may do to other keys when it, not a member, is the caller.

A key holding ``keys:write`` may create and list keys of its own team scope, with scopes it
holds itself, that expire no later than it does; ``keys:delete`` may list, revoke and delete
keys of its own team scope. A key bound to a team reaches that team's keys only; an all-teams
key reaches every key of its org. So a key can never hand out more than it has: not more
scopes, not more teams, not more time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from keys.clock import utc_text
from keys.errors import Forbidden

KEYS_WRITE = "keys:write"
KEYS_DELETE = "keys:delete"


def _team_name(team_id: int | None) -> str:
    return "all teams" if team_id is None else f"team {team_id}"


@dataclass(frozen=True, slots=True)
class Delegation:
    """The reach of the acting key: its display prefix, team scope, scopes and expiry (ms;
    None: it never expires)."""

    prefix: str
    team_id: int | None
    scopes: frozenset[str]
    expires_at: int | None = None

    def holds(self, scope: str) -> bool:
        return scope in self.scopes

    def check_team(self, team_id: int | None) -> None:
        """A team-bound key may only name its own team (not another, not all teams)."""
        if self.team_id is not None and team_id != self.team_id:
            raise Forbidden(
                f"API key {self.prefix}… is bound to team {self.team_id}; it cannot reach "
                f"keys of {_team_name(team_id)}. Use a session or an all-teams key."
            )

    def check_grant(
        self, scopes: Iterable[str], team_id: int | None, expires_at: int | None
    ) -> None:
        """A new key gets no scope, no team reach and no lifetime that the acting key lacks."""
        self.check_team(team_id)
        lacking = [s for s in scopes if s not in self.scopes]
        if lacking:
            raise Forbidden(
                f"API key {self.prefix}… cannot grant {', '.join(sorted(set(lacking)))}: "
                "it does not hold that scope itself."
            )
        self.check_expiry(expires_at)

    def check_expiry(self, expires_at: int | None) -> None:
        """An expiring key's new keys expire when it does, or sooner: else a short-lived key
        could hand out a key that outlives it, and access that never ends."""
        if self.expires_at is None:
            return
        if expires_at is None or expires_at > self.expires_at:
            asked = "never expires" if expires_at is None else f"expires at {expires_at}"
            raise Forbidden(
                f"API key {self.prefix}… expires at {self.expires_at} "
                f"({utc_text(self.expires_at)}); a key it creates cannot outlive it, and this "
                f"one {asked}. Leave expires_at out to expire with it, send an earlier "
                "expires_at, or sign in (POST /api/sessions) to create a longer-lived key."
            )

    def cap_expiry(self, expires_at: int) -> int:
        """``expires_at``, or the acting key's expiry if that comes first."""
        return expires_at if self.expires_at is None else min(expires_at, self.expires_at)
