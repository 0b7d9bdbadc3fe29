"""The webhook event types, defined once: the API's validation, the console's grouped list
and the outbox read them from here.

Credential changes are the audit actions of credentials (DESIGN.md "Webhooks"); the
scheduled and test events have no audit action of their own.
"""

from __future__ import annotations

from typing import Final

ALL: Final = "*"

_LIFECYCLE = ("created", "updated", "rotated", "revoked", "reactivated", "deleted")

#: Event types by the credential they concern, in the order the console lists them.
GROUPS: Final[dict[str, tuple[str, ...]]] = {
    "API keys": (
        *(f"api_key.{verb}" for verb in _LIFECYCLE),
        "api_key.expiring",
        "api_key.expired",
    ),
    "OAuth apps": (*(f"app.{verb}" for verb in _LIFECYCLE), "app.secret_overlap_ending"),
    "User keys": ("user_key.revoked", "user_key.replaced"),
    "Webhooks": ("webhook.test",),
}

EVENT_TYPES: Final[frozenset[str]] = frozenset(t for group in GROUPS.values() for t in group)

#: The audit actions that produce an event of the same name.
CHANGE_TYPES: Final[frozenset[str]] = frozenset(
    t for t in EVENT_TYPES if t.split(".", 1)[1] in (*_LIFECYCLE, "replaced")
)

#: Most event types one endpoint may list (they are all fewer than this).
MAX_EVENTS = 50


def subscribed(events: list[str], event_type: str) -> bool:
    """Whether an endpoint listening to ``events`` receives ``event_type``."""
    return ALL in events or event_type in events
