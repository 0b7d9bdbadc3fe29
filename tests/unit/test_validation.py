"""The rule for names people type (keys, apps, teams, orgs, members, resource servers)."""

from __future__ import annotations

import pytest

from keys.errors import ValidationFailed
from keys.validation import checked_name


@pytest.mark.parametrize(
    "typed", ["Export", "  Export\t", "Zoë — 東京 ✓", "a\u200db", "n" * 100], ids=repr
)
def test_a_name_is_kept_trimmed(typed: str) -> None:
    assert checked_name(typed) == typed.strip()


@pytest.mark.parametrize(
    "typed", ["a\x00b", "a\tb", "a\nb", "a\rb", "a\x1bb", "a\x7fb", "a\x85b", "a\x9fb"], ids=repr
)
def test_a_control_character_inside_a_name_is_refused_naming_the_field(typed: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        checked_name(typed, field="label")
    [error] = refused.value.errors
    assert error.field == "label"
    assert f"U+{ord(typed[1]):04X}" in error.message and "control characters" in error.message


@pytest.mark.parametrize("typed", ["", "   ", "n" * 101], ids=repr)
def test_a_name_has_1_to_100_characters(typed: str) -> None:
    with pytest.raises(ValidationFailed, match="1 to 100"):
        checked_name(typed)
