"""What staff and agency accounts do from the dashboard (form posts).

Every action checks the CSRF token and that the user may see the case and
act on it, changes rows in one session, commits once (status events and the
citizen's notification together), and redirects to a page of ours with a
short message.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from contracts.records import CaseStatus
from dengar import audit
from dengar.case_history import record_change
from dengar.comment_replies import queue_comment_reply
from dengar.confidentiality import (
    LEVELS,
    LoweringRefused,
    change_confidentiality,
    forwarded_to,
)
from dengar.triage import TriageError, accept
from dengar.web.access import can_see
from dengar.web.auth import Principal
from dengar.web.deps import (
    Csrf,
    Ctx,
    Db,
    StaffUser,
    User,
    WebContext,
    notifier,
)
from dengar.web.views import find_visible_case
from dengar.web.wording import in_indonesian, status_label
from dispatcher.duplicates import sync_duplicates
from dispatcher.status import (
    NEEDS_MESSAGE,
    NEEDS_NOTE,
    TRANSITIONS,
    DuplicateCaseError,
    StatusChangeError,
    change_status,
    refuse_if_duplicate,
)
from storage.tables import ComplaintRow, StaffNote

router = APIRouter(include_in_schema=False, dependencies=[Csrf])

S = CaseStatus
# statuses a form may set, and who may set them, in the order they are offered
STATUS_ACTIONS: dict[str, tuple[CaseStatus, frozenset[str]]] = {
    "verifikasi": (S.VERIFIED, frozenset({"admin", "staff"})),
    "proses": (S.IN_PROGRESS, frozenset({"admin", "staff", "agency"})),
    "selesai": (S.RESOLVED, frozenset({"admin", "staff", "agency"})),
    "tolak": (S.REJECTED, frozenset({"admin", "staff", "agency"})),
    "bukan-wewenang": (S.REROUTED, frozenset({"agency"})),
    "tutup": (S.CLOSED, frozenset({"admin", "staff"})),
}
# the button of each: its label, its internal note field and its message to
# the reporter ("" = no such field)
BUTTONS: dict[str, tuple[str, str, str]] = {
    "verifikasi": ("Verifikasi", "", ""),
    "proses": (
        "Sedang diproses",
        "catatan internal (tidak dikirim)",
        "pesan untuk pelapor",
    ),
    "selesai": (
        "Selesai",
        "catatan internal (tidak dikirim)",
        "hasil tindak lanjut untuk pelapor",
    ),
    "tolak": (
        "Tolak",
        "catatan internal (tidak dikirim)",
        "alasan penolakan untuk pelapor",
    ),
    "bukan-wewenang": (
        "Bukan wewenang",
        "alasan, untuk Diskominfo (tidak dikirim ke pelapor)",
        "",
    ),
    "tutup": ("Tutup kasus", "", ""),
}
# a case in one of these must be reopened before it can go to another agency
NOT_REROUTABLE: frozenset[str] = frozenset({S.DISMISSED, S.REJECTED, S.CLOSED})


@dataclass(frozen=True, slots=True)
class StatusButton:
    """A status change the case page offers: the form's action and label,
    its internal note and its message to the reporter (placeholders, "" for
    none), and which of them the change requires."""

    action: str
    label: str
    note: str
    note_required: bool
    message: str
    message_required: bool


def offered_actions(user: Principal, case: ComplaintRow) -> list[StatusButton]:
    """The status changes ``user`` may make to ``case`` now: allowed for the
    role and by the state machine (``dispatcher.status.TRANSITIONS``), so a
    button is never offered that would be refused. A linked duplicate
    offers none: it follows its primary, where staff act."""
    if case.duplicate_of_id is not None:
        return []
    try:
        allowed = TRANSITIONS[CaseStatus(case.status)]
    except ValueError:
        return []
    buttons = []
    for action, (status, roles) in STATUS_ACTIONS.items():
        if user.role in roles and status in allowed:
            label, note, message = BUTTONS[action]
            buttons.append(
                StatusButton(
                    action,
                    label,
                    note,
                    status in NEEDS_NOTE,
                    message,
                    status in NEEDS_MESSAGE,
                )
            )
    return buttons


def can_reroute(case: ComplaintRow) -> bool:
    """True when staff may send ``case`` to another agency as it stands (a
    linked duplicate goes where its primary goes)."""
    return case.duplicate_of_id is None and case.status not in NOT_REROUTABLE


def flash(request: Request, message: str, kind: str = "ok") -> None:
    """A message shown once on the next page."""
    request.session.setdefault("flash", []).append([kind, message])


def refused(
    request: Request, where: str, message: str, session: Session | None = None
) -> Response:
    """Back to the page ``where`` with ``message`` shown as an error (every
    form of the dashboard refuses this way); with ``session``, what the
    refused change staged is rolled back first."""
    if session is not None:
        session.rollback()
    flash(request, message, "error")
    return RedirectResponse(where, 303)


def done(request: Request, session: Session, where: str, message: str) -> Response:
    """Commit the change a form made, say ``message`` on the page ``where``."""
    session.commit()
    flash(request, message)
    return RedirectResponse(where, 303)


def _page_of(case: ComplaintRow) -> str:
    return f"/kasus/{case.tracking_no or case.id}"


def _refused(request: Request, case: ComplaintRow, message: str) -> Response:
    return refused(request, _page_of(case), message)


def _failed(
    request: Request, session: Session, case: ComplaintRow, exc: Exception
) -> Response:
    message = f"Gagal: {in_indonesian(str(exc)).rstrip('.')}."
    return refused(request, _page_of(case), message, session)


def _done(
    request: Request,
    session: Session,
    case: ComplaintRow,
    message: str,
    user: Principal | None = None,
) -> Response:
    """Commit, say ``message``, and go back to the case; home instead when
    ``user`` may no longer see it (the change moved it out of their reach)."""
    gone = user is not None and not can_see(user, case)
    return done(request, session, "/" if gone else _page_of(case), message)


def _audit(
    ctx: WebContext,
    request: Request,
    session: Session,
    user: Principal,
    action: str,
    case: ComplaintRow,
    detail: str | None,
) -> None:
    """Stage the audit entry of a case action (committed with it)."""
    target = case.tracking_no or str(case.id)
    audit.record(session, user.actor, action, target, detail, ctx.client(request))


def _case(ctx: WebContext, session: Session, user: Principal, ref: str) -> ComplaintRow:
    case = find_visible_case(session, user, ref, ctx.app.settings.tracking_prefix)
    if case is None:
        raise HTTPException(404, "Kasus tidak ditemukan.")
    return case


@router.post("/kasus/{ref}/status/{action}")
def set_status(
    request: Request,
    ctx: Ctx,
    session: Db,
    user: User,
    ref: str,
    action: str,
    note: Annotated[str, Form()] = "",
    message: Annotated[str, Form()] = "",
) -> Response:
    """Verify, reject (with a reason), report progress, resolve, close, or
    (agency) say "bukan wewenang"; the citizen is told the new status and
    ``message``, never the internal ``note``."""
    case = _case(ctx, session, user, ref)
    if action not in STATUS_ACTIONS:
        raise HTTPException(404, "Aksi tidak dikenal.")
    status, roles = STATUS_ACTIONS[action]
    if user.role not in roles:
        raise HTTPException(403, "Anda tidak berwenang untuk aksi ini.")
    previous = case.status
    try:
        change_status(
            session,
            case,
            status,
            note,
            user.actor,
            notifier(ctx, session),
            message,
        )
    except DuplicateCaseError as exc:
        return _refused(request, case, str(exc))
    except StatusChangeError as exc:
        return _failed(request, session, case, exc)
    _audit(ctx, request, session, user, "case_status", case, f"{previous} -> {status}")
    return _done(
        request,
        session,
        case,
        f"Status {case.tracking_no} menjadi {status_label(status.value)}.",
        user,
    )


@router.post("/kasus/{ref}/alihkan")
def reroute(
    request: Request,
    ctx: Ctx,
    session: Db,
    user: StaffUser,
    ref: str,
    agency: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
) -> Response:
    """Send the case to another agency (a new delivery is queued)."""
    case = _case(ctx, session, user, ref)
    try:
        refuse_if_duplicate(session, case)
    except DuplicateCaseError as exc:
        return _refused(request, case, str(exc))
    code = agency.strip().upper()
    known = {a.code for a in ctx.app.settings.agencies}
    if code not in known:
        return _refused(request, case, f"Instansi tidak dikenal: {code}")
    if case.status == S.TRIAGE:
        return accept_triage(request, ctx, session, user, case, code)
    if code == case.agency_code and case.status != S.REROUTED:
        return _refused(request, case, f"Kasus sudah di {code}.")
    if not can_reroute(case):
        return _refused(
            request,
            case,
            f"Kasus berstatus {status_label(case.status)}: buka kembali dulu.",
        )
    reason = note.strip() or "dialihkan oleh staf"
    try:
        if case.status == S.REROUTED:
            change_status(
                session, case, S.VERIFIED, reason, user.actor, notifier(ctx, session)
            )
    except StatusChangeError as exc:
        return _failed(request, session, case, exc)
    previous = case.agency_code or "-"
    case.agency_code = code
    case.routing_reason = f"dialihkan oleh {user.actor} dari {previous}: {reason}"[:512]
    record_change(
        session, case, user.actor, f"dialihkan dari {previous} ke {code}: {reason}"
    )
    sync_duplicates(session, case, user.actor, reason)
    ctx.app.pipeline.enqueue_for_agency(session, case)
    _audit(ctx, request, session, user, "case_reroute", case, f"{previous} -> {code}")
    return _done(request, session, case, f"{case.tracking_no} dialihkan ke {code}.")


def accept_triage(
    request: Request,
    ctx: WebContext,
    session: Session,
    user: Principal,
    case: ComplaintRow,
    code: str | None,
    reply_mode: str | None = None,
) -> Response:
    """Accept a triage post as a case (routed, or for ``code``) and queue
    its delivery, and for a social comment the answer staff chose
    (``reply_mode`` private or public); back to the case page."""
    try:
        accept(
            session,
            case.id or 0,
            code,
            user.actor,
            ctx.app.pipeline.enqueue_for_agency,
            agencies={a.code for a in ctx.app.settings.agencies},
        )
        if reply_mode:
            queue_comment_reply(
                session,
                case,
                reply_mode,
                ctx.app.pipeline.replies.messages(case.channel),
                ctx.app.settings.web.public_url,
            )
    except TriageError as exc:
        return _failed(request, session, case, exc)
    _audit(ctx, request, session, user, "triage_accept", case, case.agency_code)
    return _done(
        request,
        session,
        case,
        f"{case.tracking_no} diterima sebagai kasus untuk {case.agency_code}.",
    )


def _dedupe() -> Any:
    try:
        return importlib.import_module("normalizer.dedupe.database")
    except ModuleNotFoundError:
        return None


@router.post("/kasus/{ref}/duplikat")
def link_duplicate(
    request: Request,
    ctx: Ctx,
    session: Db,
    user: StaffUser,
    ref: str,
    target: Annotated[str, Form()],
) -> Response:
    """Mark this case a duplicate of the case ``target`` (tracking number)."""
    case = _case(ctx, session, user, ref)
    other = find_visible_case(session, user, target, ctx.app.settings.tracking_prefix)
    if other is None or other.id is None or case.id is None:
        return _refused(request, case, f"Kasus {target!r} tidak ditemukan.")
    dedupe = _dedupe()
    try:
        if dedupe is not None:
            change = dedupe.link_manually(session, case.id, other.id, user.actor)
            # the case (and its duplicates, moved along) now follow the primary
            primary = session.get(ComplaintRow, change.primary_id)
            if primary is not None:
                sync_duplicates(session, primary, user.actor)
        elif other.id == case.id:
            raise ValueError("kasus tidak dapat menjadi duplikat dirinya sendiri")
        else:
            case.duplicate_of_id = other.duplicate_of_id or other.id
            case.duplicate_score = None
            case.duplicate_reason = f"linked by hand by {user.actor}"
            session.add(case)
    except ValueError as exc:
        return _failed(request, session, case, exc)
    _audit(ctx, request, session, user, "case_link", case, f"-> {other.tracking_no}")
    return _done(
        request,
        session,
        case,
        f"{case.tracking_no} ditautkan sebagai duplikat {other.tracking_no}.",
    )


@router.post("/kasus/{ref}/lepas-duplikat")
def unlink_duplicate(
    request: Request,
    ctx: Ctx,
    session: Db,
    user: StaffUser,
    ref: str,
    duplicate: Annotated[str, Form()] = "",
) -> Response:
    """Undo a duplicate link: of this case, or (``duplicate``) of one of its
    duplicates."""
    case = _case(ctx, session, user, ref)
    row = case
    if duplicate:
        found = find_visible_case(
            session, user, duplicate, ctx.app.settings.tracking_prefix
        )
        if found is None or found.duplicate_of_id != case.id:
            return _refused(request, case, f"{duplicate!r} bukan duplikat kasus ini.")
        row = found
    dedupe = _dedupe()
    try:
        if dedupe is not None:
            dedupe.unlink(session, row.id, user.actor)
        elif row.duplicate_of_id is None:
            raise ValueError("kasus ini tidak ditautkan")
        else:
            row.duplicate_of_id = row.duplicate_score = row.duplicate_reason = None
            session.add(row)
    except ValueError as exc:
        return _failed(request, session, case, exc)
    _audit(ctx, request, session, user, "case_unlink", row, None)
    return _done(request, session, case, f"Tautan duplikat {row.tracking_no} dilepas.")


@router.post("/kasus/{ref}/kerahasiaan")
def set_confidentiality(
    request: Request,
    ctx: Ctx,
    session: Db,
    user: StaffUser,
    ref: str,
    level: Annotated[str, Form()],
) -> Response:
    """Mark the case anonim or rahasia; only an admin may lower the level."""
    case = _case(ctx, session, user, ref)
    if level not in LEVELS:
        raise HTTPException(400, "Tingkat kerahasiaan tidak dikenal.")
    try:
        change_confidentiality(
            session,
            case,
            level,
            actor=user.actor,
            via="dasbor",
            may_lower=user.is_admin,
        )
    except LoweringRefused:
        return _refused(request, case, "Hanya admin yang dapat menurunkan kerahasiaan.")
    _audit(ctx, request, session, user, "case_confidentiality", case, level)
    said = f"{case.tracking_no} sekarang {level}."
    asked = forwarded_to(session, case) if level != "biasa" else []
    if asked:
        said += (
            " Pengaduan ini sudah diteruskan sebelumnya; "
            f"{', '.join(asked)} telah diminta menghapus identitas pelapor."
        )
    return _done(request, session, case, said, user)


@router.post("/kasus/{ref}/catatan")
def add_note(
    request: Request,
    ctx: Ctx,
    session: Db,
    user: User,
    ref: str,
    text: Annotated[str, Form()] = "",
) -> Response:
    """An internal note on the case (not sent to the citizen)."""
    case = _case(ctx, session, user, ref)
    if not text.strip():
        return _refused(request, case, "Catatan kosong tidak disimpan.")
    assert case.id is not None
    session.add(StaffNote(complaint_id=case.id, author=user.actor, text=text.strip()))
    return _done(request, session, case, "Catatan disimpan.")


@router.post("/kasus/{ref}/pesan")
def message_reporter(
    request: Request,
    ctx: Ctx,
    session: Db,
    user: StaffUser,
    ref: str,
    text: Annotated[str, Form()] = "",
) -> Response:
    """Send the reporter a message through the channel they used (outbox)."""
    case = _case(ctx, session, user, ref)
    if not text.strip():
        return _refused(request, case, "Pesan kosong tidak dikirim.")
    if not ctx.app.pipeline.notify(session, case, text.strip()):
        return _refused(request, case, "Kanal ini tidak dapat membalas pelapor.")
    assert case.id is not None
    session.add(
        StaffNote(
            complaint_id=case.id,
            author=user.actor,
            text=f"pesan ke pelapor: {text.strip()}",
        )
    )
    return _done(request, session, case, "Pesan masuk antrean kirim.")
