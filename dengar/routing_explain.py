"""Why a case went where it went (``dengar routing explain``): the rule, the
model with its confidence and words, or the default agency, then any staff
decision that changed it, and what the routing would decide today."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, col, or_, select

from dispatcher.routing import Router
from dispatcher.routing_store import DECISION_NOTES, SYSTEM_ACTOR, routing_text
from storage.tables import ComplaintRow, StatusEvent


def explanation(session: Session, row: ComplaintRow, router: Router) -> dict[str, Any]:
    """What ``routing explain`` prints, as data."""
    detail = _detail(row.routing_detail)
    now = router.route(
        routing_text(row.subject, row.clean_text), row.category, row.region
    )
    return {
        "tracking_no": row.tracking_no,
        "status": row.status,
        "agency": row.agency_code,
        "category": row.category,
        "region": row.region,
        "reason": row.routing_reason,
        "decided_by": detail.get("method"),
        "detail": detail,
        "summary": summary(detail, row.routing_reason),
        "staff_decisions": _staff_decisions(session, row),
        "now": {
            "agency": now.agency_code,
            "method": now.method,
            "triage": now.to_triage,
            "reason": now.reason,
        },
    }


def summary(detail: dict[str, Any], reason: str | None) -> str:
    """One sentence on how the routing decided, from the stored detail."""
    method = detail.get("method")
    if method == "rule":
        return (
            f"an explicit rule matched (routing.rules[{detail.get('rule')}]); "
            "rules win over the model"
        )
    if method == "model":
        top = (detail.get("suggestions") or [{}])[0]
        version = detail.get("model_version")
        threshold = float(detail.get("threshold") or 0)
        confidence = float(top.get("confidence") or 0)
        if detail.get("triage"):
            return (
                f"no rule matched; model v{version} was {confidence:.2f} sure of "
                f"{top.get('agency')}, below {threshold:.2f}: sent to triage"
            )
        return (
            f"no rule matched; model v{version} routed to {top.get('agency')} at "
            f"confidence {confidence:.2f} (>= {threshold:.2f})"
        )
    if method == "default" and detail.get("triage"):
        return "no rule matched and no model was in use: triage (routing.unmatched)"
    if method == "default":
        return "no rule matched and no model was in use: the default agency"
    return f"routed before decisions were recorded: {reason or '-'}"


def _detail(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _staff_decisions(session: Session, row: ComplaintRow) -> list[dict[str, Any]]:
    events = session.exec(
        select(StatusEvent)
        .where(
            StatusEvent.complaint_id == row.id,
            StatusEvent.actor != SYSTEM_ACTOR,
            or_(*(col(StatusEvent.note).like(p) for p in DECISION_NOTES)),
        )
        .order_by(col(StatusEvent.created_at), col(StatusEvent.id))
    ).all()
    return [
        {"at": e.created_at.isoformat(), "actor": e.actor, "note": e.note}
        for e in events
    ]
