"""Queries behind the pages and the API: finding a visible case, its
thread, its history, and the filtered intake list."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from contracts.tracking import canonical
from dengar.sla import SlaClock, SlaPolicy
from dengar.web.access import can_see, case_of, visible_filter
from dengar.web.auth import Principal
from storage.tables import (
    AttachmentRow,
    ComplaintRow,
    OutboxRow,
    StaffNote,
    StatusEvent,
    utcnow,
)
from storage.types import row_id


def find_visible_case(
    session: Session, principal: Principal, ref: str, prefix: str
) -> ComplaintRow | None:
    """The case with tracking number (or, for staff, numeric id) ``ref`` if
    ``principal`` may see it. A case of another agency is "not found", so its
    existence does not leak."""
    row: ComplaintRow | None = None
    text = ref.strip()
    if text.isdigit() and principal.is_staff:
        number_id = row_id(text)
        row = session.get(ComplaintRow, number_id) if number_id else None
    else:
        number = canonical(text, prefix)
        if number is not None:
            row = session.exec(
                select(ComplaintRow).where(ComplaintRow.tracking_no == number)
            ).first()
    if row is None or row.kind != "case" or not can_see(principal, row):
        return None
    return row


def last_change(session: Session, ids: list[int]) -> dict[int, datetime]:
    """The time of each case's latest status event."""
    if not ids:
        return {}
    rows = session.exec(
        select(StatusEvent.complaint_id, func.max(StatusEvent.created_at))
        .where(col(StatusEvent.complaint_id).in_(ids))
        .group_by(col(StatusEvent.complaint_id))
    ).all()
    return {cid: at for cid, at in rows if at is not None}


def clocks(
    session: Session, policy: SlaPolicy, cases: list[ComplaintRow], now: datetime
) -> dict[int, SlaClock]:
    """The running SLA clock of each case that has one."""
    since = last_change(session, [c.id for c in cases if c.id is not None])
    result: dict[int, SlaClock] = {}
    for case in cases:
        assert case.id is not None
        if case.duplicate_of_id is not None:
            continue  # it follows its primary: the primary's clock counts
        # verification is due from receipt whatever else happened meanwhile;
        # the other clocks run from the change into the current status
        start = (
            case.received_at
            if case.status == "received"
            else since.get(case.id, case.received_at)
        )
        clock = policy.clock(case.status, start, now)
        if clock is not None:
            result[case.id] = clock
    return result


@dataclass
class Filters:
    """The intake list's filters, from the query string."""

    channel: str = ""
    status: str = ""
    agency: str = ""
    category: str = ""
    region: str = ""
    date_from: str = ""
    date_to: str = ""
    q: str = ""
    page: int = 1
    errors: list[str] = field(default_factory=list)

    def query_string(self, **override: Any) -> str:
        """The filters as a query string, with some values replaced."""
        from urllib.parse import urlencode

        values = {
            "channel": self.channel,
            "status": self.status,
            "agency": self.agency,
            "category": self.category,
            "region": self.region,
            "date_from": self.date_from,
            "date_to": self.date_to,
            "q": self.q,
            "page": self.page,
        }
        values.update(override)
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})


def _day(text: str, errors: list[str], label: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.append(f"Tanggal {label} tidak valid: {text!r} (format YYYY-MM-DD).")
        return None


def list_cases(
    session: Session,
    principal: Principal,
    filters: Filters,
    page_size: int,
    policy: SlaPolicy,
) -> tuple[list[ComplaintRow], int]:
    """One page of visible cases matching ``filters``, newest first, and the
    total count."""
    where = [col(ComplaintRow.kind) == "case", visible_filter(principal)]
    if not principal.is_staff:
        # an agency sees a problem once: its duplicates are the primary's
        # supporters, not cases of their own
        where.append(col(ComplaintRow.duplicate_of_id).is_(None))
    for column, value in (
        (ComplaintRow.channel, filters.channel),
        (ComplaintRow.status, filters.status),
        (ComplaintRow.category, filters.category),
        (ComplaintRow.region, filters.region),
    ):
        if value:
            where.append(col(column) == value)
    if filters.agency == "-":
        where.append(col(ComplaintRow.agency_code).is_(None))
    elif filters.agency:
        where.append(col(ComplaintRow.agency_code) == filters.agency)
    start = _day(filters.date_from, filters.errors, "dari")
    end = _day(filters.date_to, filters.errors, "sampai")
    if start is not None:
        begin = datetime.combine(start, time.min, tzinfo=policy.zone)
        where.append(col(ComplaintRow.received_at) >= begin)
    if end is not None:
        stop = datetime.combine(end + timedelta(days=1), time.min, tzinfo=policy.zone)
        where.append(col(ComplaintRow.received_at) < stop)
    if filters.q.strip():
        term = filters.q.strip()
        pattern = "%" + term.replace("%", r"\%").replace("_", r"\_") + "%"
        conditions = [
            col(ComplaintRow.original_text).ilike(pattern, escape="\\"),
            col(ComplaintRow.subject).ilike(pattern, escape="\\"),
            col(ComplaintRow.tracking_no).ilike(pattern, escape="\\"),
        ]
        where.append(or_(*conditions))
    total = session.exec(
        select(func.count()).select_from(ComplaintRow).where(*where)
    ).one()
    page = max(filters.page, 1)
    rows = session.exec(
        select(ComplaintRow)
        .where(*where)
        .order_by(col(ComplaintRow.received_at).desc(), col(ComplaintRow.id).desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return list(rows), int(total)


def distinct_values(session: Session, column: Any) -> list[str]:
    """The values a filter can take, for its drop-down."""
    rows = session.exec(
        select(column).where(col(ComplaintRow.kind) == "case").distinct()
    ).all()
    return sorted(str(v) for v in rows if v)


@dataclass
class CaseDetail:
    """Everything a case page (or the API's case) shows."""

    case: ComplaintRow
    follow_ups: list[ComplaintRow]
    duplicates: list[ComplaintRow]
    primary: ComplaintRow | None
    attachments: dict[int, list[AttachmentRow]]
    events: list[StatusEvent]
    deliveries: list[OutboxRow]
    notes: list[StaffNote]


def case_detail(
    session: Session, principal: Principal, case: ComplaintRow
) -> CaseDetail:
    """Load ``case``'s thread, duplicates (those ``principal`` may see),
    attachments, history, deliveries and notes."""
    follow_ups = list(
        session.exec(
            select(ComplaintRow)
            .where(ComplaintRow.follow_up_of_id == case.id)
            .order_by(col(ComplaintRow.received_at))
        ).all()
    )
    duplicates = [
        d
        for d in session.exec(
            select(ComplaintRow)
            .where(ComplaintRow.duplicate_of_id == case.id)
            .order_by(col(ComplaintRow.received_at))
        ).all()
        if can_see(principal, d)
    ]
    primary = None
    if case.duplicate_of_id is not None:
        candidate = session.get(ComplaintRow, case.duplicate_of_id)
        if candidate is not None and can_see(principal, candidate):
            primary = candidate
    ids = [r.id for r in [case, *follow_ups] if r.id is not None]
    attachments: dict[int, list[AttachmentRow]] = {}
    for att in session.exec(
        select(AttachmentRow)
        .where(col(AttachmentRow.complaint_id).in_(ids))
        .order_by(col(AttachmentRow.id))
    ).all():
        attachments.setdefault(att.complaint_id, []).append(att)
    events = list(
        session.exec(
            select(StatusEvent)
            .where(StatusEvent.complaint_id == case.id)
            .order_by(col(StatusEvent.created_at), col(StatusEvent.id))
        ).all()
    )
    deliveries = list(
        session.exec(
            select(OutboxRow)
            .where(OutboxRow.complaint_id == case.id)
            .order_by(col(OutboxRow.created_at), col(OutboxRow.id))
        ).all()
    )
    notes = list(
        session.exec(
            select(StaffNote)
            .where(StaffNote.complaint_id == case.id)
            .order_by(col(StaffNote.created_at))
        ).all()
    )
    return CaseDetail(
        case, follow_ups, duplicates, primary, attachments, events, deliveries, notes
    )


def visible_attachment(
    session: Session, principal: Principal, attachment_id: int
) -> AttachmentRow | None:
    """The attachment if ``principal`` may see the case it belongs to."""
    if row_id(attachment_id) is None:
        return None  # no row has it (and the database could not compare it)
    att = session.get(AttachmentRow, attachment_id)
    if att is None:
        return None
    owner = session.get(ComplaintRow, att.complaint_id)
    if owner is None or not can_see(principal, case_of(session, owner)):
        return None
    return att


def now() -> datetime:
    """The current time (UTC); one place so pages agree."""
    return utcnow()
