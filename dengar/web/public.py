"""Public pages, without login: the tracking page ``/lacak``.

``/lacak`` shows a form for the tracking number; ``/lacak?no=ADU-7K3M-9Q2D``
shows the case as :mod:`dengar.web.tracking` allows. Unknown and malformed
numbers get the same page with the same status code (200), so nobody learns
which numbers exist; lookups are limited per client address.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dengar.web.deps import Ctx, Db
from dengar.web.ratelimit import RateLimiter
from dengar.web.tracking import MAX_INPUT, find_public_case

router = APIRouter(include_in_schema=False)

TOO_MANY = (
    "Terlalu banyak permintaan dari alamat Anda dalam waktu singkat. Mohon "
    "tunggu sekitar satu menit, lalu coba lagi."
)
NOT_FOUND = (
    "Nomor pelacakan tersebut tidak kami temukan. Periksa kembali penulisannya "
    "sesuai pesan tanda terima yang Anda terima (contoh: {example})."
)
# the number is in the address: no caching, and no Referer to other sites
PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def tracking_limiter(limit_per_minute: int) -> RateLimiter:
    """The limiter of ``/lacak`` lookups (one per application)."""
    return RateLimiter(limit_per_minute, 60.0)


@router.get("/lacak")
def track(request: Request, ctx: Ctx, session: Db, no: str | None = None) -> Response:
    """The public tracking page."""
    settings = ctx.app.settings
    prefix = settings.tracking_prefix
    data: dict[str, Any] = {
        "number": (no or "")[:MAX_INPUT],
        "case": None,
        "error": None,
        "example": f"{prefix}-7K3M-9Q2D",
        "timezone": settings.timezone,
    }
    status = 200
    if no is not None and no.strip():
        limiter: RateLimiter = request.app.state.tracking_limiter
        if not limiter.allow(ctx.client(request)):
            data["error"] = TOO_MANY
            headers = dict(PRIVATE_HEADERS, **{"Retry-After": "60"})
            return _page(ctx, request, data, 429, headers)
        names = {a.code: a.name for a in settings.agencies}
        data["case"] = find_public_case(session, no, prefix, names)
        if data["case"] is None:
            data["error"] = NOT_FOUND.format(example=data["example"])
    return _page(ctx, request, data, status, PRIVATE_HEADERS)


def _page(
    ctx: Ctx, request: Request, data: dict[str, Any], status: int, headers: Any
) -> Response:
    # not pages.render: a public page starts no session (no cookie)
    return ctx.templates.TemplateResponse(
        request, "lacak.html", data, status_code=status, headers=headers
    )
