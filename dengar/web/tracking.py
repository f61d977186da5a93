"""What the public tracking page shows of a case, and nothing more.

Anyone who has a tracking number may read, without logging in, how the case
went: each status with its local time, the agency that holds it, and the
messages addressed to the reporters. Never the reporter's identity, the
complaint text, internal notes (``StatusEvent.note``), staff notes, who made a
change, or another reporter's number. A ``rahasia`` case shows only its
statuses. Messages are masked as for an anonymous case (personal data and the
reporter's name), whatever the case's confidentiality: the number may have
been seen by someone else over the reporter's shoulder.

A number that is unknown and a text that is no number at all get the same
answer, after the same database lookup, so the page tells nobody which
numbers exist.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session, and_, col, or_, select

from contracts.tracking import canonical
from dispatcher.notify import STATUS_LABELS as CITIZEN_STATUS_LABELS
from dispatcher.privacy import mask_pii
from storage.tables import ComplaintRow, StatusEvent

# a key no stored case can have (tracking numbers are ASCII): a malformed
# number is still looked up, so it costs what an unknown one costs
_NO_SUCH_NUMBER = "\x00"
MAX_INPUT = 64  # longer than any tracking number, with spaces and typos


@dataclass(frozen=True)
class PublicEvent:
    """One step of a case as the public reads it."""

    at: datetime
    status: str
    label: str
    message: str | None


@dataclass(frozen=True)
class PublicCase:
    """A case as the tracking page shows it."""

    number: str
    status: str
    label: str
    received_at: datetime
    agency: str | None
    secret: bool  # rahasia: statuses only
    merged: bool  # joined to an earlier report of the same problem
    events: list[PublicEvent] = field(default_factory=list)
    # when it happened, as the citizen said on the web form (not rahasia)
    incident_date: date | None = None


def citizen_status(code: str) -> str:
    """The status as a citizen reads it ("dispatched" → "diteruskan ke instansi")."""
    return CITIZEN_STATUS_LABELS.get(code, code)


def find_public_case(
    session: Session, text: str, prefix: str, agency_names: dict[str, str]
) -> PublicCase | None:
    """The case the citizen's ``text`` names, as the public may see it; None
    for an unknown number and for text that is no tracking number alike."""
    number = canonical(text[:MAX_INPUT], prefix) if text else None
    row = session.exec(
        select(ComplaintRow).where(
            ComplaintRow.tracking_no == (number or _NO_SUCH_NUMBER),
            ComplaintRow.kind == "case",
        )
    ).first()
    if row is None or row.id is None or row.status == "dismissed":
        # a dismissed item was never a case for the citizen: as unknown
        return None
    return _public(session, row, agency_names)


def _public(
    session: Session, row: ComplaintRow, agency_names: dict[str, str]
) -> PublicCase:
    main = row
    if row.duplicate_of_id is not None:
        # the reporter is told about the case their report was joined to
        # (status.recipients does the same); its number stays hidden
        main = session.get(ComplaintRow, row.duplicate_of_id) or row
    secret = "rahasia" in (row.confidentiality, main.confidentiality)
    identity = _identities(session, row, main)
    events = _events(session, row, main, identity, secret)
    agency = None
    if main.agency_code and not secret:
        agency = agency_names.get(main.agency_code, main.agency_code)
    return PublicCase(
        number=row.tracking_no or "",
        status=main.status,
        label=citizen_status(main.status),
        received_at=row.received_at,
        agency=agency,
        secret=secret,
        merged=main is not row,
        events=events,
        incident_date=None if secret else incident_date(row),
    )


def incident_date(row: ComplaintRow) -> date | None:
    """The day the problem happened, as the citizen gave it on the web form
    (kept in the record's extras as ``incident_date``); None if not given."""
    if not row.extra:
        return None
    try:
        value = json.loads(row.extra).get("incident_date")
        return date.fromisoformat(value) if isinstance(value, str) else None
    except (ValueError, AttributeError):
        return None


def _identities(
    session: Session, row: ComplaintRow, main: ComplaintRow
) -> list[str | None]:
    """Names and addresses of everyone who reported on the case: a message
    that greets one of them by name must not show it."""
    ids = [r for r in {row.id, main.id} if r is not None]
    rows = session.exec(
        select(ComplaintRow).where(
            col(ComplaintRow.id).in_(ids)
            | col(ComplaintRow.duplicate_of_id).in_(ids)
            | col(ComplaintRow.follow_up_of_id).in_(ids)
        )
    ).all()
    found: list[str | None] = []
    for other in rows:
        found += [
            other.reporter_name,
            other.reporter_email,
            other.reporter_handle,
            other.reporter_phone,
        ]
    return found


def _events(
    session: Session,
    row: ComplaintRow,
    main: ComplaintRow,
    identity: list[str | None],
    secret: bool,
) -> list[PublicEvent]:
    """The status steps, oldest first: the row's own, then (for a joined
    report) the main case's from when this report arrived. A repeated status
    without a message (an internal note, an edit) is left out."""
    query = select(StatusEvent).where(StatusEvent.complaint_id == row.id)
    if main is not row:
        query = select(StatusEvent).where(
            or_(
                col(StatusEvent.complaint_id) == row.id,
                and_(
                    col(StatusEvent.complaint_id) == main.id,
                    col(StatusEvent.created_at) >= row.received_at,
                ),
            )
        )
    stored = session.exec(
        query.order_by(col(StatusEvent.created_at), col(StatusEvent.id))
    ).all()
    out: list[PublicEvent] = [
        PublicEvent(row.received_at, "received", citizen_status("received"), None)
    ]
    for event in stored:
        if event.status == "dismissed":
            continue
        message = None
        if event.message and not secret:
            message = mask_pii(event.message, identity)
        if event.status == out[-1].status and message is None:
            continue
        out.append(
            PublicEvent(
                event.created_at, event.status, citizen_status(event.status), message
            )
        )
    return out
