"""Status changes of a case, and the citizens they are told to.

Every change — from ``dengar case update``, the agency API or an agency's
status message — goes through :func:`change_status`: it checks the
transition, records a ``StatusEvent`` (who, when, why), updates the case and
hands an Indonesian message to ``notify`` for each person who should hear of
it: the case's reporter, the reporters of its linked duplicates, and the
reporters of follow-ups who are someone else. It does not commit: the caller
commits once, so the event, the new status and the notifications ``notify``
queues (outbox rows) are stored together or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from sqlmodel import Session, col, select

from contracts.records import CaseStatus
from contracts.tracking import canonical
from dispatcher.duplicates import primary_case, sync_duplicates
from dispatcher.notify import render
from storage.tables import ComplaintRow, StatusEvent, utcnow

S = CaseStatus
FINAL: frozenset[CaseStatus] = frozenset({S.CLOSED})

# Where a case may go from each status. Staff may also reopen a rejected or
# dismissed case; only ``closed`` is final.
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    S.TRIAGE: frozenset(
        {S.RECEIVED, S.VERIFIED, S.DISPATCHED, S.DISMISSED, S.REJECTED}
    ),
    S.DISMISSED: frozenset({S.TRIAGE, S.RECEIVED}),
    S.RECEIVED: frozenset(
        {S.VERIFIED, S.DISPATCHED, S.IN_PROGRESS, S.RESOLVED, S.REJECTED, S.REROUTED}
    ),
    S.VERIFIED: frozenset(
        {S.DISPATCHED, S.IN_PROGRESS, S.RESOLVED, S.REJECTED, S.REROUTED}
    ),
    S.DISPATCHED: frozenset({S.IN_PROGRESS, S.RESOLVED, S.REJECTED, S.REROUTED}),
    S.IN_PROGRESS: frozenset({S.RESOLVED, S.REJECTED, S.REROUTED}),
    S.RESOLVED: frozenset({S.CLOSED, S.IN_PROGRESS}),
    S.REROUTED: frozenset({S.VERIFIED, S.DISPATCHED, S.REJECTED}),
    S.REJECTED: frozenset({S.RECEIVED, S.VERIFIED}),
    S.CLOSED: frozenset(),
}

# the next agency (an internal note) must be told why
NEEDS_NOTE: frozenset[CaseStatus] = frozenset({S.REROUTED})
# the citizen (a message to the reporter) must be told why
NEEDS_MESSAGE: frozenset[CaseStatus] = frozenset({S.REJECTED})

Notify = Callable[[ComplaintRow, str], None]


class AuditTrail(Protocol):
    """The shell's audit log (``dengar.audit``), which this layer may not
    import: a status change an agency's system sends is an action admins
    read at /audit, like one made on the dashboard or the agency API."""

    def audit(
        self,
        session: Session,
        actor: str,
        action: str,
        target: str | None,
        detail: str | None = None,
    ) -> None:
        """Stage one entry in ``session`` (committed with the change)."""
        ...


class StatusChangeError(ValueError):
    """A change that is not allowed; the message says why, in plain words."""


class DuplicateCaseError(StatusChangeError):
    """An action on a linked duplicate, which only follows its primary; the
    message (Indonesian: staff read it on the dashboard) names the primary."""

    def __init__(self, duplicate: ComplaintRow, primary: ComplaintRow | None) -> None:
        self.duplicate = duplicate
        self.primary = primary
        own = duplicate.tracking_no or f"#{duplicate.id}"
        main = f"#{duplicate.duplicate_of_id}"
        if primary is not None:
            main = primary.tracking_no or f"#{primary.id}"
        super().__init__(
            f"{own} adalah duplikat dari {main}: statusnya mengikuti pengaduan "
            f"utama. Lakukan aksi pada {main}, atau lepas tautan duplikatnya "
            "lebih dahulu."
        )


def refuse_if_duplicate(session: Session, case: ComplaintRow) -> None:
    """Raise :class:`DuplicateCaseError` when ``case`` is a linked duplicate:
    staff act on its primary, which it follows."""
    if case.duplicate_of_id is not None:
        raise DuplicateCaseError(case, primary_case(session, case))


def check_transition(
    current: str, new: CaseStatus, note: str | None, message: str | None = None
) -> None:
    """Raise :class:`StatusChangeError` unless ``current`` -> ``new`` is allowed
    with this internal ``note`` and this ``message`` to the reporter."""
    try:
        old = CaseStatus(current)
    except ValueError:
        raise StatusChangeError(f"the case has an unknown status {current!r}") from None
    if old == new:
        raise StatusChangeError(f"the case is already {new.value}")
    if old in FINAL:
        raise StatusChangeError(f"the case is {old.value}: that is final")
    if new not in TRANSITIONS[old]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[old]))
        raise StatusChangeError(
            f"a {old.value} case cannot become {new.value} (allowed: {allowed})"
        )
    if new in NEEDS_NOTE and not (note and note.strip()):
        raise StatusChangeError(f"{new.value} needs a note saying why")
    if new in NEEDS_MESSAGE and not (message and message.strip()):
        raise StatusChangeError(f"{new.value} needs a message to the reporter")


class NoAgencyError(StatusChangeError):
    """``dispatched`` asked of a case that no agency holds: nobody to forward to."""


def change_status(
    session: Session,
    complaint: ComplaintRow,
    status: CaseStatus,
    note: str | None,
    actor: str,
    notify: Notify,
    message: str | None = None,
) -> StatusEvent:
    """Move ``complaint`` to ``status`` and tell everyone concerned.

    ``note`` is internal (staff and agencies read it in the history) and
    never reaches a citizen; ``message`` is what the reporters are told,
    besides the new status. ``rejected`` needs a message (the citizen is
    told why), ``rerouted`` a note (the next agency is).

    ``actor`` is who decided ("cli:budi", "agency:PUPR", "api:<token name>").
    ``notify(row, text)`` is called once per person to tell, with the row
    through whose channel they reached us. ``rerouted`` (the agency says
    "bukan wewenang") takes the case away from its agency and back to triage
    with the note as the reason. The case's linked duplicates follow it; a
    duplicate itself cannot be changed (:class:`DuplicateCaseError`). Does
    not commit. A ``notify`` that writes
    in a session of its own must be called after the commit instead (collect
    the calls, as ``dengar case update`` does): on SQLite that second writer
    would wait for this transaction.
    """
    if complaint.kind != "case" or complaint.id is None:
        raise StatusChangeError("only a stored case has a status (not a follow-up)")
    refuse_if_duplicate(session, complaint)
    status = CaseStatus(status)
    note = _clean(note)
    message = _clean(message)
    check_transition(complaint.status, status, note, message)
    if status == S.DISPATCHED and not complaint.agency_code:
        # the citizen would hear "diteruskan ke instansi" with no agency to
        # have it: assign one first (and queue the delivery)
        raise NoAgencyError("the case has no agency: dispatched needs one")

    event = StatusEvent(
        complaint_id=complaint.id,
        status=status.value,
        note=note,
        message=message,
        actor=actor,
        created_at=utcnow(),
    )
    session.add(event)
    if status == S.REROUTED:
        previous = complaint.agency_code or "-"
        complaint.routing_reason = f"dialihkan oleh {previous}: {note}"[:512]
        complaint.agency_code = None
    complaint.status = status.value
    session.add(complaint)
    # its duplicates follow (their reporters are told below, with the rest)
    sync_duplicates(session, complaint, actor, note)
    session.flush()

    for row, tracking_no in recipients(session, complaint):
        notify(
            row,
            render(
                "rejected" if status == S.REJECTED else "status",
                tracking_no=tracking_no,
                status=status.value,
                message=message,
            ),
        )
    return event


def recipients(
    session: Session, case: ComplaintRow
) -> Iterator[tuple[ComplaintRow, str]]:
    """Each person to tell about ``case``, once: (their row, the number they know).

    The case's reporter, then its duplicates' reporters (with their own
    tracking numbers, which they were given), then follow-ups' reporters who
    are not one of those (a neighbour who replied to the thread).
    """
    seen: set[tuple[str, str]] = set()
    case_no = case.tracking_no or ""
    duplicates = session.exec(
        select(ComplaintRow)
        .where(ComplaintRow.duplicate_of_id == case.id)
        .order_by(col(ComplaintRow.received_at))
    ).all()
    follow_ups = session.exec(
        select(ComplaintRow)
        .where(ComplaintRow.follow_up_of_id == case.id)
        .order_by(col(ComplaintRow.received_at))
    ).all()
    candidates = [(case, case_no)]
    candidates += [(d, d.tracking_no or case_no) for d in duplicates]
    candidates += [(f, case_no) for f in follow_ups]
    for row, number in candidates:
        who = identity(row)
        if who is None or who in seen:
            continue
        seen.add(who)
        yield row, number


def identity(row: ComplaintRow) -> tuple[str, str] | None:
    """Who wrote ``row``, as (channel, address); None when nobody can be reached."""
    address = (
        row.reporter_chat_id
        or (row.reporter_email.lower() if row.reporter_email else None)
        or row.reporter_handle
        or row.reporter_phone
    )
    return (row.channel, address) if address else None


# --- status messages from an agency's own system ------------------------------

# what an agency may report about its cases; verifying, dispatching and
# closing stay with Diskominfo staff
AGENCY_STATUSES: frozenset[CaseStatus] = frozenset(
    {S.IN_PROGRESS, S.RESOLVED, S.REJECTED, S.REROUTED}
)


class StatusMessageError(StatusChangeError):
    """An agency's status message that cannot be applied; says exactly why."""


def apply_status_message(
    session: Session,
    body: bytes | str | Mapping[str, Any],
    *,
    agency_code: str,
    tracking_prefix: str,
    notify: Notify,
    trail: AuditTrail | None = None,
) -> StatusEvent | None:
    """Apply one status message an agency sent (AMQP queue, Redis stream, API).

    The message is JSON: ``{"tracking_no": "ADU-…", "status": "in_progress",
    "note": "…", "message": "…"}``: ``note`` is internal (required for
    ``rerouted``), ``message`` goes to the reporter (required for
    ``rejected``). An
    agency may only update its own cases, and only to the statuses in
    ``AGENCY_STATUSES``. A repeat of the change already recorded (a broker
    re-delivery) is a no-op and returns None. Anything else that is wrong
    raises :class:`StatusMessageError`. A change is entered in ``trail``.
    Does not commit.
    """
    data = _parse(body)
    number_text = data.get("tracking_no")
    status_text = data.get("status")
    note = data.get("note")
    message = data.get("message")
    if not isinstance(number_text, str) or not number_text.strip():
        raise StatusMessageError("the status message has no 'tracking_no'")
    if not isinstance(status_text, str):
        raise StatusMessageError("the status message has no 'status'")
    if note is not None and not isinstance(note, str):
        raise StatusMessageError("'note' must be text")
    if message is not None and not isinstance(message, str):
        raise StatusMessageError("'message' must be text")
    try:
        status = CaseStatus(status_text.strip().lower())
    except ValueError:
        allowed = ", ".join(sorted(s.value for s in AGENCY_STATUSES))
        raise StatusMessageError(
            f"unknown status {status_text!r} (an agency may send: {allowed})"
        ) from None
    if status not in AGENCY_STATUSES:
        raise StatusMessageError(
            f"an agency cannot set {status.value!r}; that is Diskominfo's to decide"
        )
    number = canonical(number_text, tracking_prefix)
    if number is None:
        raise StatusMessageError(f"{number_text!r} is not a tracking number")
    case = session.exec(
        select(ComplaintRow).where(
            ComplaintRow.tracking_no == number, ComplaintRow.kind == "case"
        )
    ).first()
    if case is None:
        raise StatusMessageError(f"no case {number}")
    # a duplicate's number (delivered before it was linked, or quoted by its
    # reporter) means the problem: the change is the primary's
    case = primary_case(session, case) or case
    actor = f"agency:{agency_code}"
    if case.status == status.value and _latest(session, case) == (actor, _clean(note)):
        return None  # checked before ownership: a repeated reroute has none left
    if case.agency_code != agency_code:
        raise StatusMessageError(f"case {number} is not assigned to {agency_code}")
    old = case.status
    try:
        event = change_status(session, case, status, note, actor, notify, message)
    except StatusMessageError:
        raise
    except StatusChangeError as exc:
        raise StatusMessageError(f"case {number}: {exc}") from None
    if trail is not None:
        trail.audit(session, actor, "case_status", number, f"{old} -> {status.value}")
    return event


def _parse(body: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(body, Mapping):
        return body
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise StatusMessageError(f"the status message is not JSON: {exc}") from None
    except RecursionError:
        raise StatusMessageError(
            "the status message is not JSON: nested too deep"
        ) from None
    if not isinstance(data, dict):
        raise StatusMessageError("the status message must be a JSON object")
    return data


def _clean(note: str | None) -> str | None:
    return note.strip() if note and note.strip() else None


def _latest(session: Session, case: ComplaintRow) -> tuple[str, str | None] | None:
    latest = session.exec(
        select(StatusEvent)
        .where(StatusEvent.complaint_id == case.id)
        .order_by(col(StatusEvent.id).desc())
    ).first()
    return (latest.actor, latest.note) if latest is not None else None
