"""Triage: what waits for Diskominfo's decision. Social posts (channels with
``auto_dispatch: false``) and cases no routing rule matched (``routing.
unmatched: triage``) wait with status ``triage`` until staff accept or
dismiss them; cases an agency returned as "bukan wewenang" wait with status
``rerouted`` until staff send them to the right agency. ``dengar triage``
and the dashboard's ``/triase`` show the same list (:func:`triage_queue`).
A case the routing model was not sure of waits in triage too, with its
suggestions (:func:`model_suggestions`).

The functions change rows in the given session and leave the commit to the
caller, so accepting, routing and queueing land in one transaction.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Collection
from typing import Any, Protocol

from sqlmodel import Session, col, select

from contracts.records import CaseStatus, RecordKind
from contracts.tracking import canonical
from dengar.case_history import record_change
from dispatcher.duplicates import sync_duplicates
from dispatcher.status import DuplicateCaseError, refuse_if_duplicate
from storage.tables import ComplaintRow
from storage.types import row_id


class TriageError(Exception):
    """A triage action cannot be done; the message says why, for staff."""


class RouteAndEnqueue(Protocol):
    """Queues an accepted case for its agency (the pipeline provides it:
    ``Pipeline.enqueue_for_agency``)."""

    def __call__(self, session: Session, row: ComplaintRow, /) -> object:
        """Queue ``row`` (its ``agency_code`` is set) for delivery."""


WAITING = (CaseStatus.TRIAGE.value, CaseStatus.REROUTED.value)


def list_triage(session: Session, channel: str | None = None) -> list[ComplaintRow]:
    """Posts and unrouted cases awaiting accept or dismiss (status
    ``triage``), oldest first, optionally of one channel."""
    return [r for r in triage_queue(session, channel) if r.status == "triage"]


def triage_queue(session: Session, channel: str | None = None) -> list[ComplaintRow]:
    """Everything awaiting Diskominfo's decision, oldest first: status
    ``triage`` (posts, unrouted cases) and ``rerouted`` (returned by an
    agency), optionally of one channel."""
    query = select(ComplaintRow).where(
        ComplaintRow.kind == RecordKind.CASE.value,
        col(ComplaintRow.status).in_(WAITING),
    )
    if channel is not None:
        query = query.where(ComplaintRow.channel == channel)
    order = (col(ComplaintRow.received_at), col(ComplaintRow.id))
    return list(session.exec(query.order_by(*order)).all())


def model_suggestions(row: ComplaintRow) -> list[dict[str, Any]]:
    """The routing model's suggestions kept with the case (``agency``,
    ``confidence`` 0-1, ``words``), best first; empty when no model decided."""
    try:
        detail = json.loads(row.routing_detail or "{}")
    except ValueError:
        return []
    found = detail.get("suggestions") if isinstance(detail, dict) else None
    if not isinstance(found, list):
        return []
    return [s for s in found if isinstance(s, dict)]


def find_case(session: Session, ref: str | int) -> ComplaintRow:
    """The case with this numeric id or tracking number (typos such as
    ``o`` for ``0`` are forgiven); ``TriageError`` if there is none."""
    text = str(ref).strip()
    row: ComplaintRow | None = None
    if text.isdigit():
        number_id = row_id(text)
        row = session.get(ComplaintRow, number_id) if number_id else None
    else:
        prefix = re.match(r"[A-Za-z]{2,8}", text)
        number = canonical(text, prefix.group(0).upper()) if prefix else None
        if number is not None:
            found = select(ComplaintRow).where(ComplaintRow.tracking_no == number)
            row = session.exec(found).first()
    if row is None:
        raise TriageError(f"no case with id or tracking number {text!r}")
    return row


def why_waiting(row: ComplaintRow) -> str:
    """Why ``row`` is in triage, briefly: "post", "unrouted", "unsure" (the
    routing model was not sure enough) or "returned"."""
    if row.status == CaseStatus.REROUTED.value:
        return "returned"
    if (row.routing_reason or "").startswith("model") and model_suggestions(row):
        return "unsure"
    if (row.routing_reason or "").startswith("no rule matched"):
        return "unrouted"
    return "post"


def _awaiting(
    session: Session, ref: str | int, statuses: Collection[str] = WAITING
) -> ComplaintRow:
    row = find_case(session, ref)
    if row.kind != RecordKind.CASE.value or row.status not in statuses:
        label = row.tracking_no or f"#{row.id}"
        raise TriageError(
            f"{label} is not awaiting triage (kind {row.kind}, status {row.status})"
        )
    try:
        refuse_if_duplicate(session, row)  # it follows its primary's triage
    except DuplicateCaseError as exc:
        raise TriageError(str(exc)) from None
    return row


def accept(
    session: Session,
    ref: str | int,
    agency_code: str | None,
    actor: str,
    route_and_enqueue: RouteAndEnqueue,
    *,
    agencies: Collection[str] | None = None,
) -> ComplaintRow:
    """Make a triage post a case: status ``received``, the routed agency (or
    ``agency_code`` to override it), a status event, and the agency delivery
    queued through ``route_and_enqueue``. A case an agency returned needs
    ``agency_code`` and becomes ``verified``. ``agencies`` (known codes), when
    given, catches a mistyped override before anything changes."""
    row = _awaiting(session, ref)
    if agency_code is not None:
        code = agency_code.strip().upper()
        if agencies is not None and code not in agencies:
            hint = difflib.get_close_matches(code, list(agencies), n=1)
            suggestion = f"; did you mean {hint[0]}?" if hint else ""
            known = ", ".join(sorted(agencies))
            raise TriageError(f"unknown agency {code!r} (known: {known}){suggestion}")
        if code != row.agency_code:
            row.routing_reason = f"set by {actor} at triage (was {row.agency_code})"
        row.agency_code = code
    if row.agency_code is None:
        raise TriageError(
            f"{row.tracking_no or row.id} has no agency: give one with --agency"
        )
    returned = row.status == CaseStatus.REROUTED.value
    row.status = (CaseStatus.VERIFIED if returned else CaseStatus.RECEIVED).value
    record_change(session, row, actor, f"accepted at triage for {row.agency_code}")
    sync_duplicates(session, row, actor)
    route_and_enqueue(session, row)
    session.flush()
    return row


def dismiss(session: Session, ref: str | int, reason: str, actor: str) -> ComplaintRow:
    """Decide a triage post is not a case; the reason is kept with the event."""
    if not reason.strip():
        raise TriageError("a reason is required to dismiss a post")
    row = find_case(session, ref)
    if row.status == CaseStatus.REROUTED.value:
        raise TriageError(
            f"{row.tracking_no} was returned by an agency: send it to the right "
            "one (accept --agency) or reject it with a message to the reporter "
            "(dengar case update --status rejected --message …)"
        )
    row = _awaiting(session, ref, (CaseStatus.TRIAGE.value,))
    row.status = CaseStatus.DISMISSED.value
    record_change(session, row, actor, reason.strip())
    sync_duplicates(session, row, actor, reason.strip())
    session.flush()
    return row
