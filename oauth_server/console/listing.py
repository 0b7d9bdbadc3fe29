"""Long lists: the filter and page parameters of a list page, and its teams.

Filters arrive as query-string text from a GET form; anything unexpected falls back to the
default instead of failing, since the worst a bad value can do is show the unfiltered list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import request, url_for
from wtforms.fields.choices import SelectChoice

from keys import directory
from keys.limits import ALL
from keys.models import Team
from keys.validation import parse_record_id
from oauth_server.extensions import db

PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


def _id_arg(name: str) -> int | None:
    return parse_record_id(request.args.get(name, ""))


@dataclass(frozen=True, slots=True)
class ListQuery:
    status: str
    team_id: int | None
    cursor: int | None
    limit: int

    @property
    def filtered(self) -> bool:
        return self.status != ALL or self.team_id is not None


def list_query(statuses: tuple[str, ...], default: str = ALL) -> ListQuery:
    status = request.args.get("status", default)
    limit = _id_arg("limit")
    return ListQuery(
        status=status if status in statuses else default,
        team_id=_id_arg("team_id"),
        cursor=_id_arg("cursor"),
        limit=limit if limit is not None and limit <= MAX_PAGE_SIZE else PAGE_SIZE,
    )


@dataclass(frozen=True, slots=True)
class Pages:
    """Links of a keyset-paginated list: newest first, forward only, back to the start."""

    next_url: str | None
    first_url: str | None


#: The list pages' own filters, the only query parameters their page links carry on. Anything
#: else in the query string stays out of ``url_for``, where names like ``endpoint``,
#: ``_method`` or ``_external`` are not query parameters but instructions.
FILTERS = (
    "status",
    "team_id",
    "limit",
    "tz_offset",
    "action",
    "actor",
    "target",
    "since",
    "until",
)


def pages(endpoint: str, next_cursor: int | None, **path: Any) -> Pages:
    """``path``: the page's own URL parameters (e.g. the webhook whose deliveries these are)."""
    args: dict[str, Any] = {k: request.args[k] for k in FILTERS if request.args.get(k)}
    args.update(path)
    next_url = url_for(endpoint, **args, cursor=next_cursor) if next_cursor else None
    first_url = url_for(endpoint, **args) if "cursor" in request.args else None
    return Pages(next_url, first_url)


def all_teams(org_id: int) -> list[Team]:
    """Every team of the org, by name: for team pickers and the Team column."""
    teams: list[Team] = []
    cursor: int | None = None
    while True:
        batch, cursor = directory.list_teams(db.session, org_id, limit=200, cursor=cursor)
        teams.extend(batch)
        if cursor is None:
            return sorted(teams, key=lambda t: t.name.lower())


def team_choices(teams: list[Team]) -> list[SelectChoice]:
    return [SelectChoice("", "All teams")] + [SelectChoice(str(t.id), t.name) for t in teams]
