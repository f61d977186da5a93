"""InboundMessage → the fields of a record, before any database decision.

Pure functions: no storage, no network. The pipeline adds what needs the
database (threading, tracking numbers, duplicates, routing).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from contracts.records import InboundAttachment, InboundMessage, Location, Reporter
from contracts.single_line import single_line
from contracts.tracking import find_tracking_numbers
from normalizer.header_limits import check_header_limits
from normalizer.loops import bounced_addresses, ignore_reason
from normalizer.mime import parse_mail
from normalizer.quotes import strip_quotes
from normalizer.text import clean_text, storable


@dataclass(frozen=True, slots=True)
class Normalized:
    """What an inbound item says, cleaned, with the original kept."""

    subject: str | None
    original_text: str
    clean_text: str
    reporter: Reporter
    attachments: tuple[InboundAttachment, ...] = ()
    location: Location | None = None
    message_id: str | None = None
    references: tuple[str, ...] = ()
    tracking_refs: tuple[str, ...] = ()
    ignored_reason: str | None = None
    # addresses a bounce says are undeliverable: we stop writing to them
    bounced: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MailPolicy:
    """What the email path needs to know about this installation."""

    own_domains: tuple[str, ...] = ()
    loop_ids: tuple[str, ...] = ()
    forwarders: tuple[str, ...] = ()


def normalize(
    item: InboundMessage, tracking_prefix: str, mail: MailPolicy
) -> Normalized:
    """Turn one inbound item into cleaned record fields.

    Raises ``ValueError`` (or a parser error) for an item that cannot be read;
    the pipeline quarantines it with that message. Every text field comes
    out :func:`~normalizer.text.storable` (the raw bytes stay as they came).
    """
    if item.raw_format == "rfc822":
        return _storable(_from_mail(item, tracking_prefix, mail))
    return _storable(_from_item(item, tracking_prefix))


def _from_item(item: InboundMessage, tracking_prefix: str) -> Normalized:
    original = item.text or ""
    subject = single_line(clean_text(item.subject or "")) or None
    refs = find_tracking_numbers(f"{subject or ''}", tracking_prefix)
    return Normalized(
        subject=subject,
        original_text=original,
        clean_text=clean_text(original),
        reporter=_one_line_name(item.reporter),
        attachments=tuple(_one_line_filename(a) for a in item.attachments),
        location=item.location,
        message_id=item.message_id,
        references=item.in_reply_to,
        tracking_refs=tuple(refs),
    )


def _one_line_name(reporter: Reporter) -> Reporter:
    # a chat name or file name ends up in mail headers and one-line labels:
    # no line breaks, controls or bidi overrides (see contracts.single_line)
    if reporter.name is None or single_line(reporter.name) == reporter.name:
        return reporter
    return replace(reporter, name=single_line(reporter.name) or None)


def _one_line_filename(attachment: InboundAttachment) -> InboundAttachment:
    name = single_line(attachment.filename)
    if name == attachment.filename:
        return attachment
    return replace(attachment, filename=name or "lampiran")


def _from_mail(
    item: InboundMessage, tracking_prefix: str, mail: MailPolicy
) -> Normalized:
    # refused before the parser sees it: see normalizer/header_limits.py
    check_header_limits(item.raw)
    parsed = parse_mail(item.raw)
    sender = parsed.from_address
    reporter_address = sender
    if sender and sender in mail.forwarders and parsed.reply_to:
        reporter_address = parsed.reply_to
    reason = ignore_reason(
        parsed.headers,
        sender,
        parsed.subject,
        own_domains=mail.own_domains,
        own_loop_ids=mail.loop_ids,
    )
    original = parsed.text
    display = strip_quotes(original)
    return Normalized(
        subject=parsed.subject or None,
        original_text=original,
        clean_text=clean_text(display),
        reporter=Reporter(name=parsed.from_name, email=reporter_address),
        attachments=parsed.attachments,
        message_id=parsed.message_id,
        references=parsed.references,
        tracking_refs=tuple(find_tracking_numbers(parsed.subject, tracking_prefix)),
        ignored_reason=reason,
        bounced=bounced_addresses(parsed.message) if parsed.message else (),
    )


def _storable(fields: Normalized) -> Normalized:
    """``fields`` with every text a database must hold made storable."""

    def text(value: str | None) -> str | None:
        return None if value is None else storable(value)

    reporter = fields.reporter
    location = fields.location
    return replace(
        fields,
        subject=text(fields.subject),
        original_text=storable(fields.original_text),
        clean_text=storable(fields.clean_text),
        reporter=Reporter(
            name=text(reporter.name),
            email=text(reporter.email),
            phone=text(reporter.phone),
            handle=text(reporter.handle),
            chat_id=text(reporter.chat_id),
        ),
        attachments=tuple(
            replace(
                a, filename=storable(a.filename), content_type=storable(a.content_type)
            )
            for a in fields.attachments
        ),
        location=replace(location, label=text(location.label))
        if location is not None
        else None,
        message_id=text(fields.message_id),
        references=tuple(storable(r) for r in fields.references),
        tracking_refs=tuple(storable(r) for r in fields.tracking_refs),
        ignored_reason=text(fields.ignored_reason),
        bounced=tuple(storable(b) for b in fields.bounced),
    )
