"""Which process this is, kept current across forks.

Servers fork workers after the app is built; state that belongs to one process (its usage
tally's flusher, its Redis lease) must know when it is running in a child that inherited it.
"""

from __future__ import annotations

import os

_pid = os.getpid()


def _forked() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)


def process_id() -> int:
    """This process's id, kept current across forks without a system call: the hot path
    asks on every request whether it runs in the process that started its helpers."""
    return _pid
