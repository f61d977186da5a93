"""Changing a case's confidentiality, the same way from every door.

The levels rise ``biasa`` < ``anonim`` (the agency never learns who
reported) < ``rahasia`` (only what the agency needs, hidden from most
staff). Anyone allowed to act on a case may raise the level: the reporter
from the chat (``/anonim``, ``/rahasia``), staff in the dashboard. Lowering it
exposes someone who asked for protection, so only an admin may. Every change
goes into the case history with who made it and from where.
"""

from __future__ import annotations

from sqlmodel import Session

from dengar.case_history import record_change
from storage.tables import ComplaintRow

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
    return previous
