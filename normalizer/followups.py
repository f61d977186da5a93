"""Which case a new message continues, if any (DESIGN.md, dedupe: thread).

Checked in order: an edit of an earlier message; a reply to a stored message
or to something we sent; a tracking number of ours in the subject; the same
Telegram album; an answer, from the same phone number, to a WhatsApp
template we sent for a web-form case; a chat message within the session
window of the chat's newest case (unless the citizen asked for a new case
with /baru).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from contracts.records import InboundMessage, Location
from normalizer.content import complaint_words
from normalizer.ignored import asked_for_new_case
from normalizer.normalize import Normalized
from storage.tables import AttachmentRow, ComplaintRow, OutboxRow

# How long after a WhatsApp template to a number left on the web form a
# message from that number, quoting nothing, still answers it: a day, like
# Meta's own windows, time enough to read and answer a notification; later,
# a message is a new conversation (a quoted reply still joins the case).
TEMPLATE_ANSWER_WINDOW = timedelta(hours=24)
# Meta stamps messages in whole seconds by its clock; our send is stamped
# after Meta answered it, by ours
CLOCK_LEEWAY = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Thread:
    """The case a message belongs to, and the rule that said so."""

    case: ComplaintRow
    reason: str
    edit_of: ComplaintRow | None = None


def add_to_case(
    case: ComplaintRow,
    fields: Normalized,
    *,
    edit: bool,
    region_of: Callable[[str, Location], str | None] | None = None,
) -> None:
    """What a follow-up changes in its case: a place when the case has none
    (and with it the case's region, by ``region_of``, when it has none: the
    answer to "where is it?"; its agency stays as routed, staff reroute if
    needed), the reporter's phone number when the case has none, and, when
    a photo or a place opened the case, the first words that describe it
    (``edit``: the follow-up is an edit, whose text replaces the edited one
    elsewhere: ``dengar.case_edits``)."""
    if fields.location and case.location_lat is None:
        case.location_lat = fields.location.latitude
        case.location_lon = fields.location.longitude
        case.location_label = fields.location.label
        if case.region is None and region_of is not None:
            text = "\n".join(filter(None, (case.subject, case.clean_text)))
            case.region = region_of(text, fields.location)
    if fields.reporter.phone and not case.reporter_phone:
        case.reporter_phone = fields.reporter.phone
    if not edit and not case.clean_text and fields.clean_text:
        case.clean_text = fields.clean_text
        case.original_text = fields.original_text


def case_of(session: Session, row: ComplaintRow) -> ComplaintRow:
    """The case a record belongs to (itself for a case)."""
    if row.follow_up_of_id is not None:
        parent = session.get(ComplaintRow, row.follow_up_of_id)
        if parent is not None:
            return parent
    return row


def find_thread(
    session: Session,
    item: InboundMessage,
    fields: Normalized,
    session_minutes: float = 0,
    template_senders: Sequence[str] = (),
) -> Thread | None:
    """The case ``item`` continues, or None for a new case. A record that is
    no case (a greeting kept as ignored, a command) is nothing to continue:
    a reply to our how-to answer, or an edit of a greeting, is a new case.
    ``template_senders``: the web forms whose citizens' WhatsApp numbers
    ``item``'s channel sends templates to (see :func:`_template_answer`)."""
    thread = _thread(session, item, fields, session_minutes, template_senders)
    if thread is None or thread.case.kind != "case":
        return None
    return thread


def _thread(
    session: Session,
    item: InboundMessage,
    fields: Normalized,
    session_minutes: float,
    template_senders: Sequence[str],
) -> Thread | None:
    # an edit first: it repeats its original's fields (the message it
    # answered, its album), which would make it a plain follow-up
    if item.edit_of:
        original = session.exec(
            select(ComplaintRow).where(
                ComplaintRow.channel == item.channel,
                ComplaintRow.external_id == item.edit_of,
            )
        ).first()
        if original is not None:
            return Thread(case_of(session, original), "edit", edit_of=original)
    for ref in fields.references:
        stored = session.exec(
            select(ComplaintRow).where(ComplaintRow.message_id == ref)
        ).first()
        if stored is not None:
            return Thread(case_of(session, stored), f"reply to {ref}")
        sent = session.exec(select(OutboxRow).where(OutboxRow.remote_id == ref)).first()
        if sent is not None:
            case = session.get(ComplaintRow, sent.complaint_id)
            if case is not None:
                return Thread(case_of(session, case), f"reply to our message {ref}")
    for number in fields.tracking_refs:
        case = session.exec(
            select(ComplaintRow).where(ComplaintRow.tracking_no == number)
        ).first()
        if case is not None:
            return Thread(case, f"tracking number {number} in the subject")
    group = item.media_group_id
    if group:
        # the album id is kept in the stored record's extras
        marker = json.dumps({"media_group_id": group})[1:-1]
        stored = session.exec(
            select(ComplaintRow).where(
                ComplaintRow.channel == item.channel,
                col(ComplaintRow.extra).contains(marker),
            )
        ).first()
        if stored is not None:
            return Thread(case_of(session, stored), f"same album {group}")
    chat = fields.reporter.chat_id
    phone = fields.reporter.phone
    if template_senders and phone and chat:
        answer = _template_answer(session, item, chat, phone, template_senders)
        if answer is not None:
            return answer
    if session_minutes > 0 and chat:
        return _session_case(session, item, chat, session_minutes)
    return None


def _template_answer(
    session: Session,
    item: InboundMessage,
    chat: str,
    phone: str,
    forms: Sequence[str],
) -> Thread | None:
    """The web-form case whose WhatsApp template (acknowledgement or status
    update) a message answers without quoting it: a citizen who left
    ``phone`` on a form of ``forms`` and types a reply to what reached that
    phone. It must come from that very number (WhatsApp's ``wa_id``; a
    message without one cannot be matched) within
    :data:`TEMPLATE_ANSWER_WINDOW` of the template; with several form cases
    of the number, the one we sent a template for last. Not when the chat
    has moved on since the template: a WhatsApp case of its own, a reply
    to another case, or /baru; the session rule decides then."""
    sent = session.exec(
        select(OutboxRow)
        .where(
            OutboxRow.kind == "reply",
            col(OutboxRow.target).in_(list(forms)),
            OutboxRow.recipient == phone,
            col(OutboxRow.remote_id).is_not(None),
            col(OutboxRow.delivered_at) >= item.received_at - TEMPLATE_ANSWER_WINDOW,
            col(OutboxRow.delivered_at) <= item.received_at + CLOCK_LEEWAY,
            # a template that never reached the phone was not read
            col(OutboxRow.remote_status).is_distinct_from("failed"),
        )
        .order_by(col(OutboxRow.delivered_at).desc(), col(OutboxRow.id).desc())
    ).first()
    if sent is None or sent.delivered_at is None:
        return None
    case = session.get(ComplaintRow, sent.complaint_id)
    if case is None or case.kind != "case":
        return None
    newer = _last_turn_since(session, item.channel, chat, sent.delivered_at)
    if newer is not None and case_of(session, newer).id != case.id:
        return None
    return Thread(case, f"answer to our WhatsApp template {sent.remote_id}")


def _last_turn_since(
    session: Session, channel: str, chat: str, since: datetime
) -> ComplaintRow | None:
    """The chat's newest record after ``since`` that says which case it is
    in: a case, a follow-up or /baru (commands and greetings kept as
    ignored say nothing about it)."""
    rows = session.exec(
        select(ComplaintRow)
        .where(
            ComplaintRow.channel == channel,
            ComplaintRow.reporter_chat_id == chat,
            col(ComplaintRow.received_at) > since,
        )
        .order_by(col(ComplaintRow.received_at).desc(), col(ComplaintRow.id).desc())
    )
    for row in rows:
        if row.kind != "ignored" or asked_for_new_case(row.kind, row.ignored_reason):
            return row
    return None


def _session_case(
    session: Session, item: InboundMessage, chat: str, minutes: float
) -> Thread | None:
    # Only pending records and files can change what these queries find:
    # flush those, not the rest (an autoflush here wrote the previous
    # message's outbox rows on their own, a flush per message of a batch,
    # instead of all at once when the batch commits).
    if _records_pending(session):
        session.flush()
    with session.no_autoflush:
        return _session_case_found(session, item, chat, minutes)


def _records_pending(session: Session) -> bool:
    kinds = (ComplaintRow, AttachmentRow)
    return any(
        isinstance(row, kinds)
        for pending in (session.new, session.dirty, session.deleted)
        for row in pending
    )


def _session_case_found(
    session: Session, item: InboundMessage, chat: str, minutes: float
) -> Thread | None:
    latest = session.exec(
        select(ComplaintRow)
        .where(
            ComplaintRow.channel == item.channel,
            ComplaintRow.reporter_chat_id == chat,
        )
        .order_by(col(ComplaintRow.received_at).desc(), col(ComplaintRow.id).desc())
    ).first()
    if latest is None:
        return None
    if asked_for_new_case(latest.kind, latest.ignored_reason):
        return None
    if item.received_at - latest.received_at > timedelta(minutes=minutes):
        return None
    case = case_of(session, latest) if latest.kind != "ignored" else None
    if case is None or case.kind != "case":
        # the latest record is a command or hint: look for the chat's last case
        case = session.exec(
            select(ComplaintRow)
            .where(
                ComplaintRow.channel == item.channel,
                ComplaintRow.reporter_chat_id == chat,
                ComplaintRow.kind == "case",
            )
            .order_by(col(ComplaintRow.received_at).desc())
        ).first()
        if case is None or item.received_at - case.received_at > timedelta(
            minutes=minutes
        ):
            return None
    if says_nothing_stored(session, case):
        # a greeting stored as a case (before such messages were ignored)
        # is no case to continue: the first real complaint opens its own
        return None
    return Thread(case, f"same chat within {minutes:g} minutes")


def says_nothing_stored(session: Session, case: ComplaintRow) -> bool:
    """True when a stored case has no complaint content: no location, no
    shared phone number, no file and no
    :func:`normalizer.content.complaint_words` in its text."""
    if case.location_lat is not None or case.reporter_phone:
        return False
    if complaint_words(case.subject, case.clean_text, case.reporter_name):
        return False
    files = session.exec(
        select(AttachmentRow.id).where(AttachmentRow.complaint_id == case.id).limit(1)
    ).first()
    return files is None
