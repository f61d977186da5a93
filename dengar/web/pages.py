"""The dashboard's pages (GET) and the login form."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import col, select

from dengar import audit
from dengar.comment_replies import only_tagged, reply_modes
from dengar.status_report import status_report
from dengar.triage import model_suggestions, triage_queue
from dengar.web import actions, ops
from dengar.web.access import (
    actor_of,
    body_of,
    can_see,
    masks_text,
    reporter_of,
    shows_reporter,
    text_of,
)
from dengar.web.auth import (
    Principal,
    authenticate,
    login_wait,
    new_csrf_token,
    record_login,
)
from dengar.web.bad_request import MAX_PAGE
from dengar.web.charts import summary_charts
from dengar.web.deps import Csrf, Ctx, Db, StaffUser, User, WebContext, safe_next
from dengar.web.files import attachment_response, is_image
from dengar.web.pii import PII_LABELS, find_pii
from dengar.web.sessions import end_session, session_user, start_session
from dengar.web.tracking import incident_date
from dengar.web.views import (
    Filters,
    case_detail,
    clocks,
    distinct_values,
    find_visible_case,
    list_cases,
    visible_attachment,
)
from dispatcher.message import load_supporters
from dispatcher.wording import STATUS_LABELS
from storage.tables import ComplaintRow, OutboxRow

router = APIRouter(include_in_schema=False)
router.include_router(actions.router)
router.include_router(ops.router)


def render(
    request: Request,
    ctx: WebContext,
    template: str,
    user: Any,
    status_code: int = 200,
    **data: Any,
) -> Response:
    """A page, with the user and this session's CSRF token."""
    if "csrf" not in request.session:
        request.session["csrf"] = new_csrf_token()
    data.update(user=user, csrf_token=request.session["csrf"], path=request.url.path)
    return ctx.templates.TemplateResponse(
        request, template, data, status_code=status_code
    )


@router.get("/login")
def login_form(request: Request, ctx: Ctx, next: str = "/") -> Response:
    """The login page."""
    return render(request, ctx, "login.html", None, next=safe_next(next), error=None)


@router.post("/login", dependencies=[Csrf])
def login(
    request: Request,
    ctx: Ctx,
    session: Db,
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the password (rate limited per account and address), start a
    fresh session, and go to ``next`` if it is a local page."""
    web = ctx.app.settings.web
    address = ctx.client(request)
    wait = login_wait(
        session,
        name,
        address,
        web.login_max_failures,
        web.login_window_seconds,
        web.login_delay_cap_seconds,
    )
    if wait > 0:
        response = render(
            request,
            ctx,
            "login.html",
            None,
            status_code=429,
            next=safe_next(next),
            error="Terlalu banyak percobaan gagal. "
            f"Silakan coba lagi dalam {_duration(wait)}.",
        )
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    user = authenticate(session, name, password)
    record_login(session, name, address, user is not None)
    if user is None:
        audit.record(
            session, f"web:{name.strip()[:64]}", "login_failed", address=address
        )
        session.commit()
        return render(
            request,
            ctx,
            "login.html",
            None,
            status_code=401,
            next=safe_next(next),
            error="Nama atau kata sandi salah.",
        )
    token = start_session(session, user, web.session_hours)
    audit.record(session, f"web:{user.name}", "login", address=address)
    session.commit()
    request.session.clear()  # no session fixation: a new token after login
    request.session.update(sid=token, csrf=new_csrf_token())
    return RedirectResponse(safe_next(next), 303)


def _duration(seconds: float) -> str:
    """A wait in words: "45 detik", "15 menit"."""
    whole = math.ceil(seconds)
    if whole < 60:
        return f"{whole} detik"
    return f"{math.ceil(whole / 60)} menit"


@router.post("/logout", dependencies=[Csrf])
def logout(request: Request, ctx: Ctx, session: Db) -> Response:
    """End the session, on the server too: the cookie is worth nothing after."""
    token = request.session.get("sid")
    user = session_user(session, token)
    end_session(session, token)
    if user is not None:
        audit.record(session, f"web:{user.name}", "logout", address=ctx.client(request))
    session.commit()
    request.session.clear()
    return RedirectResponse("/login", 303)


@router.get("/api/docs")
def api_docs(request: Request, ctx: Ctx) -> Response:
    """The agency API's reference, rendered from its OpenAPI document."""
    spec = request.app.openapi()
    return render(request, ctx, "api_docs.html", None, spec=spec)


@router.get("/")
def intake(
    request: Request,
    ctx: Ctx,
    session: Db,
    user: User,
    channel: str = "",
    status: str = "",
    agency: str = "",
    category: str = "",
    region: str = "",
    date_from: str = "",
    date_to: str = "",
    q: str = "",
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
) -> Response:
    """The intake list with filters and paging; overdue cases highlighted."""
    filters = Filters(
        channel, status, agency, category, region, date_from, date_to, q, page
    )
    size = ctx.app.settings.web.page_size
    rows, total = list_cases(session, user, filters, size, ctx.sla)
    running = clocks(session, ctx.sla, rows, ctx.sla_now())
    supporters = load_supporters(session, [r.id for r in rows if r.id is not None])
    items = [
        {
            "row": r,
            "clock": running.get(r.id or 0),
            "supporters": supporters.get(r.id or 0, []),
            "supporter_channels": list(
                dict.fromkeys(s.channel for s in supporters.get(r.id or 0, []))
            ),
            "text": (text_of(user, r, r.subject) or body_of(user, r, r))[:140],
            "reporter": reporter_of(user, r, r)["name"] or r.reporter_handle or "-",
        }
        for r in rows
    ]
    pages = max((total + size - 1) // size, 1)
    return render(
        request,
        ctx,
        "cases.html",
        user,
        items=items,
        total=total,
        filters=filters,
        pages=pages,
        options={
            "channel": [c.name for c in ctx.app.settings.channels],
            "status": list(STATUS_LABELS),
            "agency": [a.code for a in ctx.app.settings.agencies],
            "category": distinct_values(session, ComplaintRow.category),
            "region": distinct_values(session, ComplaintRow.region),
        },
    )


def _suggestions(user: Principal, row: ComplaintRow) -> list[dict[str, Any]]:
    """The routing model's suggestions for ``row``, their words masked as
    its text is for ``user`` (a word may be a name or a number)."""
    return [
        {**s, "words": text_of(user, row, ", ".join(s.get("words") or []))}
        for s in model_suggestions(row)
    ]


@router.get("/kasus/{ref}")
def case_page(
    request: Request, ctx: Ctx, session: Db, user: User, ref: str
) -> Response:
    """One case: the original message, thread, files, duplicates, history,
    deliveries, notes, and (for staff) the actions."""
    case = find_visible_case(session, user, ref, ctx.app.settings.tracking_prefix)
    if case is None:
        raise HTTPException(404, "Kasus tidak ditemukan.")
    detail = case_detail(session, user, case)
    running = clocks(session, ctx.sla, [case], ctx.sla_now())
    texts = [case.subject or "", case.original_text] + [
        f.original_text for f in detail.follow_ups
    ]
    pii = sorted({kind for t in texts for kind in find_pii(t)})
    return render(
        request,
        ctx,
        "case.html",
        user,
        case=case,
        d=detail,
        clock=running.get(case.id or 0),
        text=lambda t: text_of(user, case, t),
        body=lambda r: body_of(user, case, r),
        actor=lambda a: actor_of(user, a),
        reporter=lambda r: reporter_of(user, case, r),
        identity_shown=shows_reporter(user, case),
        masked=masks_text(user, case),
        pii=[PII_LABELS[k] for k in pii],
        is_image=is_image,
        agencies=ctx.app.settings.agencies,
        suggestions=lambda r: _suggestions(user, r),
        status_actions=actions.offered_actions(user, case),
        can_reroute=actions.can_reroute(case),
        incident=incident_date(case),
    )


@router.get("/lampiran/{attachment_id}")
def attachment(
    session: Db, user: User, attachment_id: int, unduh: bool = False
) -> Response:
    """An attachment of a case the user may see (images inline, else download)."""
    att = visible_attachment(session, user, attachment_id)
    if att is None:
        raise HTTPException(404, "Lampiran tidak ditemukan.")
    return attachment_response(att, download=unduh)


@router.get("/triase")
def triage_page(request: Request, ctx: Ctx, session: Db, user: StaffUser) -> Response:
    """Social posts awaiting accept/dismiss, and cases an agency sent back."""
    waiting = [r for r in triage_queue(session) if can_see(user, r)]
    posts = [r for r in waiting if r.status == "triage"]
    returned = [r for r in waiting if r.status == "rerouted"]
    return render(
        request,
        ctx,
        "triage.html",
        user,
        posts=posts,
        returned=returned,
        text=lambda r: body_of(user, r, r),
        agencies=ctx.app.settings.agencies,
        suggestions=lambda r: _suggestions(user, r),
        reply_modes=reply_modes,
        only_tagged=only_tagged,
    )


@router.get("/kanal")
def channels_page(
    request: Request, ctx: Ctx, session: Db, user: StaffUser, status: str = "dead"
) -> Response:
    """Channel health and the outbox (undelivered rows, retry)."""
    report = status_report(session, ctx.app.settings)
    query = select(OutboxRow).order_by(col(OutboxRow.created_at).desc()).limit(200)
    if status:
        query = query.where(OutboxRow.status == status)
    rows = session.exec(query).all()
    tracking = {
        c.id: c.tracking_no
        for c in session.exec(
            select(ComplaintRow).where(
                col(ComplaintRow.id).in_({r.complaint_id for r in rows})
            )
        ).all()
    }
    return render(
        request,
        ctx,
        "channels.html",
        user,
        report=report,
        outbox=rows,
        tracking=tracking,
        outbox_status=status,
    )


@router.get("/ringkasan")
def summary_page(request: Request, ctx: Ctx, session: Db, user: User) -> Response:
    """Charts: cases per day by channel, by agency, open vs overdue."""
    charts = summary_charts(session, user, ctx.sla, ctx.sla_now(), ctx.app.settings)
    return render(request, ctx, "summary.html", user, charts=charts)
