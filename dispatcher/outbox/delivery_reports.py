"""Delivery reports of sent replies onto their outbox rows.

A remote that tells later what became of a message (WhatsApp's
``statuses[]``) hands us ``DeliveryReport``s with the fetched batch; they
are written in the batch's transaction. States only move forward (sent →
delivered → read), because Meta does not promise their order; ``failed``
always wins. A failure the remote says can be cured by another form
(WhatsApp 131047, the 24-hour window closed) puts the row back in the
queue, where the channel now sends its template.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlmodel import Session, col, select

from contracts.records import DeliveryReport
from storage.tables import OutboxRow, utcnow

_ORDER = {"sent": 1, "delivered": 2, "read": 3, "failed": 4}
PENDING = "pending"


def apply_delivery_reports(
    session: Session,
    channel: str,
    reports: Iterable[DeliveryReport],
    sent_for: Iterable[str] = (),
) -> int:
    """Update the reply rows of ``channel`` the reports are about, and of
    the channels ``channel`` sends for (``sent_for``: the web form, whose
    numbers a WhatsApp channel sends templates to); returns how many rows
    changed. Reports of unknown messages are ignored (a message sent by hand
    in WhatsApp Manager, or a row already purged)."""
    by_id: dict[str, list[DeliveryReport]] = {}
    for report in reports:
        by_id.setdefault(report.remote_id, []).append(report)
    if not by_id:
        return 0
    rows = session.exec(
        select(OutboxRow).where(
            OutboxRow.kind == "reply",
            col(OutboxRow.target).in_([channel, *sent_for]),
            col(OutboxRow.remote_id).in_(list(by_id)),
        )
    ).all()
    changed = 0
    for row in rows:
        assert row.remote_id is not None
        for report in sorted(by_id[row.remote_id], key=lambda r: r.at):
            if _apply(row, report):
                changed += 1
        session.add(row)
    return changed


def _apply(row: OutboxRow, report: DeliveryReport) -> bool:
    now_rank = _ORDER.get(row.remote_status or "", 0)
    new_rank = _ORDER.get(report.state, 0)
    if new_rank == 0 or (new_rank <= now_rank and report.state != "failed"):
        return False
    row.remote_status = report.state
    if report.state == "failed":
        row.last_error = report.detail or "ditolak oleh layanan pesan"
        if report.resend:
            # sent again under the same idempotency key, marked so that
            # the channel uses its template even after a restart
            payload = json.loads(row.payload or "{}")
            payload["window_closed"] = True
            row.payload = json.dumps(payload, ensure_ascii=False)
            row.status = PENDING
            row.next_attempt_at = utcnow()
            row.remote_id = None
            row.remote_status = None
            row.delivered_at = None
    return True
