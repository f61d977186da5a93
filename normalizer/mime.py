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
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

from contracts.mail_ids import MSGID, decode_raw_header, first_msgid
from contracts.records import InboundAttachment
from contracts.single_line import single_line
from normalizer.charsets import SURROGATES, fix_surrogates
from normalizer.mimeparts import (
    content_type,
    decode_text,
    disposition,
    filename,
    has_filename,
    payload_bytes,
    raw_header,
)
from normalizer.mimetree import parse_tree
from normalizer.text import clean_text, html_to_text

_HEADER_END = re.compile(rb"\r?\n\r?\n")
# "Name Words <local@domain>" or a bare address, in plain ASCII: atoms only,
# so that nothing in it needs the header registry's careful parsing
_ADDRESS = r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_SIMPLE_FROM = re.compile(
    rf"(?:([A-Za-z0-9]+(?: [A-Za-z0-9]+)*) ?)?<({_ADDRESS})>|({_ADDRESS})"
)
# an RFC 2047 encoded word, as written in a raw header
_ENCODED_WORD = re.compile(r"=\?[^?\s]{1,75}\?[bBqQ]\?[^?\s]*\?=")
_MAX_DEPTH = 20  # nested multiparts/forwards deeper than this are attachments


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
    # the whole MIME tree (compat32), e.g. for ``loops.bounced_addresses``
    message: Message | None = field(default=None, repr=False, compare=False)


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse raw mail bytes into a ``ParsedMail``; never raises."""
    # The MIME tree is parsed with compat32, whose cheap header access keeps
    # the walk about twice as fast; the top-level headers, which need the
    # careful decoding, go through policy ``default`` (parsed lazily, so only
    # the few we read cost anything).
    try:
        tree = parse_tree(raw)
        headers = _headers_from(tree)
    except Exception:  # noqa: BLE001 -- the promise is "never raises"
        tree = Message()
        tree.set_payload(raw.decode("utf-8", "replace"))
        headers = _headers_of(raw)
    body = _Body()
    try:
        body.walk(tree, 0)
    except Exception as exc:  # noqa: BLE001 -- keep what was read so far
        body.defects.append(f"body parse stopped: {type(exc).__name__}: {exc}"[:200])
    name, address = _from(headers)
    defects = [*_message_defects(tree), *body.defects]
    return ParsedMail(
        subject=single_line(clean_text(header_text(headers, "Subject"))),
        from_name=name,
        from_address=address,
        reply_to=_address_of(raw_header(headers, "Reply-To")),
        message_id=first_msgid(header_text(headers, "Message-ID")),
        references=_references(headers),
        text=body.text(),
        attachments=tuple(body.attachments),
        headers=headers,
        date=_date(headers),
        defects=tuple(dict.fromkeys(defects)),
        message=tree,
    )


def _headers_from(tree: Message) -> EmailMessage:
    # the header lines the tree was parsed from, unchanged, under policy
    # ``default``: reading them again from the bytes would cost a second parse
    headers = EmailMessage(policy=email.policy.default)
    for name, value in tree.raw_items():
        headers.set_raw(name, value)
    return headers


def _headers_of(raw: bytes) -> EmailMessage:
    end = _HEADER_END.search(raw)
    head = raw[: end.end()] if end else raw
    try:
        parsed = BytesHeaderParser(policy=email.policy.default).parsebytes(head)
    except Exception:  # noqa: BLE001 -- no usable header block
        return EmailMessage()
    assert isinstance(parsed, EmailMessage)
    return parsed


def header_text(msg: Message, name: str) -> str:
    """A header as readable text: RFC 2047 decoded, 8-bit bytes guessed
    (UTF-8, else Windows-1252); ``""`` when absent. Never raises."""
    raw = raw_header(msg, name)
    if not raw:
        return ""
    if SURROGATES.search(raw):
        # the header registry turns raw 8-bit bytes into U+FFFD: decode them here
        return decode_raw_header(" ".join(fix_surrogates(raw).split()))
    if isinstance(msg, EmailMessage) and msg.policy is not email.policy.compat32:
        try:
            value = msg.get(name)
            return "" if value is None else str(value)
        except Exception:  # noqa: BLE001 -- the header registry gave up: raw text
            pass
    return decode_raw_header(" ".join(raw.split()))


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
        ctype = content_type(part)
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
                    self._attach(child, content_type(child), inline=True)
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
        data = payload_bytes(part)
        name = filename(part, ctype, len(self.attachments) + 1)
        if inline is None:
            shown = disposition(part)
            inline = shown == "inline" or (
                shown is None and part.get("Content-ID") is not None
            )
        self.attachments.append(
            InboundAttachment(
                filename=name, content_type=ctype, data=data, inline=inline
            )
        )


def _is_body_text(part: Message, ctype: str) -> bool:
    if ctype not in ("text/plain", "text/html", "text/enriched"):
        return False
    return disposition(part) != "attachment" and not has_filename(part)


def _choose_alternative(children: list[Message]) -> Message | None:
    """The alternative to read: plain text that says something, else a
    multipart without HTML, else anything (HTML); the last of equals, as
    RFC 2046 orders them plainest first."""
    best, best_score = None, -1
    for child in children:
        ctype = content_type(child)
        if ctype == "text/plain" and payload_bytes(child).strip():
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
        return any(content_type(p) == ctype for p in part.walk())
    except Exception:  # noqa: BLE001
        return False


def _message_defects(msg: Message) -> list[str]:
    found = [type(d).__name__ for d in getattr(msg, "defects", [])]
    return [f"MIME defect: {name}" for name in found]


def _from(msg: Message) -> tuple[str | None, str | None]:
    simple = _SIMPLE_FROM.fullmatch(raw_header(msg, "From").strip())
    if simple:
        # what the header registry reads from it too, without its cost
        name, angled, bare = simple.groups()
        return name, (angled or bare).lower()
    try:
        header = msg.get("From")
        addresses = getattr(header, "addresses", ())
        if addresses:
            first = addresses[0]
            address = first.addr_spec.lower() if "@" in first.addr_spec else None
            name = _name(fix_surrogates(first.display_name))
            if address:
                return name, address
    except Exception:  # noqa: BLE001 -- fall back to the lenient parser below
        pass
    return _from_raw(raw_header(msg, "From"))


def _from_raw(raw: str) -> tuple[str | None, str | None]:
    """(name, address) of a From value the header registry refused.

    The address is read from the value as written, with its encoded words
    blanked out: whatever an encoded word decodes to (``=0D=0A``, a second
    ``<address>``) is part of the name, never the address.
    """
    raw = " ".join(fix_surrogates(raw).split())
    blanked = _ENCODED_WORD.sub(lambda m: "_" * len(m.group(0)), raw)
    _, address = parseaddr(blanked)
    if "@" not in address:
        # "From: Whomever": no address, but the words still say who wrote
        return _name(decode_raw_header(raw)), None
    at = blanked.find(address)
    before = raw[:at] if at >= 0 else ""
    name = _name(decode_raw_header(before.rstrip(" <").strip()).strip('"'))
    return name, address.lower()


def _name(text: str) -> str | None:
    return single_line(clean_text(text)) or None


def _address_of(value: str) -> str | None:
    # encoded words blanked, as in _from_raw: a decoded CR/LF or "<…>" in a
    # display name cannot choose the address
    blanked = _ENCODED_WORD.sub(lambda m: "_" * len(m.group(0)), value or "")
    for _display, address in getaddresses([" ".join(blanked.split())]):
        if "@" in address:
            return address.lower()
    return None


def _references(msg: Message) -> tuple[str, ...]:
    ids = MSGID.findall(header_text(msg, "In-Reply-To"))
    ids += reversed(MSGID.findall(header_text(msg, "References")))
    return tuple(dict.fromkeys(ids))


def _date(msg: Message) -> datetime | None:
    try:
        value = parsedate_to_datetime(
            decode_raw_header(raw_header(msg, "Date")).strip()
        )
    except (TypeError, ValueError, IndexError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
