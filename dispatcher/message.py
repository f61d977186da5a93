"""The one message format every agency sink carries (schema v1).

Documented in ``docs/schema/agency-message.v1.json``. Confidentiality is
applied here, where data leaves Dengar: an ``anonim`` case never carries the
reporter's identity; a ``rahasia`` case carries only what the agency needs to
act (no identity, no source handles, no subject line).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, func, select

from storage.tables import AttachmentRow, ComplaintRow

SCHEMA_ID = "https://dengar.id/schema/agency-message.v1.json"
SCHEMA_VERSION = 1


def idempotency_key(complaint: ComplaintRow, agency_code: str) -> str:
    """The key a receiver sees again if we re-send after a crash."""
    return f"{complaint.tracking_no}/{agency_code}"


def build_message(
    session: Session, complaint: ComplaintRow, agency_code: str, agency_name: str
) -> dict[str, Any]:
    """The agency message for ``complaint``, confidentiality applied."""
    assert complaint.id is not None
    attachments = session.exec(
        select(AttachmentRow).where(AttachmentRow.complaint_id == complaint.id)
    ).all()
    supporters = session.exec(
        select(func.count())
        .select_from(ComplaintRow)
        .where(ComplaintRow.duplicate_of_id == complaint.id)
    ).one()
    follow_ups = session.exec(
        select(ComplaintRow)
        .where(ComplaintRow.follow_up_of_id == complaint.id)
        .order_by(col(ComplaintRow.received_at))
    ).all()
    secret = complaint.confidentiality == "rahasia"
    hidden = complaint.confidentiality in ("anonim", "rahasia")
    location = None
    if complaint.location_lat is not None and complaint.location_lon is not None:
        location = {
            "latitude": complaint.location_lat,
            "longitude": complaint.location_lon,
            "label": complaint.location_label,
        }
    return {
        "$schema": SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "idempotency_key": idempotency_key(complaint, agency_code),
        "dengar_id": complaint.id,
        "tracking_no": complaint.tracking_no,
        "agency": {"code": agency_code, "name": agency_name},
        "status": complaint.status,
        "confidentiality": complaint.confidentiality,
        "channel": complaint.channel,
        "received_at": complaint.received_at.isoformat(),
        "category": complaint.category,
        "region": complaint.region,
        "subject": None if secret else complaint.subject,
        "text": complaint.clean_text,
        "location": location,
        "reporter": None if hidden else _reporter(complaint),
        "attachments": [
            {
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
                "stored": a.stored,
            }
            for a in attachments
        ],
        "follow_ups": [
            {"received_at": f.received_at.isoformat(), "text": f.clean_text}
            for f in follow_ups
        ],
        "supporters": int(supporters),
        "routing_reason": complaint.routing_reason,
    }


def _reporter(complaint: ComplaintRow) -> dict[str, str | None]:
    return {
        "name": complaint.reporter_name,
        "email": complaint.reporter_email,
        "phone": complaint.reporter_phone,
        "handle": complaint.reporter_handle,
    }
