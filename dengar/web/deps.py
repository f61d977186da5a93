"""Request dependencies: the database session, the logged-in user, the API
key's agency, and the CSRF check on forms."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Form, HTTPException, Request
from fastapi.security import APIKeyHeader
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from dengar.app import App
from dengar.sla import SlaPolicy
from dengar.web.auth import Principal, agency_for_key, csrf_ok, principal_of
from dengar.web.forwarded import Network, client_address
from dengar.web.sessions import session_user
from storage.tables import ComplaintRow, utcnow


@dataclass
class WebContext:
    """What every request handler needs: the installation and its helpers."""

    app: App
    templates: Jinja2Templates
    sla: SlaPolicy
    clock: Callable[[], datetime] = utcnow
    proxies: tuple[Network, ...] = ()

    def client(self, request: Request) -> str:
        """The client's address, through the trusted proxies if any."""
        peer = request.client.host if request.client else None
        return client_address(peer, request.headers, self.proxies)

    def sla_now(self) -> datetime:
        """The time SLA clocks are read at (replaceable in tests)."""
        return self.clock()


class LoginRequired(Exception):
    """Raised by page dependencies when nobody is logged in; answered with a
    redirect to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def context(request: Request) -> WebContext:
    """The application's :class:`WebContext`."""
    ctx: WebContext = request.app.state.web
    return ctx


Ctx = Annotated[WebContext, Depends(context)]


def db(ctx: Ctx) -> Iterator[Session]:
    """A database session for one request; not committed unless the handler
    commits."""
    with ctx.app.sessions() as session:
        yield session


Db = Annotated[Session, Depends(db)]


def current_user(request: Request, session: Db) -> Principal:
    """The logged-in account, or :class:`LoginRequired`. A session ended on
    the server (logout, new password, disabled account, expired) is logged
    out at its next request, whatever cookie it still holds."""
    user = session_user(session, request.session.get("sid"))
    if user is None:
        request.session.clear()
        path = request.url.path
        if request.url.query:
            path += "?" + request.url.query
        raise LoginRequired(path if request.method == "GET" else "/")
    return principal_of(user)


User = Annotated[Principal, Depends(current_user)]


def staff_user(user: User) -> Principal:
    """A logged-in admin or staff member (not an agency account)."""
    if not user.is_staff:
        raise HTTPException(403, "Hanya untuk staf Diskominfo.")
    return user


StaffUser = Annotated[Principal, Depends(staff_user)]


def admin_user(user: User) -> Principal:
    """A logged-in admin."""
    if not user.is_admin:
        raise HTTPException(403, "Hanya untuk admin.")
    return user


AdminUser = Annotated[Principal, Depends(admin_user)]


def check_csrf(request: Request, csrf_token: Annotated[str, Form()] = "") -> None:
    """Refuse a form post whose token is not this session's."""
    if not csrf_ok(request.session.get("csrf"), csrf_token):
        raise HTTPException(
            403, "Formulir kedaluwarsa atau tidak sah (CSRF). Muat ulang halaman."
        )


Csrf = Depends(check_csrf)

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="The agency's key from `dengar agency key CODE`.",
)


def api_agency(
    session: Db, key: Annotated[str | None, Depends(api_key_header)]
) -> Principal:
    """The agency whose key the request carries; 401 otherwise."""
    code = agency_for_key(session, key)
    if code is None:
        raise HTTPException(
            401,
            "missing or unknown API key (header X-API-Key)",
            headers={"WWW-Authenticate": "ApiKey"},
        )
    return Principal(name=f"api:{code}", role="agency", agency_code=code)


ApiAgency = Annotated[Principal, Depends(api_agency)]


def notifier(ctx: WebContext, session: Session) -> Callable[[ComplaintRow, str], None]:
    """``change_status``'s ``notify``: queue the message through the
    pipeline in ``session``, so it commits with the status change."""

    def notify(row: ComplaintRow, text: str) -> None:
        ctx.app.pipeline.notify(session, row, text)

    return notify


def safe_next(target: str | None) -> str:
    """A local path to go to after login; anything else (another site,
    ``//host``, a backslash trick) becomes ``/``."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(ch) < 32 for ch in target)
    ):
        return "/"
    return target
