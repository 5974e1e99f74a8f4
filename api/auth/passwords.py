"""The password policy (NIST SP 800-63B): long enough and not guessable; no composition rules.

A password is refused when it is only whitespace or one character repeated, when zxcvbn (its
30,000 most common passwords from breach corpora, English words, names, keyboard patterns,
sequences, repeats and dates, with l33t and case variants) estimates it falls to fewer than a
million guesses, or when it is little more than the account's own email or name or the
service's name.
"""

from __future__ import annotations

import re
from typing import Any

from api.auth.exceptions import WeakPassword

MIN_GUESSES = 1_000_000
"""Below this zxcvbn's estimate is "guessable": within reach of a throttled online attack."""
ANALYSED_CHARACTERS = 40
"""What zxcvbn looks at: the rest of a longer password only adds strength, and its cost grows
with the square of the length (a random 256-character password took 14 ms of the event loop,
for anyone who may register; 40 characters take ~3 ms)."""
SERVICE_WORDS = ("nimbus",)
_WORD_SEPARATORS = re.compile(r"[\s._+\-@'\u2019]+")

REASONS = {
    "whitespace_only": "it is only whitespace",
    "repeated_character": "it is one character repeated",
    "context": "it is made of your name, your email address or the name of this service",
    "common_password": "it is one of the most common passwords, or a small variation of one",
    "repeated": "it repeats a short pattern",
    "keyboard_pattern": "it is a row or pattern of keys, like qwerty",
    "sequence": "it is a sequence, like abcd or 4321",
    "date": "it is mostly a date or a year",
    "dictionary_words": "it is a few common words or names",
    "guessable": "it is too easy to guess",
}


def check_password(password: str, *, email: str, full_name: str) -> None:
    """Raise `WeakPassword` saying why, or return: the password may be used for this account."""
    reason = weakness(password, context_words(email, full_name))
    if reason is not None:
        raise WeakPassword(
            f"Choose another password: {REASONS[reason]}. A few unrelated words, or a password "
            "manager's suggestion, make a strong one.",
            reason=reason,
        )


def context_words(email: str, full_name: str) -> list[str]:
    """What an attacker who knows the account would try first, longest first."""
    email = email.lower()
    local, _, domain = email.partition("@")
    name = full_name.lower()
    words = {email, local, *_WORD_SEPARATORS.split(local), name, *_WORD_SEPARATORS.split(name)}
    words.add(_WORD_SEPARATORS.sub("", name))
    words.add(domain.split(".")[0])
    words.update(SERVICE_WORDS)
    return sorted((w for w in words if len(w) >= 3), key=len, reverse=True)


def weakness(password: str, context: list[str]) -> str | None:
    """Why ``password`` is weak (a key of `REASONS`), or None."""
    if not password.strip():
        return "whitespace_only"
    if len(set(password)) == 1:
        return "repeated_character"
    analysed = password[:ANALYSED_CHARACTERS]
    result = _zxcvbn(analysed, context)
    if float(result["guesses"]) < MIN_GUESSES:
        return _reason(result["sequence"])
    lowered = analysed.lower()
    if any(word in lowered for word in context):
        remainder = lowered
        for word in context:
            remainder = remainder.replace(word, "")
        remainder = _WORD_SEPARATORS.sub("", remainder)
        # The account's own words count for nothing: what is left must be strong by itself.
        if not remainder or float(_zxcvbn(remainder, [])["guesses"]) < MIN_GUESSES:
            return "context"
    return None


def _zxcvbn(password: str, user_inputs: list[str]) -> dict[str, Any]:
    # Imported here: its word lists cost ~14 MB, loaded the first time a password is checked
    from zxcvbn import zxcvbn  # type: ignore[import-untyped]

    result: dict[str, Any] = zxcvbn(password, user_inputs=user_inputs)
    return result


def _reason(sequence: list[dict[str, Any]]) -> str:
    """The most telling of the patterns zxcvbn found the password made of."""
    patterns = {m["pattern"] for m in sequence}
    dictionaries = {m.get("dictionary_name") for m in sequence if m["pattern"] == "dictionary"}
    if "user_inputs" in dictionaries:
        return "context"
    if patterns == {"repeat"}:
        return "repeated"
    if "passwords" in dictionaries:
        return "common_password"
    if "repeat" in patterns:
        return "repeated"
    if "spatial" in patterns:
        return "keyboard_pattern"
    if "sequence" in patterns:
        return "sequence"
    if patterns & {"date", "regex"}:
        return "date"
    if dictionaries:
        return "dictionary_words"
    return "guessable"
