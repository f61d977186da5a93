"""``dengar status`` and ``dengar queue``: what is in the database, as data.

The JSON shape is documented in the README and kept stable: new keys may be
added, existing ones are not renamed or removed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from config.settings import Settings
from dispatcher.message import apply_confidentiality, identity_of, load_supporters
from storage.tables import (
    AgencyQueueRow,
    ChannelLease,
    ChannelState,
    ComplaintRow,
    OutboxRow,
    QuarantineRow,
    utcnow,
)

STATUS_FORMAT_VERSION = 1


def status_report(session: Session, settings: Settings) -> dict[str, Any]:
    """Counts and channel health (see the README, *dengar status --json*)."""
    kinds = _counts(session, ComplaintRow.kind)
    cases_by_status = _counts(session, ComplaintRow.status, ComplaintRow.kind == "case")
    by_agency = _counts(session, ComplaintRow.agency_code, ComplaintRow.kind == "case")
    duplicates = session.exec(
        select(func.count()).where(col(ComplaintRow.duplicate_of_id).is_not(None))
    ).one()
    deliveries = _counts(session, OutboxRow.status, OutboxRow.kind == "agency")
    replies = _counts(session, OutboxRow.status, OutboxRow.kind == "reply")
    quarantined = session.exec(
        select(func.count())
        .select_from(QuarantineRow)
        .where(QuarantineRow.status == "held")
    ).one()
    states = {s.name: s for s in session.exec(select(ChannelState)).all()}
    now = utcnow()
    leases = {
        lease.name: lease
        for lease in session.exec(select(ChannelLease)).all()
        if lease.expires_at > now
    }
    per_channel = _counts(session, ComplaintRow.channel, ComplaintRow.kind == "case")
    channels = []
    for channel in settings.channels:
        state = states.get(channel.name)
        channels.append(
            {
                "name": channel.name,
                "type": channel.type,
                "enabled": channel.enabled,
                "healthy": bool(
                    state is None
                    or (
                        state.disabled_reason is None
                        and state.consecutive_failures == 0
                    )
                ),
                "cases": per_channel.get(channel.name, 0),
                "last_poll_at": _iso(state.last_poll_at if state else None),
                "last_success_at": _iso(state.last_success_at if state else None),
                "last_error": state.last_error if state else None,
                "last_error_at": _iso(state.last_error_at if state else None),
                "consecutive_failures": state.consecutive_failures if state else 0,
                "disabled_reason": state.disabled_reason if state else None,
                "cursor": state.cursor if state else None,
                # with `run --worker`: the worker polling it now, if any
                "polled_by": leases[channel.name].holder
                if channel.name in leases
                else None,
            }
        )
    return {
        "format": STATUS_FORMAT_VERSION,
        "complaints": {
            "cases": kinds.get("case", 0),
            "follow_ups": kinds.get("follow_up", 0),
            "ignored": kinds.get("ignored", 0),
            "duplicates": int(duplicates),
            "quarantined": int(quarantined),
            "by_status": cases_by_status,
        },
        "agencies": [
            {
                "code": agency.code,
                "name": agency.name,
                "sink": agency.sink.type,
                "cases": by_agency.get(agency.code, 0),
            }
            for agency in settings.agencies
        ],
        "deliveries": _states(deliveries),
        "replies": _states(replies),
        "channels": channels,
        "workers": sorted(
            name.removeprefix("worker:")
            for name in leases
            if name.startswith("worker:")
        ),
    }


def cases(session: Session, limit: int = 1000) -> list[dict[str, Any]]:
    """The newest cases, briefly, for ``status --cases``."""
    rows = session.exec(
        select(ComplaintRow)
        .where(ComplaintRow.kind == "case")
        .order_by(col(ComplaintRow.received_at).desc())
        .limit(limit)
    ).all()
    return [case_summary(session, row) for row in rows]


def case_summary(session: Session, row: ComplaintRow) -> dict[str, Any]:
    """One case as a small dict (no reporter identity)."""
    duplicate_of = None
    if row.duplicate_of_id is not None:
        primary = session.get(ComplaintRow, row.duplicate_of_id)
        duplicate_of = primary.tracking_no if primary else None
    return {
        "tracking_no": row.tracking_no,
        "channel": row.channel,
        "received_at": _iso(row.received_at),
        "subject": row.subject,
        "category": row.category,
        "region": row.region,
        "agency": row.agency_code,
        "status": row.status,
        "duplicate_of": duplicate_of,
        "duplicate_score": row.duplicate_score,
    }


# a case in one of these still waits for its agency's work
WAITING_STATUSES = ("received", "verified", "dispatched", "in_progress")


def agency_queue(
    session: Session, code: str, everything: bool = False
) -> list[dict[str, Any]]:
    """The messages in an agency's database queue that still wait for it:
    not acknowledged, and their case still the agency's and open (not
    resolved, rejected, returned as "bukan wewenang" or sent elsewhere),
    under each case's confidentiality of now (a case made anonim after it
    was queued shows no identity, even before its queued copy is rewritten),
    each problem once (a case linked as a duplicate since it was queued is
    its primary's supporter, not an item of its own). ``everything`` lists
    every message ever queued for the agency. Each item has the case's
    current ``status`` and the supporters it has now."""
    statement = (
        select(AgencyQueueRow, ComplaintRow)
        .join(ComplaintRow, col(ComplaintRow.id) == AgencyQueueRow.complaint_id)
        .where(AgencyQueueRow.agency_code == code)
        .order_by(col(AgencyQueueRow.id))
    )
    if not everything:
        statement = statement.where(
            col(AgencyQueueRow.acknowledged_at).is_(None),
            ComplaintRow.agency_code == code,
            col(ComplaintRow.status).in_(WAITING_STATUSES),
            col(ComplaintRow.duplicate_of_id).is_(None),
        )
    found = session.exec(statement).all()
    supporters = load_supporters(session, [c.id for _, c in found if c.id])
    items = []
    for queued, case in found:
        item = apply_confidentiality(
            json.loads(queued.message), case.confidentiality, identity_of(case)
        )
        item["status"] = case.status
        mine = supporters.get(case.id or 0, [])
        item["supporters"] = len(mine)
        item["supporter_reports"] = [s.as_json() for s in mine]
        items.append(item)
    return items


def _counts(session: Session, column: Any, *where: Any) -> dict[str, int]:
    statement = select(column, func.count()).group_by(column)
    if where:
        statement = statement.where(*where)
    return {
        str(key): int(count)
        for key, count in session.exec(statement).all()
        if key is not None
    }


def _states(counts: dict[str, int]) -> dict[str, int]:
    names: Iterable[str] = ("pending", "in_flight", "delivered", "dead", "skipped")
    return {name: counts.get(name, 0) for name in names}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
