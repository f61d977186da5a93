"""Personal data in complaint text: NIK/KK numbers, phone numbers, email
addresses. Found to prompt staff to mark a case ``anonim``; masked wherever
the text of an ``anonim`` or ``rahasia`` case leaves Dengar (agency messages,
the agency API and the dashboard for everyone but admins)."""

from __future__ import annotations

import re

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


def mask_pii(text: str | None) -> str:
    """``text`` with every NIK/KK, phone number and email replaced by a mark
    that keeps only the last characters of numbers (so staff can still tell
    two numbers apart)."""
    if not text:
        return ""
    masked = _EMAIL.sub("[email disembunyikan]", text)
    masked = _NIK.sub(lambda m: "[NIK ****" + m.group(0)[-4:] + "]", masked)
    return _PHONE.sub(lambda m: "[telepon ***" + _digits(m.group(0))[-3:] + "]", masked)


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())
