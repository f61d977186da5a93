"""RFC 5322/MIME mail → the fields of a complaint, with the standard
library's ``email`` package (policy ``default``).

``parse_mail`` never raises: whatever bytes arrive (wrong charset labels,
broken RFC 2047 words, truncated multiparts, 8-bit headers) it returns what
it could read, and records what it had to guess in ``ParsedMail.defects``.

Body rules: ``text/plain`` parts are the text; ``multipart/alternative``
takes its last non-empty plain alternative, else the HTML one (as text, links
kept); ``multipart/related`` takes its root and keeps the rest as inline
attachments; a forwarded ``message/rfc822`` contributes its headers and text
(under a "Pesan terusan" line) and its attachments; everything else (images,
``winmail.dat``, text files with a name, delivery reports) is an attachment,
``inline`` when it is displayed in the body (``Content-ID`` or inline
disposition).
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

from normalizer.records import InboundAttachment
from normalizer.text import clean_text, html_to_text

_MSGID = re.compile(r"<[^<>\s]+>")
_SURROGATES = re.compile(r"[\udc80-\udcff]")
_MAX_DEPTH = 20  # nested multiparts/forwards deeper than this are attachments

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


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """What Dengar needs from one email."""

    subject: str
    from_name: str | None
    from_address: str | None
    reply_to: str | None
    message_id: str | None
    references: tuple[str, ...]  # In-Reply-To first, then References, newest first
    text: str
    attachments: tuple[InboundAttachment, ...]
    headers: EmailMessage = field(repr=False, compare=False)
    date: datetime | None = None
    # what the parser had to repair or guess, for the quarantine/debug view
    defects: tuple[str, ...] = ()


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse raw mail bytes into a ``ParsedMail``; never raises."""
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception:  # noqa: BLE001 -- the promise is "never raises"
        msg = EmailMessage()
        msg.set_payload(raw.decode("utf-8", "replace"))
    assert isinstance(msg, EmailMessage)
    body = _Body()
    try:
        body.walk(msg, 0)
    except Exception as exc:  # noqa: BLE001 -- keep what was read so far
        body.defects.append(f"body parse stopped: {type(exc).__name__}: {exc}"[:200])
    name, address = _from(msg)
    defects = [*_message_defects(msg), *body.defects]
    return ParsedMail(
        subject=clean_text(header_text(msg, "Subject")),
        from_name=name,
        from_address=address,
        reply_to=_address_of(header_text(msg, "Reply-To")),
        message_id=_first_msgid(header_text(msg, "Message-ID")),
        references=_references(msg),
        text=body.text(),
        attachments=tuple(body.attachments),
        headers=msg,
        date=_date(msg),
        defects=tuple(dict.fromkeys(defects)),
    )


def mail_external_id(raw: bytes) -> str:
    """A stable id for one mail: ``<Message-ID>#<digest of From/Date/Subject>``,
    or ``sha256:<hex>`` of the bytes when there is no Message-ID.

    Stable across IMAP UIDVALIDITY resets, folder moves and re-imports; the
    header digest keeps two different mails that reuse one Message-ID apart.
    """
    try:
        head = BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
        message_id = _first_msgid(_decode_raw(str(head.get("Message-ID", "") or "")))
    except Exception:  # noqa: BLE001 -- an unreadable header block has no id
        message_id = None
    if not message_id:
        return "sha256:" + hashlib.sha256(raw).hexdigest()
    digest = hashlib.sha256()
    for name in ("From", "Date", "Subject"):
        value = head.get(name, "")
        digest.update(" ".join(str(value).split()).encode("utf-8", "surrogateescape"))
        digest.update(b"\0")
    return f"{message_id[:900]}#{digest.hexdigest()[:16]}"


def header_text(msg: Message, name: str) -> str:
    """A header as readable text: RFC 2047 decoded, 8-bit bytes guessed
    (UTF-8, else Windows-1252); ``""`` when absent. Never raises."""
    raw = _raw_header(msg, name)
    if _SURROGATES.search(raw):
        # the header registry turns raw 8-bit bytes into U+FFFD: decode them here
        return _decode_raw(" ".join(_fix_surrogates(raw).split()))
    try:
        value = msg.get(name)
        return "" if value is None else str(value)
    except Exception:  # noqa: BLE001 -- the header registry gave up: raw text
        return _decode_raw(raw)


class _Body:
    """Collects text and attachments while walking the MIME tree."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.attachments: list[InboundAttachment] = []
        self.defects: list[str] = []

    def text(self) -> str:
        return "\n\n".join(p.strip("\n") for p in self.parts if p.strip())

    def walk(self, part: Message, depth: int, text: bool = True) -> None:
        """Collect ``part``; with ``text=False`` (an alternative we did not
        choose) only its files, so photos shown only in the HTML are kept."""
        ctype = _content_type(part)
        if depth > _MAX_DEPTH:
            self.defects.append("MIME nesting too deep; rest kept as attachment")
            self._attach(part, ctype)
            return
        if ctype in ("message/rfc822", "message/global") and part.is_multipart():
            self._forwarded(part, depth, text)
        elif ctype.startswith("message/"):
            # external-body, delivery-status, partial: a file, not a forward
            self._attach(part, ctype)
        elif part.is_multipart():
            self._multipart(part, ctype, depth, text)
        elif _is_body_text(part, ctype):
            if text:
                body = self._text_of(part, ctype)
                if body.strip():
                    self.parts.append(body)
        else:
            self._attach(part, ctype)

    def _multipart(self, part: Message, ctype: str, depth: int, text: bool) -> None:
        children = [c for c in (part.get_payload() or []) if isinstance(c, Message)]
        if ctype == "multipart/alternative":
            chosen = _choose_alternative(children) if text else None
            for child in children:
                self.walk(child, depth + 1, text=child is chosen)
            return
        if ctype == "multipart/related" and children:
            self.walk(children[0], depth + 1, text)
            for child in children[1:]:
                if child.is_multipart():
                    self.walk(child, depth + 1, text=False)
                else:
                    self._attach(child, _content_type(child), inline=True)
            return
        for child in children:
            self.walk(child, depth + 1, text)

    def _forwarded(self, part: Message, depth: int, text: bool) -> None:
        inner = part.get_payload(0) if part.get_payload() else None
        if not isinstance(inner, Message):
            return
        if not text:
            self.walk(inner, depth + 1, text=False)
            return
        lines = ["---------- Pesan terusan ----------"]
        for label, name in (
            ("Dari", "From"),
            ("Tanggal", "Date"),
            ("Subjek", "Subject"),
        ):
            value = clean_text(header_text(inner, name))
            if value:
                lines.append(f"{label}: {value}")
        self.parts.append("\n".join(lines))
        self.walk(inner, depth + 1)

    def _text_of(self, part: Message, ctype: str) -> str:
        text = decode_text(part, self.defects)
        if ctype == "text/html":
            return html_to_text(text)
        if ctype == "text/enriched":
            return re.sub(r"</?[a-zA-Z][^>]*>", "", text).replace("<<", "<")
        return text

    def _attach(self, part: Message, ctype: str, inline: bool | None = None) -> None:
        data = _payload_bytes(part)
        filename = _filename(part, ctype, len(self.attachments) + 1)
        if inline is None:
            disposition = _disposition(part)
            inline = disposition == "inline" or (
                disposition is None and part.get("Content-ID") is not None
            )
        self.attachments.append(
            InboundAttachment(
                filename=filename, content_type=ctype, data=data, inline=inline
            )
        )


def decode_text(part: Message, defects: list[str] | None = None) -> str:
    """The text of a ``text/*`` part, decoding the declared charset and
    falling back (UTF-8, then Windows-1252) when the label is wrong."""
    data = _payload_bytes(part)
    try:
        declared = part.get_content_charset() or "us-ascii"
    except Exception:  # noqa: BLE001 -- a broken charset parameter
        declared = "us-ascii"
    return decode_bytes(data, declared, defects)


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


def _is_body_text(part: Message, ctype: str) -> bool:
    if ctype not in ("text/plain", "text/html", "text/enriched"):
        return False
    return _disposition(part) != "attachment" and not _has_filename(part)


def _choose_alternative(children: list[Message]) -> Message | None:
    """The alternative to read: plain text that says something, else a
    multipart without HTML, else anything (HTML); the last of equals, as
    RFC 2046 orders them plainest first."""
    best, best_score = None, -1
    for child in children:
        ctype = _content_type(child)
        if ctype == "text/plain" and _payload_bytes(child).strip():
            score = 3
        elif child.is_multipart() and not _contains(child, "text/html"):
            score = 2
        elif ctype.startswith(("text/", "multipart/", "message/")):
            score = 1
        else:
            score = 0
        if score >= best_score:
            best, best_score = child, score
    return best


def _contains(part: Message, ctype: str) -> bool:
    try:
        return any(_content_type(p) == ctype for p in part.walk())
    except Exception:  # noqa: BLE001
        return False


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:  # noqa: BLE001 -- malformed Content-Type: RFC 2045 default
        return "text/plain"


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:  # noqa: BLE001
        return None


def _has_filename(part: Message) -> bool:
    try:
        return bool(part.get_filename())
    except Exception:  # noqa: BLE001
        return False


def _filename(part: Message, ctype: str, index: int) -> str:
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
    if isinstance(name, str) and "\ufffd" in name:
        name = _filename_from_raw(part) or name
    if isinstance(name, str) and name.strip():
        # no directories: a name is shown and saved, never used as a path
        cleaned = clean_text(_fix_surrogates(name)).replace("\\", "/").split("/")[-1]
        if cleaned:
            return cleaned
    if ctype == "message/rfc822":
        return f"pesan-{index}.eml"
    return f"lampiran-{index}." + ctype.split("/")[-1].replace("+", ".")


def _filename_from_raw(part: Message) -> str | None:
    # an 8-bit file name: re-read the raw header with the bytes decoded
    for header in ("Content-Disposition", "Content-Type"):
        raw = _raw_header(part, header)
        if not _SURROGATES.search(raw):
            continue
        fixed = Message()
        fixed[header] = _fix_surrogates(raw)
        key = "filename" if header == "Content-Disposition" else "name"
        value = fixed.get_param(key, header=header)
        if isinstance(value, tuple):
            value = email.utils.collapse_rfc2231_value(value)
        if isinstance(value, str) and value:
            return value
    return None


def _payload_bytes(part: Message) -> bytes:
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


def _message_defects(msg: Message) -> list[str]:
    found = [type(d).__name__ for d in getattr(msg, "defects", [])]
    return [f"MIME defect: {name}" for name in found]


def _raw_header(msg: Message, name: str) -> str:
    items = msg.raw_items() if isinstance(msg, EmailMessage) else msg.items()
    for key, value in items:
        if key.lower() == name.lower():
            return str(value)
    return ""


def _decode_raw(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except Exception:  # noqa: BLE001 -- broken encoded-words: keep as written
        return value


def _fix_surrogates(text: str) -> str:
    # 8-bit bytes in headers come back as surrogates: they are almost always
    # UTF-8 from a phone, else Windows-1252
    if not _SURROGATES.search(text):
        return text
    data = text.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def _from(msg: Message) -> tuple[str | None, str | None]:
    try:
        header = msg.get("From")
        addresses = getattr(header, "addresses", ())
        if addresses:
            first = addresses[0]
            address = first.addr_spec.lower() if "@" in first.addr_spec else None
            name = clean_text(_fix_surrogates(first.display_name)) or None
            if address:
                return name, address
    except Exception:  # noqa: BLE001 -- fall back to the lenient parser below
        pass
    raw = header_text(msg, "From")
    name, address = parseaddr(raw)
    if "@" not in address:
        # "From: Whomever": no address, but the words still say who wrote
        return (clean_text(name or address or raw) or None), None
    return (clean_text(name) or None), address.lower()


def _address_of(value: str) -> str | None:
    for _name, address in getaddresses([value]) if value else []:
        if "@" in address:
            return address.lower()
    return None


def _first_msgid(value: str) -> str | None:
    match = _MSGID.search(value)
    return match.group(0) if match else None


def _references(msg: Message) -> tuple[str, ...]:
    ids = _MSGID.findall(header_text(msg, "In-Reply-To"))
    ids += reversed(_MSGID.findall(header_text(msg, "References")))
    return tuple(dict.fromkeys(ids))


def _date(msg: Message) -> datetime | None:
    try:
        value = parsedate_to_datetime(_decode_raw(_raw_header(msg, "Date")).strip())
    except (TypeError, ValueError, IndexError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
