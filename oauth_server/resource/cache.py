"""A bounded, thread-safe LRU whose entries each carry their own deadline: the resource
client's memory of recent introspection answers.

Keys are SHA-256 digests of the credential, never the credential: a heap dump or a debugger
of the operator's API shows no secret that this cache holds.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")


def cache_key(credential: str) -> bytes:
    """The key a credential's answer is kept under: a digest, so the secret is not kept."""
    return hashlib.sha256(credential.encode("utf-8", "surrogatepass")).digest()


class DeadlineLru(Generic[V]):
    """At most ``max_entries`` values, the least recently used dropped first; a value is
    forgotten at its deadline (``time.monotonic`` seconds), whatever its use."""

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes) -> tuple[bool, V | None]:
        """``(True, value)`` for a live entry (now the most recently used), else
        ``(False, None)``; the value itself may be None (a remembered "not active")."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return False, None
            deadline, value = entry
            if time.monotonic() >= deadline:
                del self._entries[key]
                return False, None
            self._entries.move_to_end(key)
            return True, value

    def put(self, key: bytes, value: V, lifetime: float) -> None:
        """Keep ``value`` for ``lifetime`` seconds (nothing is kept for zero or less)."""
        if lifetime <= 0:
            return
        with self._lock:
            self._entries[key] = (time.monotonic() + lifetime, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
