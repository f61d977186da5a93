"""What the mail channels and the normalizer must agree on about a mail's
identity: its Message-IDs, the stable ``external_id`` a channel stores it
under, and the ``X-Loop`` mark on the mail Dengar sends."""

from __future__ import annotations

import email.policy
import hashlib
import re
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser

MSGID = re.compile(r"<[^<>\s]+>")


def decode_raw_header(value: str) -> str:
    """RFC 2047 words of a raw header value decoded; as written when broken."""
    try:
        return str(make_header(decode_header(value)))
    except Exception:  # noqa: BLE001 -- broken encoded-words: keep as written
        return value


def first_msgid(value: str) -> str | None:
    """The first ``<…>`` Message-ID in a header value."""
    match = MSGID.search(value)
    return match.group(0) if match else None


def mail_external_id(raw: bytes) -> str:
    """A stable id for one mail: ``<Message-ID>#<digest of From/Date/Subject
    and body>``, or ``sha256:<hex>`` of the bytes when there is no Message-ID.

    Stable across IMAP UIDVALIDITY resets, folder moves, re-imports and
    relays that add headers; the digest keeps two different mails that reuse
    one Message-ID apart, even with the same sender, date and subject.
    """
    try:
        head = BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
        message_id = first_msgid(
            decode_raw_header(str(head.get("Message-ID", "") or ""))
        )
    except Exception:  # noqa: BLE001 -- an unreadable header block has no id
        message_id = None
    if not message_id:
        return "sha256:" + hashlib.sha256(raw).hexdigest()
    digest = hashlib.sha256()
    for name in ("From", "Date", "Subject"):
        value = head.get(name, "")
        digest.update(" ".join(str(value).split()).encode("utf-8", "surrogateescape"))
        digest.update(b"\0")
    digest.update(_body_of(raw))
    return f"{message_id[:900]}#{digest.hexdigest()[:16]}"


def _body_of(raw: bytes) -> bytes:
    """The bytes after the header block, with line ends made alike (a mail
    read over IMAP has CRLF, the same mail in a Maildir file often LF)."""
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    if not ends:
        return b""
    start = min(ends)
    body = raw[start:].lstrip(b"\r\n")
    return body.replace(b"\r\n", b"\n").rstrip()


def loop_id_for(domain: str) -> str:
    """The ``X-Loop`` value Dengar puts on mail it sends for ``domain``; mail
    coming back with it is ours (see ``normalizer.loops.ignore_reason``)."""
    return f"dengar@{domain}".lower()
