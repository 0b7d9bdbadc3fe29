"""The rules for names people type (keys, apps, teams, orgs, members, resource servers) and
for emails."""

from __future__ import annotations

import pytest

from keys.errors import ValidationFailed
from keys.validation import checked_email, checked_name, email_problem


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


@pytest.mark.parametrize("typed", ["ada@example.com", "a.b+c@sub.example.org"], ids=repr)
def test_an_email_is_something_at_somewhere(typed: str) -> None:
    assert email_problem(typed) is None


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("ada", "email address"),
        ("@example.com", "email address"),
        ("a b@example.com", "email address"),
        ("ada\x00@example.com", "U+0000"),
        ("ada@example.com\x7f", "U+007F"),
        ("a" * 250 + "@x.io", "254"),
    ],
    ids=repr,
)
def test_an_email_that_cannot_be_typed_to_sign_in_is_refused(typed: str, words: str) -> None:
    problem = email_problem(typed)
    assert problem is not None and words in problem


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("  Ada@Example.COM ", "ada@example.com"),
        ("\uff41\uff44\uff41\uff20\uff45\uff58.com", "ada@ex.com"),  # fullwidth, @ too
        ("Stra\u00dfe@example.de", "strasse@example.de"),  # casefolded, not just lowered
        ("\ufb01le@example.com", "file@example.com"),  # a ligature is its letters
        ("\u0430da@example.com", "\u0430da@example.com"),  # Cyrillic a: another address
    ],
    ids=repr,
)
def test_an_email_is_stored_as_it_is_compared(typed: str, stored: str) -> None:
    assert checked_email(typed) == stored


@pytest.mark.parametrize("invisible", ["\u00ad", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"])
def test_an_email_with_an_invisible_character_is_refused_naming_the_field(invisible: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        checked_email(f"ad{invisible}a@example.com", field="LATCHKEY_ADMIN_EMAIL")
    [error] = refused.value.errors
    assert error.field == "LATCHKEY_ADMIN_EMAIL"
    assert f"U+{ord(invisible):04X}" in error.message and "invisible" in error.message
