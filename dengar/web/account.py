"""A user's own account page: change the password. Every other session of
the account ends; this browser gets a fresh one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import select

from dengar import audit
from dengar.web.actions import flash
from dengar.web.auth import AccountError, authenticate, set_password
from dengar.web.deps import Csrf, Ctx, Db, User
from dengar.web.pages import render
from dengar.web.sessions import start_session
from storage.tables import WebUser

router = APIRouter(include_in_schema=False)


@router.get("/akun")
def account_page(request: Request, ctx: Ctx, user: User) -> Response:
    """The form to change one's own password."""
    return render(request, ctx, "account.html", user, error=None)


@router.post("/akun/sandi", dependencies=[Csrf])
def change_own_password(
    request: Request,
    ctx: Ctx,
    session: Db,
    user: User,
    current: Annotated[str, Form()] = "",
    new: Annotated[str, Form()] = "",
    repeat: Annotated[str, Form()] = "",
) -> Response:
    """Check the current password, set the new one, end the other sessions."""

    def refuse(message: str) -> Response:
        session.rollback()
        return render(
            request, ctx, "account.html", user, status_code=400, error=message
        )

    if authenticate(session, user.name, current) is None:
        return refuse("Kata sandi saat ini salah.")
    if new != repeat:
        return refuse("Kata sandi baru dan ulangannya tidak sama.")
    try:
        set_password(session, user.name, new)
    except AccountError as exc:
        return refuse(exc.pesan)
    account = session.exec(select(WebUser).where(WebUser.name == user.name)).one()
    token = start_session(session, account, ctx.app.settings.web.session_hours)
    audit.record(
        session, user.actor, "user_password", user.name, None, ctx.client(request)
    )
    session.commit()
    request.session["sid"] = token
    flash(request, "Kata sandi diganti. Sesi di perangkat lain telah diakhiri.")
    return RedirectResponse("/akun", 303)
