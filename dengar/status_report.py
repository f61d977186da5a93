"""``dengar status`` and ``dengar queue``: what is in the database, as data.

The JSON shape is documented in the README and kept stable: new keys may be
added, existing ones are not renamed or removed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from storage.quick_read import DbapiReader, SessionReader, SqlReader, as_utc

if TYPE_CHECKING:
    from sqlmodel import Session

    from config.settings import Settings

STATUS_FORMAT_VERSION = 1

# Plain SQL, no parameters: ``dengar status`` runs it through the bare
# database driver (storage.quick_read) to start fast, the web pages through
# their session. The names are those of storage/tables.py.
_CASE = "kind = 'case'"


def status_report(db: SqlReader | Session, settings: Settings) -> dict[str, Any]:
    """Counts and channel health (see the README, *dengar status --json*)."""
    reader = _reader(db)
    kinds = _counts(reader, "complaint", "kind")
    cases_by_status = _counts(reader, "complaint", "status", _CASE)
    by_agency = _counts(reader, "complaint", "agency_code", _CASE)
    per_channel = _counts(reader, "complaint", "channel", _CASE)
    [(duplicates,)] = reader.rows(
        "SELECT count(*) FROM complaint WHERE duplicate_of_id IS NOT NULL"
    )
    deliveries = _counts(reader, "outbox", "status", "kind = 'agency'")
    replies = _counts(reader, "outbox", "status", "kind = 'reply'")
    [(quarantined,)] = reader.rows(
        "SELECT count(*) FROM quarantine WHERE status = 'held'"
    )
    states = {
        row[0]: row
        for row in reader.rows(
            "SELECT name, disabled_reason, consecutive_failures, last_poll_at, "
            "last_success_at, last_error, last_error_at, cursor FROM channel_state"
        )
    }
    now = datetime.now(UTC)
    leases = {
        name: holder
        for name, holder, expires_at in reader.rows(
            "SELECT name, holder, expires_at FROM channel_lease"
        )
        if (as_utc(expires_at) or now) > now
    }
    channels = []
    for channel in settings.channels:
        state = states.get(channel.name)
        _, disabled, failures, polled, succeeded, error, failed, cursor = state or (
            (None,) * 8
        )
        channels.append(
            {
                "name": channel.name,
                "type": channel.type,
                "enabled": channel.enabled,
                "healthy": disabled is None and not failures,
                "cases": per_channel.get(channel.name, 0),
                "last_poll_at": _iso(polled),
                "last_success_at": _iso(succeeded),
                "last_error": error,
                "last_error_at": _iso(failed),
                "consecutive_failures": int(failures or 0),
                "disabled_reason": disabled,
                "cursor": cursor,
                # with `run --worker`: the worker polling it now, if any
                "polled_by": leases.get(channel.name),
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


def cases(db: SqlReader | Session, limit: int = 1000) -> list[dict[str, Any]]:
    """The newest cases, briefly (no reporter identity), for ``status --cases``."""
    rows = _reader(db).rows(
        "SELECT c.tracking_no, c.channel, c.received_at, c.subject, c.category, "
        "c.region, c.agency_code, c.status, p.tracking_no, c.duplicate_score "
        "FROM complaint c LEFT JOIN complaint p ON p.id = c.duplicate_of_id "
        f"WHERE c.{_CASE} ORDER BY c.received_at DESC, c.id DESC LIMIT {int(limit)}"
    )
    return [
        {
            "tracking_no": tracking_no,
            "channel": channel,
            "received_at": _iso(received_at),
            "subject": subject,
            "category": category,
            "region": region,
            "agency": agency,
            "status": status,
            "duplicate_of": duplicate_of,
            "duplicate_score": score,
        }
        for (
            tracking_no,
            channel,
            received_at,
            subject,
            category,
            region,
            agency,
            status,
            duplicate_of,
            score,
        ) in rows
    ]


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
    # here, not at the top: `dengar status` imports this module and must not
    # pay for SQLAlchemy's ORM (bench/cli.py)
    from sqlmodel import col, select

    from dispatcher.message import apply_confidentiality, identity_of, load_supporters
    from storage.tables import AgencyQueueRow, ComplaintRow

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


def _reader(db: SqlReader | Session) -> SqlReader:
    if isinstance(db, DbapiReader | SessionReader):
        return db
    return SessionReader(db)  # type: ignore[arg-type]


def _counts(
    reader: SqlReader, table: str, column: str, where: str = ""
) -> dict[str, int]:
    condition = f" WHERE {where}" if where else ""
    return {
        str(key): int(count)
        for key, count in reader.rows(
            f"SELECT {column}, count(*) FROM {table}{condition} GROUP BY {column}"
        )
        if key is not None
    }


def _states(counts: dict[str, int]) -> dict[str, int]:
    names: Iterable[str] = ("pending", "in_flight", "delivered", "dead", "skipped")
    return {name: counts.get(name, 0) for name in names}


def _iso(value: datetime | str | None) -> str | None:
    moment = as_utc(value)
    return moment.isoformat() if moment else None
