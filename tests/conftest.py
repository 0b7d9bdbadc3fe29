"""Shared test configuration: the repository root on the import path, and the record
factories every server tier uses (:mod:`tests.fixtures`)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

pytest_plugins = ["tests.fixtures"]
