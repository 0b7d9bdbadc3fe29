"""What the webhook unit tests share: the resolver's table of public and private hosts, and a
clock the tests drive (their fixtures are in conftest.py)."""

from __future__ import annotations

from keys.clock import now_ms

#: The test resolver: hooks.example.com is public, the others are not (or change).
ADDRESSES = {
    "hooks.example.com": ["93.184.215.14"],
    "auth.example.com": ["93.184.215.15"],
    "other.example.com": ["93.184.215.16"],
    "intranet.example.com": ["192.168.1.5"],
    "mixed.example.com": ["93.184.215.17", "10.0.0.7"],
}


class Clock:
    """Milliseconds, moved by the test."""

    def __init__(self) -> None:
        self.now = now_ms() + 60_000  # ahead of what the test makes with the real clock

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1000)
