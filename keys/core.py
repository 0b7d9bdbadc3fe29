"""What every lifecycle service needs from the deployment, in one value.

Built once by the web layer from its configuration and handed to the services, which keeps
``keys/`` free of Flask and of global state.
"""

from __future__ import annotations

from dataclasses import dataclass

from keys.format import KindPrefixes
from keys.hashing import SecretHasher


@dataclass(frozen=True, slots=True)
class Core:
    hasher: SecretHasher
    prefixes: KindPrefixes
    scope_catalog: frozenset[str]
