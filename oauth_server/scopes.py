"""The scope catalog: which permission scopes exist in this deployment."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

_SCOPE = re.compile(r"^[a-z][a-z0-9_-]*:[a-z][a-z0-9_-]*$")


@dataclass(frozen=True, slots=True)
class Scope:
    name: str
    description: str

    @property
    def resource(self) -> str:
        return self.name.split(":", 1)[0]


@dataclass(frozen=True, slots=True)
class ScopeCatalog:
    scopes: tuple[Scope, ...]

    @property
    def names(self) -> frozenset[str]:
        return frozenset(s.name for s in self.scopes)

    def grouped(self) -> dict[str, list[Scope]]:
        """Scopes by resource, for the console's checkbox groups."""
        groups: dict[str, list[Scope]] = {}
        for scope in self.scopes:
            groups.setdefault(scope.resource, []).append(scope)
        return groups

    def read_scopes(self) -> list[str]:
        return [s.name for s in self.scopes if s.name.endswith(":read")]


def load_catalog(path: str | None) -> ScopeCatalog:
    """Load the catalog from ``path`` (TOML), or the built-in one; refuse a malformed file."""
    if path:
        text = Path(path).read_text(encoding="utf-8")
        source = path
    else:
        text = resources.files("oauth_server").joinpath("default_scopes.toml").read_text("utf-8")
        source = "built-in catalog"
    data = tomllib.loads(text)
    entries = data.get("scopes")
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{source}: expected a non-empty `scopes` array")
    scopes = []
    for entry in entries:
        if isinstance(entry, str):
            entry = {"name": entry}
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not _SCOPE.match(name):
            raise ValueError(f"{source}: scope {name!r} is not of the form resource:action")
        scopes.append(Scope(name=name, description=str(entry.get("description", ""))))
    return ScopeCatalog(tuple(scopes))
