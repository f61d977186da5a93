"""Small, never-raising accessors for one MIME part (compat32 or default
policy): its type, disposition, file name, decoded bytes and text."""

from __future__ import annotations

import email.utils
from email.message import EmailMessage, Message

from contracts.mail_ids import decode_raw_header
from contracts.single_line import single_line
from normalizer.charsets import SURROGATES, decode_bytes, fix_surrogates
from normalizer.text import clean_text


def decode_text(part: Message, defects: list[str] | None = None) -> str:
    """The text of a ``text/*`` part, decoding the declared charset and
    falling back (UTF-8, then Windows-1252) when the label is wrong."""
    data = payload_bytes(part)
    try:
        declared = part.get_content_charset() or "us-ascii"
    except Exception:  # noqa: BLE001 -- a broken charset parameter
        declared = "us-ascii"
    return decode_bytes(data, declared, defects)


def content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:  # noqa: BLE001 -- malformed Content-Type: RFC 2045 default
        return "text/plain"


def disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:  # noqa: BLE001
        return None


def has_filename(part: Message) -> bool:
    try:
        return bool(part.get_filename())
    except Exception:  # noqa: BLE001
        return False


def filename(part: Message, ctype: str, index: int) -> str:
    name = None
    try:
        name = part.get_filename()  # RFC 2231 and RFC 2047 forms
    except Exception:  # noqa: BLE001
        name = None
    if not name:
        try:
            name = part.get_param("name")  # type: ignore[assignment]
            if isinstance(name, tuple):
                name = email.utils.collapse_rfc2231_value(name)
        except Exception:  # noqa: BLE001
            name = None
    if isinstance(name, str) and "=?" in name:
        name = decode_raw_header(name)  # RFC 2047 inside quotes, as Outlook writes
    if isinstance(name, str) and SURROGATES.search(name):
        name = filename_from_raw(part) or name
    if isinstance(name, str) and name.strip():
        # no directories: a name is shown and saved, never used as a path
        # and one line without bidi controls: "foto\u202efdp.exe" must not
        # show as "fotoexe.pdf", nor a CR/LF break the agency mail's header
        cleaned = single_line(clean_text(fix_surrogates(name)))
        cleaned = cleaned.replace("\\", "/").split("/")[-1].strip()
        if cleaned:
            return cleaned
    if ctype == "message/rfc822":
        return f"pesan-{index}.eml"
    return f"lampiran-{index}." + ctype.split("/")[-1].replace("+", ".")


def filename_from_raw(part: Message) -> str | None:
    # an 8-bit file name: re-read the raw header with the bytes decoded
    for header in ("Content-Disposition", "Content-Type"):
        raw = raw_header(part, header)
        if not SURROGATES.search(raw):
            continue
        fixed = Message()
        fixed[header] = fix_surrogates(raw)
        key = "filename" if header == "Content-Disposition" else "name"
        value = fixed.get_param(key, header=header)
        if isinstance(value, tuple):
            value = email.utils.collapse_rfc2231_value(value)
        if isinstance(value, str) and value:
            return value
    return None


def payload_bytes(part: Message) -> bytes:
    try:
        if part.is_multipart():
            # a message/* part: its body (the inner message), not our headers
            children = part.get_payload()
            return b"".join(c.as_bytes() for c in children if isinstance(c, Message))
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 -- broken transfer encoding: raw payload
        data = None
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    return b""


def raw_header(msg: Message, name: str) -> str:
    items = msg.raw_items() if isinstance(msg, EmailMessage) else msg.items()
    for key, value in items:
        if key.lower() == name.lower():
            return str(value)
    return ""
