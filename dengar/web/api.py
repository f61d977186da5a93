"""The agency REST API, ``/api/v1``: an agency works its queue with its key.

Every endpoint looks the case up through :func:`find_visible_case`, so a case
of another agency answers 404 exactly like one that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from sqlmodel import col, select

from contracts.records import CaseStatus
from dengar import audit
from dengar.web.access import body_of, can_see, case_summary, reporter_of, text_of
from dengar.web.bad_request import MAX_OFFSET
from dengar.web.deps import ApiAgency, Ctx, Db, notifier
from dengar.web.files import attachment_response
from dengar.web.views import (
    case_detail,
    find_visible_case,
    last_change,
    visible_attachment,
)
from dengar.web.wording import in_indonesian
from dispatcher.duplicates import primary_case
from dispatcher.message import Supporter, load_supporters
from dispatcher.status import StatusChangeError, change_status
from storage.tables import ComplaintRow

router = APIRouter(prefix="/api/v1", tags=["agency"])

OPEN_STATUSES = ("received", "verified", "dispatched", "in_progress")
MAX_LIMIT = 500  # cases in one answer


class StatusChange(BaseModel):
    """Laporan perkembangan: ``message`` dikirim ke pelapor, ``note`` hanya
    catatan internal (tidak pernah dikirim ke pelapor)."""

    status: Literal["in_progress", "resolved"]
    message: str | None = Field(default=None, max_length=4000)
    note: str | None = Field(default=None, max_length=4000)


class Rejection(BaseModel):
    """Penolakan: ``message`` (wajib) menjelaskan alasannya kepada pelapor;
    ``note`` catatan internal."""

    message: str = Field(min_length=1, max_length=4000)
    note: str | None = Field(default=None, max_length=4000)


class Reason(BaseModel):
    """Alasan "bukan wewenang", untuk Diskominfo (tidak dikirim ke pelapor)."""

    note: str = Field(min_length=1, max_length=4000)


class CaseOut(BaseModel):
    """A case as an agency sees it (the reporter hidden when confidential)."""

    tracking_no: str | None
    channel: str
    received_at: str
    status: str
    agency: str | None
    category: str | None
    region: str | None
    confidentiality: str
    subject: str | None
    text: str
    reporter: dict[str, str | None]
    location: dict[str, Any] | None
    sla_due: str | None = None
    overdue: bool = False
    supporters: int = Field(
        default=0, description="other reports of the same problem (duplicates)"
    )
    supporter_reports: list[dict[str, str | None]] = Field(
        default_factory=list,
        description="those reports, oldest first: tracking_no, channel, "
        "received_at (never their reporters); they follow this case",
    )


class CaseDetailOut(CaseOut):
    """A case with its thread, files and history."""

    follow_ups: list[dict[str, Any]]
    attachments: list[dict[str, Any]]
    history: list[dict[str, Any]]


def _case_or_404(
    session: Db, agency: ApiAgency, ctx: Ctx, tracking_no: str
) -> ComplaintRow:
    case = find_visible_case(
        session, agency, tracking_no, ctx.app.settings.tracking_prefix
    )
    if case is not None and case.duplicate_of_id is not None:
        # a duplicate's number means its problem: the primary, which it
        # follows, answers (or 404 when that is another agency's)
        primary = primary_case(session, case)
        case = primary if primary is not None and can_see(agency, primary) else None
    if case is None:
        raise HTTPException(
            404, f"tidak ada kasus {tracking_no} dalam antrean {agency.agency_code}"
        )
    return case


def _out(
    ctx: Ctx,
    case: ComplaintRow,
    agency: ApiAgency,
    since: Any,
    supporters: list[Supporter],
) -> dict[str, Any]:
    data = case_summary(agency, case)
    clock = ctx.sla.clock(case.status, since, ctx.sla_now()) if since else None
    data["sla_due"] = clock.due.isoformat() if clock else None
    data["overdue"] = bool(clock and clock.overdue)
    data["supporters"] = len(supporters)
    data["supporter_reports"] = [s.as_json() for s in supporters]
    return data


@router.get(
    "/cases",
    response_model=list[CaseOut],
    summary="Daftar antrean saya",
    description="Kasus instansi Anda, yang terlama lebih dulu. `status=open` "
    "(bawaan) untuk kasus yang masih harus dikerjakan, `all` untuk semua, atau "
    "satu nama status.",
)
def list_queue(
    session: Db,
    agency: ApiAgency,
    ctx: Ctx,
    status: str = "open",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[dict[str, Any]]:
    """The agency's cases, oldest first; ``status=open`` (default) for those
    still to work, ``all`` or one status name otherwise."""
    known = {s.value for s in CaseStatus}
    if status not in known | {"open", "all"}:
        choices = ", ".join(["open", "all", *sorted(known)])
        raise HTTPException(
            400, f"status {status!r} tidak dikenal (pilihan: {choices})"
        )
    query = select(ComplaintRow).where(
        ComplaintRow.kind == "case",
        ComplaintRow.agency_code == agency.agency_code,
        # each problem once: duplicates come as the primary's supporters
        col(ComplaintRow.duplicate_of_id).is_(None),
    )
    if status == "open":
        query = query.where(col(ComplaintRow.status).in_(OPEN_STATUSES))
    elif status != "all":
        query = query.where(ComplaintRow.status == status)
    rows = session.exec(
        query.order_by(col(ComplaintRow.received_at), col(ComplaintRow.id))
        .offset(offset)
        .limit(limit)
    ).all()
    ids = [r.id for r in rows if r.id is not None]
    since = last_change(session, ids)
    supporters = load_supporters(session, ids)
    return [
        _out(
            ctx,
            r,
            agency,
            since.get(r.id or 0, r.received_at),
            supporters.get(r.id or 0, []),
        )
        for r in rows
    ]


@router.get(
    "/cases/{tracking_no}",
    response_model=CaseDetailOut,
    summary="Lihat satu kasus",
    description="Satu kasus instansi Anda beserta informasi tambahan, lampiran "
    "dan riwayatnya.",
)
def get_case(
    tracking_no: str, session: Db, agency: ApiAgency, ctx: Ctx
) -> dict[str, Any]:
    """One case of the agency with its follow-ups, attachments and history."""
    case = _case_or_404(session, agency, ctx, tracking_no)
    detail = case_detail(session, agency, case)
    since = detail.events[-1].created_at if detail.events else case.received_at
    assert case.id is not None
    found = load_supporters(session, [case.id]).get(case.id, [])
    data = _out(ctx, case, agency, since, found)
    data["follow_ups"] = [
        {
            "received_at": f.received_at.isoformat(),
            "text": body_of(agency, case, f),
            "reporter": reporter_of(agency, case, f),
        }
        for f in detail.follow_ups
    ]
    data["attachments"] = [
        {
            "id": a.id,
            "filename": a.filename,
            "content_type": a.content_type,
            "size": a.size,
            "url": f"/api/v1/cases/{case.tracking_no}/attachments/{a.id}",
        }
        for rows in detail.attachments.values()
        for a in rows
    ]
    data["history"] = [
        {
            "status": e.status,
            "note": text_of(agency, case, e.note) or None,
            "keterangan": in_indonesian(text_of(agency, case, e.note)) or None,
            "at": e.created_at.isoformat(),
        }
        for e in detail.events
    ]
    return data


@router.get(
    "/cases/{tracking_no}/attachments/{attachment_id}",
    summary="Unduh lampiran",
    description="Lampiran salah satu kasus instansi Anda, selalu sebagai unduhan.",
)
def get_attachment(
    tracking_no: str, attachment_id: int, session: Db, agency: ApiAgency, ctx: Ctx
) -> Any:
    """An attachment of one of the agency's cases, always as a download."""
    case = _case_or_404(session, agency, ctx, tracking_no)
    att = visible_attachment(session, agency, attachment_id)
    if att is None or not _belongs(session, att.complaint_id, case):
        raise HTTPException(404, "lampiran ini tidak ada pada kasus tersebut")
    return attachment_response(att, download=True)


def _belongs(session: Db, complaint_id: int, case: ComplaintRow) -> bool:
    if complaint_id == case.id:
        return True
    row = session.get(ComplaintRow, complaint_id)
    return row is not None and row.follow_up_of_id == case.id


def _change(
    ctx: Ctx,
    session: Db,
    agency: ApiAgency,
    tracking_no: str,
    status: CaseStatus,
    note: str | None,
    message: str | None = None,
) -> dict[str, Any]:
    case = _case_or_404(session, agency, ctx, tracking_no)
    old = case.status
    try:
        event = change_status(
            session,
            case,
            status,
            note,
            agency.actor,
            notifier(ctx, session),
            message,
        )
    except StatusChangeError as exc:
        raise HTTPException(
            409, f"kasus {case.tracking_no}: {in_indonesian(str(exc))}"
        ) from None
    audit.record(
        session, agency.actor, "case_status", case.tracking_no, f"{old} -> {status}"
    )
    session.commit()
    return {
        "tracking_no": case.tracking_no,
        "status": event.status,
        "agency": case.agency_code,
        "at": event.created_at.isoformat(),
    }


@router.post(
    "/cases/{tracking_no}/status",
    summary="Laporkan perkembangan",
    description="Tandai kasus `in_progress` (sedang diproses) atau `resolved` "
    "(selesai). Pelapor diberi tahu status baru beserta `message`; `note` "
    "hanya tersimpan di riwayat kasus.",
)
def set_status(
    tracking_no: str, body: StatusChange, session: Db, agency: ApiAgency, ctx: Ctx
) -> dict[str, Any]:
    """Mark the case ``in_progress`` or ``resolved``; the citizen is told,
    with the message (never the note)."""
    return _change(
        ctx,
        session,
        agency,
        tracking_no,
        CaseStatus(body.status),
        body.note,
        body.message,
    )


@router.post(
    "/cases/{tracking_no}/reject",
    summary="Tolak kasus",
    description="Tolak kasus. `message` (wajib) adalah alasan yang dikirim ke "
    "pelapor; `note` hanya tersimpan di riwayat kasus.",
)
def reject(
    tracking_no: str, body: Rejection, session: Db, agency: ApiAgency, ctx: Ctx
) -> dict[str, Any]:
    """Reject the case with a reason the citizen is told."""
    return _change(
        ctx,
        session,
        agency,
        tracking_no,
        CaseStatus.REJECTED,
        body.note,
        body.message,
    )


@router.post(
    "/cases/{tracking_no}/bukan-wewenang",
    summary="Bukan wewenang",
    description="Kasus bukan wewenang instansi Anda: kasus kembali ke pemilahan "
    "Diskominfo untuk diteruskan ulang. `note` (wajib) menjelaskan alasannya "
    "kepada Diskominfo dan tidak dikirim ke pelapor.",
)
def not_ours(
    tracking_no: str, body: Reason, session: Db, agency: ApiAgency, ctx: Ctx
) -> dict[str, Any]:
    """ "Bukan wewenang": the case leaves the agency and goes back to
    Diskominfo's triage to be routed again; the note says why."""
    return _change(ctx, session, agency, tracking_no, CaseStatus.REROUTED, body.note)
