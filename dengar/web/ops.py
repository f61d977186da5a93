"""Staff actions outside a case page: the social triage queue and the
outbox (form posts, CSRF-checked like every form)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from dengar import audit
from dengar.triage import TriageError, dismiss, find_case
from dengar.web.access import can_see
from dengar.web.actions import accept_triage, done, flash, refused
from dengar.web.auth import Principal
from dengar.web.deps import Csrf, Ctx, Db, StaffUser
from dispatcher.outbox import queue as outbox
from storage.tables import ComplaintRow

router = APIRouter(include_in_schema=False, dependencies=[Csrf])


@router.post("/triase/{ref}/terima")
def triage_accept(
    request: Request,
    ctx: Ctx,
    session: Db,
    user: StaffUser,
    ref: str,
    agency: Annotated[str, Form()] = "",
    reply: Annotated[str, Form()] = "",
) -> Response:
    """Accept a social post as a case (routed, or to ``agency``), with the
    answer chosen for a Facebook or Instagram comment (``reply``)."""
    case = _triage_row(session, user, ref)
    accept_triage(
        request, ctx, session, user, case, agency.strip() or None, reply or None
    )
    return RedirectResponse("/triase", 303)


@router.post("/triase/{ref}/abaikan")
def triage_dismiss(
    request: Request,
    ctx: Ctx,
    session: Db,
    user: StaffUser,
    ref: str,
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Dismiss a social post with a reason."""
    case = _triage_row(session, user, ref)
    try:
        dismiss(session, case.id or 0, reason, user.actor)
    except TriageError as exc:
        return refused(request, "/triase", f"Gagal: {exc}", session)
    audit.record(
        session,
        user.actor,
        "triage_dismiss",
        case.tracking_no or str(case.id),
        reason.strip() or None,
        ctx.client(request),
    )
    return done(request, session, "/triase", f"{case.tracking_no} diabaikan.")


def _triage_row(session: Session, user: Principal, ref: str) -> ComplaintRow:
    try:
        row = find_case(session, ref)
    except TriageError:
        raise HTTPException(404, "Kiriman tidak ditemukan.") from None
    if not can_see(user, row):
        raise HTTPException(404, "Kiriman tidak ditemukan.")
    return row


@router.post("/kanal/outbox/ulang")
def outbox_retry(
    request: Request,
    ctx: Ctx,
    session: Db,
    user: StaffUser,
    row_id: Annotated[int | None, Form()] = None,
) -> Response:
    """Put one outbox row (or, without ``row_id``, every dead one) back in
    the queue."""
    # staged first: retry() commits it with the rows it puts back
    rows = audit.retried_rows([row_id] if row_id is not None else [])
    audit.record(session, user.actor, "outbox_retry", rows, None, ctx.client(request))
    if row_id is not None:
        count = outbox.retry(session, [row_id])
    else:
        count = outbox.retry(session, dead=True)
    flash(request, f"{count} kiriman dijadwalkan ulang.")
    return RedirectResponse("/kanal", 303)
