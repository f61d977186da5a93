"""Changing a case's confidentiality, the same way from every door.

The levels rise ``biasa`` < ``anonim`` (the agency never learns who
reported) < ``rahasia`` (only what the agency needs, hidden from most
staff). Anyone allowed to act on a case may raise the level: the reporter
from the chat (``/anonim``, ``/rahasia``), staff in the dashboard. Lowering it
exposes someone who asked for protection, so only an admin may. Every change
goes into the case history with who made it and from where.

A case is sent to its agency with the level it has when it is sent. When the
level rises after an agency may already hold the case, every such agency is
sent a ``redacted`` event through its own sink (the case again, with the new
level applied, and a request to remove the identity), and the database
queue is rewritten; the citizen is told that this is what happened.
"""

from __future__ import annotations

import json

from sqlmodel import Session

from dengar.case_history import record_change
from dispatcher.message import REDACTED
from dispatcher.outbox import queue as outbox
from storage.tables import ComplaintRow, utcnow

LEVELS = ("biasa", "anonim", "rahasia")


class LoweringRefused(Exception):
    """The change would lower the level and the actor may not do that."""


def change_confidentiality(
    session: Session,
    case: ComplaintRow,
    level: str,
    *,
    actor: str,
    via: str,
    may_lower: bool = False,
) -> str | None:
    """Set ``case`` to ``level``; returns the previous level, or None when it
    was already there. Raises ``ValueError`` for an unknown level and
    ``LoweringRefused`` when lowering without ``may_lower``."""
    if level not in LEVELS:
        raise ValueError(f"unknown confidentiality level {level!r}")
    previous = case.confidentiality
    if previous == level:
        return None
    if LEVELS.index(level) < LEVELS.index(previous) and not may_lower:
        raise LoweringRefused(f"{case.tracking_no} is {previous}")
    case.confidentiality = level
    record_change(
        session, case, actor, f"confidentiality {previous} -> {level} ({via})"
    )
    if LEVELS.index(level) > LEVELS.index(previous):
        asked = request_redaction(session, case, previous)
        if asked:
            record_change(
                session,
                case,
                "dengar",
                "redaction requested from " + ", ".join(asked),
            )
    return previous


def forwarded_to(session: Session, case: ComplaintRow) -> list[str]:
    """The agencies that hold or may hold ``case`` already: its dispatch was
    delivered, or tried (a try that timed out may still have arrived)."""
    assert case.id is not None
    targets: list[str] = []
    for row in outbox.agency_rows(session, case.id):
        dispatch = not row.payload
        tried = row.status == outbox.DELIVERED or row.attempts > 0
        if dispatch and tried and row.target not in targets:
            targets.append(row.target)
    return targets


def request_redaction(session: Session, case: ComplaintRow, previous: str) -> list[str]:
    """Queue a ``redacted`` event for every agency that may hold ``case``
    from when it was ``previous``; the agencies asked."""
    assert case.id is not None
    rows = outbox.agency_rows(session, case.id)
    asked = forwarded_to(session, case)
    for target in asked:
        dispatch = next(r for r in rows if r.target == target and not r.payload)
        earlier = sum(1 for r in rows if r.target == target and r.payload)
        outbox.enqueue_agency(
            session,
            case,
            target,
            dispatch.max_attempts,
            f"{case.tracking_no}/{target}/{REDACTED}/{earlier + 1}",
            payload=json.dumps(
                {
                    "event": REDACTED,
                    "previous": previous,
                    "level": case.confidentiality,
                    "requested_at": utcnow().isoformat(),
                }
            ),
        )
    return asked
