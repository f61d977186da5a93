"""Limits a mail's header block must keep before it is parsed.

The standard library's header registry (policy ``default``) spends about
10 µs per byte of a Subject and 25 µs per byte of a quoted From name, more
than linearly for References, and a Subject of 30,000 encoded words took
13.7 s and 7.4 GB. No real complaint comes near these limits, so a mail over
one is not parsed at all: it is quarantined with the limit it broke, and
staff can look at its bytes. The check itself reads the header block once.
"""

from __future__ import annotations

import re

MAX_HEADER_BYTES = 1_000_000  # the whole header block
MAX_ENCODED_WORDS = 2_000  # "=?charset?q?…?=" in the whole header block
# the fields Dengar decodes, unfolded; every other field only counts above
FIELD_LIMITS = {
    "subject": 8_192,
    "from": 2_048,
    "reply-to": 2_048,
    "sender": 2_048,
    "message-id": 1_024,
    "in-reply-to": 4_096,
    "references": 16_384,
    "content-type": 4_096,
    "content-disposition": 4_096,
}
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_FIELD_NAME = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:")


class HeaderLimitError(ValueError):
    """A header block over one of the limits; the message says which."""


def check_header_limits(raw: bytes) -> None:
    """Raise :class:`HeaderLimitError` when ``raw``'s header block breaks a
    limit (its size, its number of encoded words, the length of a field
    Dengar decodes)."""
    end = _HEADER_END.search(raw, 0, MAX_HEADER_BYTES + 4)
    if end is None and len(raw) > MAX_HEADER_BYTES:
        raise HeaderLimitError(
            f"header block is over {MAX_HEADER_BYTES:,} bytes "
            f"(no end of headers in the first {MAX_HEADER_BYTES:,})"
        )
    head = raw[: end.start()] if end else raw
    words = head.count(b"=?")
    if words > MAX_ENCODED_WORDS:
        raise HeaderLimitError(
            f"header block has {words:,} encoded words (limit {MAX_ENCODED_WORDS:,})"
        )
    names: list[str] = []  # each field in order, with its unfolded size
    sizes: list[int] = []
    for line in head.split(b"\n"):
        line = line.removesuffix(b"\r")
        if line[:1] in (b" ", b"\t"):
            if sizes:
                sizes[-1] += len(line)
            continue
        found = _FIELD_NAME.match(line)
        names.append(found.group(1).decode("ascii").lower() if found else "")
        sizes.append(len(line))
    for name, size in zip(names, sizes, strict=True):
        limit = FIELD_LIMITS.get(name)
        if limit is not None and size > limit:
            raise HeaderLimitError(
                f"{_title(name)} header is {size:,} bytes (limit {limit:,})"
            )


def _title(field: str) -> str:
    return "-".join(part.capitalize() for part in field.split("-")).replace("Id", "ID")
