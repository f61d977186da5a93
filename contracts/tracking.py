"""Tracking numbers: ``<PREFIX>-XXXX-XXXX``, 40 random bits in Crockford base32.

Crockford's alphabet has no I, L, O or U, so a citizen who types ``o`` for
``0`` or ``l`` for ``1``, in any case, with or without the hyphen, still finds
the case. The code is random, not sequential: one number reveals nothing
about how many cases exist.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_CHARS = 8  # 8 characters of 5 bits: 40 bits
_TYPO = str.maketrans({"O": "0", "I": "1", "L": "1"})
_PATTERN = re.compile(
    r"\b([A-Za-z]{2,8})-?([0-9A-Za-z]{4})-?([0-9A-Za-z]{4})\b",
)


def new_tracking_no(prefix: str) -> str:
    """A fresh random tracking number such as ``ADU-7K3M-9Q2D``."""
    value = secrets.randbits(_CODE_CHARS * 5)
    chars = []
    for _ in range(_CODE_CHARS):
        chars.append(ALPHABET[value & 31])
        value >>= 5
    code = "".join(reversed(chars))
    return f"{prefix}-{code[:4]}-{code[4:]}"


def canonical(text: str, prefix: str) -> str | None:
    """The tracking number as stored, from what a citizen typed; None if it
    is not one of ours."""
    match = _PATTERN.fullmatch(text.strip())
    return _from_match(match, prefix) if match else None


def find_tracking_numbers(text: str, prefix: str) -> list[str]:
    """Every tracking number of ours mentioned in ``text`` (e.g. a subject)."""
    found = []
    for match in _PATTERN.finditer(text):
        number = _from_match(match, prefix)
        if number and number not in found:
            found.append(number)
    return found


def _from_match(match: re.Match[str], prefix: str) -> str | None:
    if match.group(1).upper() != prefix.upper():
        return None
    code = (match.group(2) + match.group(3)).upper().translate(_TYPO)
    if any(c not in ALPHABET for c in code):
        return None
    return f"{prefix}-{code[:4]}-{code[4:]}"
