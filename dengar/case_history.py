"""Entries in a case's history for changes that keep its status.

Rerouting a case or changing its confidentiality does not move it to a new
status, yet staff reading the history must still see who did it and why; a
``StatusEvent`` at the unchanged status carries that.
"""

from __future__ import annotations

from sqlmodel import Session

from storage.tables import ComplaintRow, StatusEvent


def record_change(session: Session, case: ComplaintRow, actor: str, note: str) -> None:
    """Stage ``case`` and a history entry saying ``note``; the caller commits."""
    session.add(case)
    assert case.id is not None
    session.add(
        StatusEvent(complaint_id=case.id, status=case.status, actor=actor, note=note)
    )
