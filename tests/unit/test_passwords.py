"""Passwords per NIST SP 800-63B: long passphrases, no composition rules, zxcvbn's estimate."""

from __future__ import annotations

import pytest

from pd_prime_demo.identity.rules import MAX_PASSWORD_LENGTH, password_problems
from tests.factories import PASSWORD

EMAIL = "ada.lovelace@example.com"


@pytest.mark.parametrize(
    "weak",
    [
        "password1234",
        "123456789012",
        "Password123!",
        "qwertyuiop12",
        "iloveyou2024",
        "aaaaaaaaaaaa",
    ],
)
def test_common_and_guessable_passwords_are_refused_with_feedback(weak: str) -> None:
    problems = password_problems(weak, email=EMAIL)
    assert problems, weak
    assert problems[0].startswith("too easy to guess")
    assert len(problems) >= 2, "zxcvbn's warning or suggestions come along"


@pytest.mark.parametrize(
    "good",
    [
        PASSWORD,
        "correct horse battery staple",
        "all lower case words are fine here",  # no composition rules
        "plum tuesday glacier 77 ostrich",
        "ü" + " ".join(["passphrase", "with", "unicode", "éàç", "words"]),
        # A long passphrase (NIST: at least 64 characters must be allowed).
        "the rain in the north falls mainly on the quiet harbour at dusk " * 2,
    ],
)
def test_passphrases_are_accepted(good: str) -> None:
    assert len(good) <= MAX_PASSWORD_LENGTH
    assert password_problems(good, email=EMAIL, names=("Ada Lovelace",)) == []


def test_context_words_are_refused() -> None:
    assert password_problems("lovelace and a long phrase", email=EMAIL, names=("Ada Lovelace",))
    assert password_problems("ada.lovelace@example.com!", email=EMAIL)
    assert password_problems("my pdprime password is long", email=EMAIL)
    # The name matters only when given, and only as a word of its own.
    assert password_problems("lovelace and a long phrase", email="x@example.com") == []
    assert password_problems("another quiet harbour day", email=EMAIL, names=("Other",)) == []


def test_length_limits() -> None:
    assert password_problems("short", email=EMAIL) == ["must be at least 12 characters"]
    too_long = "x" + "unusual words wander " * 13
    assert len(too_long) > MAX_PASSWORD_LENGTH
    assert password_problems(too_long, email=EMAIL) == ["must be at most 256 characters"]
