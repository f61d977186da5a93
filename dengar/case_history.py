"""An entry in a case's history at the status it has now.

Staff reading the history must see who did what and why: a triage decision
(the case's new status), and also a change that keeps the status —
rerouting, confidentiality — recorded as a ``StatusEvent`` at the
unchanged status.
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
