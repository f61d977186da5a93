"""A citizen edits a message (Telegram ``edited_message``, an edited X post
or Facebook comment): the record it edits takes the new text, the previous
text stays in the case's history, and a case no agency has seen yet is
classified and routed again on its new text. A comment deleted or hidden at
its source is marked in the history, its words kept.

Once an agency's delivery was attempted the category and agency stay as
they are (staff can re-route): the agency already acts on the case, and
reading the edit in the case is enough.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session, select

from dengar.batch import BatchState
from dispatcher.message import idempotency_key
from dispatcher.outbox import queue as outbox
from dispatcher.routing import RouteDecision
from normalizer.normalize import Normalized
from storage.tables import ComplaintRow, OutboxRow

# (category, region, decision) for a case's text
Classify = Callable[[ComplaintRow], tuple[str | None, str | None, RouteDecision]]
# the most delivery attempts an agency sink allows, by agency code
MaxAttempts = Callable[[str], int]


def apply_edit(
    session: Session,
    case: ComplaintRow,
    edited: ComplaintRow,
    fields: Normalized,
    batch: BatchState,
    classify: Classify,
    max_attempts: MaxAttempts,
) -> None:
    """Give ``edited`` (the case itself or one of its follow-ups) the text
    of ``fields``; re-route ``case`` when its own text changed and no agency
    delivery has been attempted."""
    assert case.id is not None
    if (edited.original_text, edited.clean_text) == (
        fields.original_text,
        fields.clean_text,
    ):
        return  # the same words again (an edit of entities or media only)
    batch.status_event(
        case.id,
        case.status,
        "citizen",
        f"text edited; previous version: {edited.clean_text}",
    )
    edited.original_text = fields.original_text
    edited.clean_text = fields.clean_text
    session.add(edited)
    if edited.id == case.id:
        _route_again(session, case, batch, classify, max_attempts)


# what a social network's moderation verbs mean, for the case's history
_REMOVED = {
    "deleted": "deleted at the source by its author or the page",
    "hide": "hidden at the source",
    "unhide": "shown again at the source",
}


def note_removed(
    case: ComplaintRow, original: ComplaintRow, how: str, batch: BatchState
) -> None:
    """Mark in the case's history that a message of it was deleted or
    hidden where it was posted; its words stay in Dengar (the case may
    already be acted on, and staff must be able to read what was said)."""
    assert case.id is not None
    note = removal_note(how, own=original.id == case.id)
    batch.status_event(case.id, case.status, "citizen", note)


def removal_note(how: str, *, own: bool) -> str:
    """The history note of a removal (``own``: of the complaint itself,
    else of a follow-up); ``dengar.web.wording`` says it in Indonesian."""
    which = "the complaint" if own else "a follow-up"
    return f"{which}: {_REMOVED.get(how, how)}"


def _route_again(
    session: Session,
    case: ComplaintRow,
    batch: BatchState,
    classify: Classify,
    max_attempts: MaxAttempts,
) -> None:
    # a case waiting in triage is staff's to route; a duplicate goes with
    # its primary
    if case.status != "received" or case.duplicate_of_id is not None:
        return
    assert case.id is not None
    table = OutboxRow.__table__  # type: ignore[attr-defined]
    rows = session.exec(
        select(OutboxRow).where(
            table.c.complaint_id == case.id, table.c.kind == outbox.KIND_AGENCY
        )
    ).all()
    if len(rows) > 1 or any(r.status != outbox.PENDING or r.attempts for r in rows):
        return  # an agency may have it already
    category, region, decision = classify(case)
    case.category, case.region = category, region
    if decision.to_triage or decision.agency_code == case.agency_code:
        return  # staff would have to choose: the agency stays as it is
    before = case.agency_code
    case.agency_code = decision.agency_code
    case.routing_reason = decision.reason
    case.routing_detail = decision.detail()
    for row in rows:
        row.target = decision.agency_code
        row.idempotency_key = idempotency_key(case, decision.agency_code)
        row.max_attempts = max_attempts(decision.agency_code)
        session.add(row)
    batch.status_event(
        case.id,
        case.status,
        "dengar",
        f"routed again after the citizen's edit: {before} -> "
        f"{decision.agency_code} ({decision.reason})",
    )
