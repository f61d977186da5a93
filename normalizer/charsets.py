"""Text out of bytes whose charset label may be wrong or missing.

Real mail lies about its charset: Windows-1252 labelled ISO-8859-1, UTF-8
from phones labelled Latin-1 or not labelled at all, names Python does not
know (``ks_c_5601-1987``, ``x-unknown``). Nothing here raises.
"""

from __future__ import annotations

import re

SURROGATES = re.compile(r"[\udc80-\udcff]")

# labels seen in real mail that Python does not know, or knows by a narrower
# code page than the sender used
_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252",  # Windows mailers label cp1252 text as latin-1
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso8859-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "ansi_x3.4-1968": "cp1252",
    "windows-1252": "cp1252",
    "iso-8859-8-i": "iso-8859-8",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "x-sjis": "shift_jis",
    "unicode-1-1-utf-7": "utf-7",
    "x-unknown": "utf-8",
    "unknown-8bit": "utf-8",
    "x-user-defined": "cp1252",
    "default": "utf-8",
    "utf8": "utf-8",
}
# labels that are often wrong: UTF-8 bytes under them are UTF-8
_WEAK_LABELS = {"cp1252", "iso-8859-15", "iso-8859-2"}


def decode_bytes(data: bytes, declared: str, defects: list[str] | None = None) -> str:
    """Bytes labelled ``declared`` as text; never raises."""
    label = _CHARSET_ALIASES.get(declared.strip().strip('"').lower(), declared.lower())
    candidates = [label, "utf-8", "cp1252", "latin-1"]
    if label in _WEAK_LABELS and not data.isascii():
        candidates.insert(0, "utf-8")
    for candidate in dict.fromkeys(candidates):
        try:
            text = data.decode(candidate)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
        guessed = candidate != label and not (
            label in _WEAK_LABELS and candidate == "utf-8"
        )
        if guessed and defects is not None:
            defects.append(f"charset {declared!r} did not fit; read as {candidate}")
        return text.replace("\r\n", "\n")
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def fix_surrogates(text: str) -> str:
    """Undecoded 8-bit header bytes (surrogates) read as UTF-8 or cp1252."""
    # 8-bit bytes in headers come back as surrogates: they are almost always
    # UTF-8 from a phone, else Windows-1252
    if not SURROGATES.search(text):
        return text
    data = text.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")
