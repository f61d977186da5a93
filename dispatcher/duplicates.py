"""Linked duplicates follow their primary case.

A duplicate (``duplicate_of_id`` set) is one more report of a problem the
agency already has: it keeps its tracking number and its reporter hears
every change, but it has no life of its own until staff unlink it. Its
status and agency are the primary's, changed with the primary's and
recorded in its own history; no SLA clock runs on it; nobody acts on it
separately (``dispatcher.status`` refuses a change, or applies an agency's
to the primary); and the agency sees it only as a supporter of the primary.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from storage.tables import ComplaintRow, StatusEvent, utcnow


def primary_case(session: Session, case: ComplaintRow) -> ComplaintRow | None:
    """The primary ``case`` is a duplicate of (following a chain a manual
    link may have left); None when ``case`` is no duplicate."""
    if case.duplicate_of_id is None:
        return None
    seen = {case.id}
    current = session.get(ComplaintRow, case.duplicate_of_id)
    while current is not None and current.duplicate_of_id is not None:
        if current.id in seen:  # a cycle written by hand: stop at the start
            break
        seen.add(current.id)
        current = session.get(ComplaintRow, current.duplicate_of_id)
    return current


def follow_primary(
    session: Session,
    duplicate: ComplaintRow,
    primary: ComplaintRow,
    actor: str,
    note: str | None = None,
) -> bool:
    """Give ``duplicate`` the status and agency of ``primary``, with a history
    entry; False when it had them already. Does not notify: the primary's
    change tells the duplicate's reporter (see ``status.recipients``)."""
    if (duplicate.status, duplicate.agency_code) == (
        primary.status,
        primary.agency_code,
    ):
        return False
    assert duplicate.id is not None
    duplicate.status = primary.status
    duplicate.agency_code = primary.agency_code
    followed = f"mengikuti pengaduan utama {primary.tracking_no or primary.id}"
    session.add(duplicate)
    session.add(
        StatusEvent(
            complaint_id=duplicate.id,
            status=primary.status,
            note=f"{followed}: {note}" if note else followed,
            actor=actor,
            created_at=utcnow(),
        )
    )
    return True


def sync_duplicates(
    session: Session, primary: ComplaintRow, actor: str, note: str | None = None
) -> list[ComplaintRow]:
    """Make every duplicate linked to ``primary`` follow it (after a change
    of the primary's status or agency); the duplicates that changed."""
    duplicates = session.exec(
        select(ComplaintRow)
        .where(
            ComplaintRow.duplicate_of_id == primary.id,
            ComplaintRow.kind == "case",
        )
        .order_by(col(ComplaintRow.received_at), col(ComplaintRow.id))
    ).all()
    return [d for d in duplicates if follow_primary(session, d, primary, actor, note)]
