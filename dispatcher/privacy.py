"""Personal data in complaint text: NIK/KK numbers, phone numbers, email
addresses. Found to prompt staff to mark a case ``anonim``; masked wherever
the text of an ``anonim`` or ``rahasia`` case leaves Dengar (agency messages,
the agency API and the dashboard for everyone but admins)."""

from __future__ import annotations

import re
from collections.abc import Iterable

# 16 digits, alone (NIK and KK numbers have the same shape)
_NIK = re.compile(r"(?<![\d])\d{16}(?![\d])")
# Indonesian numbers: +62 / 62 / 0 then 8xx, with optional spaces or dashes
_PHONE = re.compile(
    r"(?<![\w+])(?:\+62|62|0)[\s-]?8\d{1,3}(?:[\s-]?\d{2,4}){2,3}(?!\d)"
)
# starts only where an address can start: without the look-behind the engine
# retries from every character of a long word, quadratic in its length
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")

PII_LABELS: dict[str, str] = {
    "nik": "NIK/KK",
    "phone": "nomor telepon",
    "email": "alamat email",
}


def find_pii(text: str | None) -> list[str]:
    """The kinds of personal data in ``text`` ("nik", "phone", "email")."""
    if not text:
        return []
    found = []
    if _NIK.search(text):
        found.append("nik")
    if _PHONE.search(text):
        found.append("phone")
    if _EMAIL.search(text):
        found.append("email")
    return found


def mask_pii(text: str | None, identity: Iterable[str | None] = ()) -> str:
    """``text`` with every NIK/KK, phone number and email replaced by a mark
    that keeps only the last characters of numbers (so staff can still tell
    two numbers apart), and the reporter's own ``identity`` (name, handle:
    what a signature or a greeting repeats) replaced wherever it appears."""
    if not text:
        return ""
    masked = _identity_pattern(identity).sub(IDENTITY_MARK, text)
    masked = _EMAIL.sub("[email disembunyikan]", masked)
    masked = _NIK.sub(lambda m: "[NIK ****" + m.group(0)[-4:] + "]", masked)
    return _PHONE.sub(lambda m: "[telepon ***" + _digits(m.group(0))[-3:] + "]", masked)


IDENTITY_MARK = "[identitas disembunyikan]"
# shorter names would mask ordinary words ("Ani" in "Ani-ani" is a name,
# "Ad" is not worth the risk)
_MIN_IDENTITY = 3
_NEVER = re.compile(r"(?!)")


def _identity_pattern(identity: Iterable[str | None]) -> re.Pattern[str]:
    words = sorted(
        {
            " ".join(value.lstrip("@").split())
            for value in identity
            if value and len(value.strip().lstrip("@")) >= _MIN_IDENTITY
        },
        key=len,
        reverse=True,
    )
    if not words:
        return _NEVER
    # whole words only, any run of spaces between the name's parts; one
    # alternation, so the text is read once whatever the number of values
    alternatives = "|".join(
        r"\s+".join(re.escape(part) for part in word.split()) for word in words
    )
    return re.compile(rf"@?(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())
