"""The web application: staff dashboard (server-rendered, Indonesian) and
the agency API, built by :func:`create_app`."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

import jinja2
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    FileResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import storage.tables  # noqa: F401 - registers the tables in the metadata
from config.settings import Settings
from dengar.app import App
from dengar.sla import SlaPolicy
from dengar.web import (
    account,
    admin,
    api,
    bad_request,
    lapor,
    metrics,
    pages,
    public,
    push,
)
from dengar.web.deps import LoginRequired, WebContext
from dengar.web.forwarded import networks
from dengar.web.labels import install_filters
from dengar.web.lapor_state import form_state
from dengar.web.wording import install_wording
from storage.tables import utcnow

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; "
        "script-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every answer that lacks them.

    Plain ASGI rather than ``@app.middleware("http")``: that wrapper
    (Starlette's BaseHTTPMiddleware) runs every request through anyio task
    groups and memory streams, a large part of the CPU of a webhook's
    answer in the WhatsApp bench's profile."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers.append(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(
    source: App | Settings, *, clock: Callable[[], datetime] | None = None
) -> FastAPI:
    """The FastAPI application for an opened :class:`App` (or settings, which
    are opened here). ``clock`` replaces "now" for SLA clocks in tests."""
    dengar = source if isinstance(source, App) else App.open(source)
    web_settings = dengar.settings.web
    given = web_settings.secret_key
    if given is not None and given.get_secret_value():
        secret = given.get_secret_value()
    else:
        log.warning("web.secret_key is not set: sessions end when Dengar restarts")
        secret = secrets.token_urlsafe(32)

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every template: complaint text is untrusted
        undefined=jinja2.StrictUndefined,
    )
    install_filters(env, dengar.settings)
    install_wording(env)
    templates = Jinja2Templates(env=env)
    ctx = WebContext(
        app=dengar,
        templates=templates,
        sla=SlaPolicy(dengar.settings.sla, dengar.settings.timezone),
        clock=clock or utcnow,
        proxies=networks(web_settings.trusted_proxies),
    )

    web = FastAPI(
        title="Dengar",
        summary="Staff dashboard and agency API of Dengar",
        version="1",
        docs_url=None,  # Swagger UI loads from a CDN; /api/docs is ours
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    web.state.web = ctx
    web.state.tracking_limiter = public.tracking_limiter(
        web_settings.tracking_per_minute
    )
    web.state.lapor = form_state(dengar.settings, secret)
    web.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie="dengar_session",
        max_age=int(web_settings.session_hours * 3600),
        same_site="lax",
        https_only=web_settings.cookie_secure,
    )

    web.add_middleware(SecurityHeaders)

    @web.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired) -> Response:
        query = urlencode({"next": exc.next_path}) if exc.next_path != "/" else ""
        return RedirectResponse("/login" + ("?" + query if query else ""), 303)

    web.add_exception_handler(RequestValidationError, bad_request.handler(templates))

    @web.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse(
                {"detail": exc.detail}, exc.status_code, headers=exc.headers
            )
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status": exc.status_code, "message": exc.detail, "user": None},
            status_code=exc.status_code,
        )

    @web.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        # browsers ask for /favicon.ico before reading the page's <link>
        return FileResponse(
            HERE / "static" / "favicon.svg",
            media_type="image/svg+xml",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    web.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    web.include_router(metrics.router)
    web.include_router(api.router)
    web.include_router(push.router)
    web.include_router(public.router)
    web.include_router(lapor.router)
    web.include_router(pages.router)
    web.include_router(admin.router)
    web.include_router(account.router)
    return web
