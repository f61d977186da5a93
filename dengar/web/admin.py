"""The admin's pages: accounts and agency API keys (``/admin``) and the
audit log (``/audit``). The same changes as ``dengar user …`` and ``dengar
agency key …``, recorded in the audit log with the admin's name and address."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from dengar import audit
from dengar.web.actions import done, refused
from dengar.web.auth import (
    ROLE_LABELS,
    ROLES,
    AccountError,
    Principal,
    add_user,
    api_keys,
    audit_account_change,
    list_users,
    revoke_api_key,
    rotate_api_key,
    set_active,
    set_password,
)
from dengar.web.bad_request import MAX_PAGE
from dengar.web.deps import AdminUser, Csrf, Ctx, Db, WebContext
from dengar.web.pages import render

router = APIRouter(include_in_schema=False)
forms = APIRouter(include_in_schema=False, dependencies=[Csrf])

AUDIT_PAGE_SIZE = 100


def _page(
    request: Request,
    ctx: WebContext,
    session: Session,
    user: Principal,
    new_key: tuple[str, str] | None = None,
) -> Response:
    response = render(
        request,
        ctx,
        "admin.html",
        user,
        users=list_users(session),
        keys=api_keys(session),
        agencies=ctx.app.settings.agencies,
        roles=[(r, ROLE_LABELS[r]) for r in ROLES],
        role_labels=ROLE_LABELS,
        new_key=new_key,
    )
    response.headers["Cache-Control"] = "no-store"  # a new key is on it once
    return response


@router.get("/admin")
def admin_page(request: Request, ctx: Ctx, session: Db, user: AdminUser) -> Response:
    """Accounts and API keys."""
    return _page(request, ctx, session, user)


def _account_change(
    request: Request,
    ctx: WebContext,
    session: Session,
    user: Principal,
    action: str,
    change: Callable[[], Any],
    said: str,
) -> Response:
    try:
        account = change()
    except AccountError as exc:
        return refused(request, "/admin", exc.pesan, session)
    audit_account_change(session, user.actor, action, account, ctx.client(request))
    return done(request, session, "/admin", said.format(name=account.name))


@forms.post("/admin/pengguna")
def add_account(
    request: Request,
    ctx: Ctx,
    session: Db,
    user: AdminUser,
    name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    agency: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    """Create an account (or replace an existing one's role and password)."""
    known = frozenset(a.code for a in ctx.app.settings.agencies)
    return _account_change(
        request,
        ctx,
        session,
        user,
        "user_add",
        lambda: add_user(
            session,
            name,
            password,
            role,
            (agency.strip() or None) if role == "agency" else None,
            known,
        ),
        "Akun {name} disimpan.",
    )


@forms.post("/admin/pengguna/{name}/nonaktifkan")
def disable_account(
    request: Request, ctx: Ctx, session: Db, user: AdminUser, name: str
) -> Response:
    """Disable an account; its open sessions end at once."""
    if name == user.name:
        return refused(
            request, "/admin", "Anda tidak dapat menonaktifkan akun Anda sendiri."
        )
    return _account_change(
        request,
        ctx,
        session,
        user,
        "user_disable",
        lambda: set_active(session, name, False),
        "Akun {name} dinonaktifkan; sesinya telah diakhiri.",
    )


@forms.post("/admin/pengguna/{name}/aktifkan")
def enable_account(
    request: Request, ctx: Ctx, session: Db, user: AdminUser, name: str
) -> Response:
    """Let a disabled account log in again."""
    return _account_change(
        request,
        ctx,
        session,
        user,
        "user_enable",
        lambda: set_active(session, name, True),
        "Akun {name} diaktifkan kembali.",
    )


@forms.post("/admin/pengguna/{name}/sandi")
def reset_account_password(
    request: Request,
    ctx: Ctx,
    session: Db,
    user: AdminUser,
    name: str,
    password: Annotated[str, Form()] = "",
) -> Response:
    """Give an account a new password; its open sessions end at once."""
    return _account_change(
        request,
        ctx,
        session,
        user,
        "user_password",
        lambda: set_password(session, name, password),
        "Kata sandi {name} diganti; sesinya telah diakhiri.",
    )


def _agency(ctx: WebContext, code: str) -> str:
    code = code.strip().upper()
    if code not in {a.code for a in ctx.app.settings.agencies}:
        raise HTTPException(404, "Instansi tidak dikenal.")
    return code


@forms.post("/admin/kunci/{code}/buat")
def new_key(
    request: Request, ctx: Ctx, session: Db, user: AdminUser, code: str
) -> Response:
    """Create or replace an agency's API key and show it, this once."""
    code = _agency(ctx, code)
    key = rotate_api_key(session, code)
    audit.record(session, user.actor, "key_rotate", code, None, ctx.client(request))
    session.commit()
    return _page(request, ctx, session, user, new_key=(code, key))


@forms.post("/admin/kunci/{code}/cabut")
def revoke_key(
    request: Request, ctx: Ctx, session: Db, user: AdminUser, code: str
) -> Response:
    """Revoke an agency's API key: it stops working at once."""
    code = _agency(ctx, code)
    if not revoke_api_key(session, code):
        return refused(request, "/admin", f"{code} tidak memiliki kunci API.")
    audit.record(session, user.actor, "key_revoke", code, None, ctx.client(request))
    return done(request, session, "/admin", f"Kunci API {code} dicabut.")


@router.get("/audit")
def audit_page(
    request: Request,
    ctx: Ctx,
    session: Db,
    user: AdminUser,
    aksi: str = "",
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
) -> Response:
    """The audit log, newest first, optionally of one kind of action."""
    action = aksi if aksi in audit.ACTION_LABELS else ""
    rows, total = audit.page_of(session, page, AUDIT_PAGE_SIZE, action)
    return render(
        request,
        ctx,
        "audit.html",
        user,
        rows=rows,
        total=total,
        page=page,
        pages=max((total + AUDIT_PAGE_SIZE - 1) // AUDIT_PAGE_SIZE, 1),
        action=action,
        action_labels=audit.ACTION_LABELS,
    )


router.include_router(forms)
