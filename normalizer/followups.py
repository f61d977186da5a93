"""Which case a new message continues, if any (DESIGN.md, dedupe: thread).

Checked in order: an edit of an earlier message; a reply to a stored message
or to something we sent; a tracking number of ours in the subject; the same
Telegram album; a chat message within the session window of the chat's
newest case (unless the citizen asked for a new case with /baru).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, col, select

from contracts.records import InboundMessage
from normalizer.content import complaint_words
from normalizer.normalize import Normalized
from storage.tables import AttachmentRow, ComplaintRow, OutboxRow


@dataclass(frozen=True, slots=True)
class Thread:
    """The case a message belongs to, and the rule that said so."""

    case: ComplaintRow
    reason: str
    edit_of: ComplaintRow | None = None


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
) -> Thread | None:
    """The case ``item`` continues, or None for a new case. A record that is
    no case (a greeting kept as ignored, a command) is nothing to continue:
    a reply to our how-to answer, or an edit of a greeting, is a new case."""
    thread = _thread(session, item, fields, session_minutes)
    if thread is None or thread.case.kind != "case":
        return None
    return thread


def _thread(
    session: Session,
    item: InboundMessage,
    fields: Normalized,
    session_minutes: float,
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
    if session_minutes > 0 and chat:
        return _session_case(session, item, chat, session_minutes)
    return None


def _session_case(
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
    if latest.kind == "ignored" and (latest.ignored_reason or "") == "command /baru":
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
