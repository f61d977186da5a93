"""The citizen web form ``/lapor`` (public, no login, no cookie).

GET renders the form with a fresh form token and ALTCHA challenge. POST
caps the body, checks the address's limit, the token, the proof of work and
every field, then spools the submission (``channels.webform``) and sends the
browser to ``/lapor/terkirim/<form id>``, which shows the tracking number.
Every refusal re-renders the form with the citizen's values and a sentence
saying what to do. "Periksa laporan serupa" re-renders it with the open
cases like this one ("sudah dilaporkan?").
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from channels.webform.captcha import FIELD as CAPTCHA_FIELD
from channels.webform.captcha import challenge_json, solution_valid
from channels.webform.channel import (
    AlreadySent,
    place_of,
    sent_before,
    store,
    text_of,
)
from channels.webform.submission import StoredFile, Submission
from channels.webform.tokens import (
    BadToken,
    check_token,
    new_token,
    tracking_no_for,
)
from channels.webform.validate import Checked, check_form
from config.localtime import local_time, long_date, zone
from dengar.web.deps import Ctx, Db
from dengar.web.form_body import TooLarge, Unreadable, read_form
from dengar.web.lapor_state import HOUR, FormState
from dengar.web.public import TOO_MANY
from dengar.web.ratelimit import RateLimiter
from dengar.web.similar import similar_open_cases
from storage.tables import ComplaintRow

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

MSG = {
    "off": "Formulir pengaduan daring belum diaktifkan.",
    "too_many": (
        "Terlalu banyak laporan dari alamat Anda dalam satu jam. Mohon coba lagi "
        "nanti; laporan darurat sampaikan melalui nomor layanan darurat 112."
    ),
    "too_large": (
        "Kiriman terlalu besar (paling besar {mb} MB seluruhnya). Kecilkan atau "
        "kurangi lampiran, lalu kirim ulang."
    ),
    "unreadable": "Kiriman tidak dapat dibaca. Mohon isi formulir dan kirim ulang.",
    "too_many_parts": (
        "Kiriman berisi terlalu banyak isian atau berkas (paling banyak {files} "
        "berkas lampiran). Mohon isi formulir ini dan kirim ulang."
    ),
    "expired": (
        "Formulir ini sudah kedaluwarsa atau tidak sah. Isian Anda kami "
        "tampilkan lagi; periksa dan kirim ulang."
    ),
    "captcha": (
        "Verifikasi “bukan robot” gagal atau belum selesai. Tunggu hingga kotak "
        "verifikasi tercentang, lalu kirim ulang."
    ),
    "no_js": (
        "Verifikasi “bukan robot” memerlukan JavaScript, dan batas laporan tanpa "
        "JavaScript dari alamat Anda sudah tercapai. Aktifkan JavaScript atau "
        "coba lagi dalam satu jam."
    ),
    "fix": "Laporan belum terkirim. Periksa isian yang ditandai di bawah.",
    "files_again": (
        "Lampiran tidak dapat disimpan di antara dua kiriman: pilih ulang "
        "berkasnya sebelum mengirim."
    ),
    "replay": (
        "Laporan dari formulir ini sudah terkirim sebelumnya; tidak dibuat "
        "laporan baru. Berikut nomor pelacakannya."
    ),
}
_TEXT_FIELDS = (
    "judul", "isi", "tanggal", "kecamatan", "desa", "lokasi_detail", "lat",
    "lon", "sumber_lokasi", "kategori", "kerahasiaan", "kontak", "email",
    "whatsapp", "dukung", "token", "aksi", CAPTCHA_FIELD,
)  # fmt: skip
FILE_FIELD = "lampiran"
_PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _state(request: Request) -> FormState | None:
    state: FormState | None = request.app.state.lapor
    return state


@router.get("/lapor")
def form(request: Request, ctx: Ctx) -> Response:
    """The empty form."""
    state = _state(request)
    if state is None:
        return _off(ctx, request)
    return _render(ctx, request, state, {}, new_token(state.key))


@router.post("/lapor")
async def submit(request: Request, ctx: Ctx, session: Db) -> Response:
    """A submission (or a "periksa laporan serupa" request)."""
    state = _state(request)
    if state is None:
        return _off(ctx, request)
    client = ctx.client(request)
    limit = state.settings.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return _refused(ctx, request, state, "too_large", 413)
    try:
        fields, uploads = await read_form(request, limit, _TEXT_FIELDS, FILE_FIELD)
    except TooLarge:
        return _refused(ctx, request, state, "too_large", 413)
    except Unreadable as exc:
        log.info("/lapor: unreadable form body: %s", exc)
        what = "too_many_parts" if exc.too_many_parts else "unreadable"
        return _refused(ctx, request, state, what, 400)
    except (ValueError, KeyError, AssertionError):
        return _refused(ctx, request, state, "unreadable", 400)
    values = {k: fields.get(k, "") for k in _TEXT_FIELDS}
    s = state.settings
    try:
        token = check_token(state.key, values["token"], s.form_valid_hours * HOUR)
    except BadToken:
        return _render(
            ctx, request, state, values, new_token(state.key), MSG["expired"], 400
        )
    if values["aksi"] == "periksa":
        # a search, limited like the tracking page's lookups
        lookups: RateLimiter = request.app.state.tracking_limiter
        if not lookups.allow(client):
            return _render(
                ctx, request, state, values, values["token"], TOO_MANY, 429,
                headers={"Retry-After": "60"},
            )  # fmt: skip
        similar = await asyncio.to_thread(_similar, ctx, session, state, values)
        notice = MSG["files_again"] if any(n for n, _ in uploads) else None
        return _render(
            ctx, request, state, values, values["token"], notice, 200, similar
        )
    previous = sent_before(state.spool, token.id)
    if previous is not None:
        return _confirmation(ctx, request, previous, MSG["replay"])
    if not state.limiter.allow(client):
        return _render(
            ctx, request, state, values, values["token"], MSG["too_many"], 429,
            headers={"Retry-After": "3600"},
        )  # fmt: skip
    captcha = _captcha(state, values, token.id, client)
    if captcha is not None:
        return _render(ctx, request, state, values, values["token"], captcha, 400)
    today = datetime.now(zone(ctx.app.settings.timezone)).date()
    # decoding and re-encoding photos takes tens of ms: not on the event loop
    checked = await asyncio.to_thread(
        check_form,
        values,
        uploads,
        state.choices,
        today=today,
        max_files=s.max_files,
        max_file_bytes=s.max_file_bytes,
        max_side=s.image_max_pixels,
    )
    if not checked.ok:
        return _render(
            ctx, request, state, checked.values, values["token"], MSG["fix"], 400,
            errors=checked.errors,
        )  # fmt: skip
    prefix = ctx.app.settings.tracking_prefix
    submission = _submission(
        state, session, checked, token.id, tracking_no_for(state.key, token.id, prefix)
    )
    try:
        await asyncio.to_thread(store, state.spool, submission)  # fsyncs
    except AlreadySent as exc:
        return _confirmation(ctx, request, exc.tracking_no, MSG["replay"])
    return RedirectResponse(f"/lapor/terkirim/{token.id}", 303, headers=_PRIVATE)


@router.get("/lapor/terkirim/{form_id}")
def sent(request: Request, ctx: Ctx, form_id: str) -> Response:
    """The confirmation: the tracking number, to keep or print."""
    state = _state(request)
    if state is None:
        return _off(ctx, request)
    number = None
    if len(form_id) == 32 and form_id.isalnum():
        number = sent_before(state.spool, form_id)
    if number is None:
        return _refused(ctx, request, state, "expired", 404)
    return _confirmation(ctx, request, number, None)


def _captcha(
    state: FormState, values: Mapping[str, str], form_id: str, client: str
) -> str | None:
    """Why the proof of work fails, or None. Without JavaScript there is no
    answer at all: allowed a few times an hour per address, marked."""
    if state.settings.captcha == "off":
        return None
    answer = values[CAPTCHA_FIELD]
    if answer:
        return None if solution_valid(state.key, answer, form_id) else MSG["captcha"]
    if state.settings.without_javascript_per_hour and state.without_js.allow(client):
        return None
    return MSG["no_js"]


def _submission(
    state: FormState, session: Db, checked: Checked, form_id: str, number: str
) -> Submission:
    v = checked.values
    assert checked.incident_date is not None
    supports = None
    case_id = state.case_of_ref(v.get("dukung", ""))
    if case_id is not None:
        row = session.get(ComplaintRow, case_id)
        supports = row.tracking_no if row is not None else None
    kind = v.get("kontak") or "none"
    contact = v.get(kind) if kind in ("email", "whatsapp") else None
    if state.settings.captcha == "off":
        captcha = "off"
    else:
        captcha = "altcha" if v.get(CAPTCHA_FIELD) else "none"
    lat, lon = checked.latitude, checked.longitude
    source = v.get("sumber_lokasi") or None
    if lat is None:
        gps = next((f.gps for f in checked.files if f.gps), None)
        source = "foto" if gps else None
        lat, lon = gps if gps else (None, None)
    return Submission(
        form_id=form_id,
        tracking_no=number,
        received_at=datetime.now(UTC),
        title=v["judul"],
        text=v["isi"],
        incident_date=checked.incident_date,
        kecamatan=v.get("kecamatan") or None,
        desa=v.get("desa") or None,
        place_detail=v.get("lokasi_detail") or None,
        latitude=lat,
        longitude=lon,
        location_source=source if lat is not None else None,
        category=v.get("kategori") or None,
        confidentiality=v.get("kerahasiaan") or "biasa",  # type: ignore[arg-type]
        contact_kind=kind,  # type: ignore[arg-type]
        contact=contact,
        supports=supports,
        captcha=captcha,
        files=tuple(
            StoredFile(f.filename, f.content_type, f.data) for f in checked.files
        ),
    )


def _similar(
    ctx: Ctx, session: Db, state: FormState, values: Mapping[str, str]
) -> list[dict[str, Any]]:
    place = place_of(values["desa"], values["kecamatan"], values["lokasi_detail"])
    found = similar_open_cases(
        ctx.app,
        session,
        title=values["judul"],
        # as the case's text will read, so like is compared with like
        text=text_of(values["isi"], place),
        region=values["kecamatan"] or None,
        category=values["kategori"] or None,
        limit=state.settings.similar_cases,
    )
    timezone = ctx.app.settings.timezone
    out = []
    for case in found:
        out.append(
            {
                "ref": state.case_ref(case.id),
                "category": state.category_labels.get(case.category or "", ""),
                "region": case.region,
                "received": long_date(
                    local_time(case.received_at, timezone, "%Y-%m-%d", with_zone=False)
                ),
                "status": case.status,
                "status_label": case.status_label,
            }
        )
    return out


def _render(
    ctx: Ctx,
    request: Request,
    state: FormState,
    values: Mapping[str, str],
    token: str,
    notice: str | None = None,
    status: int = 200,
    similar: list[dict[str, Any]] | None = None,
    errors: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    s = state.settings
    form_id = token.split(".")[0]
    data = {
        "v": {k: values.get(k, "") for k in _TEXT_FIELDS},
        "token": token,
        "notice": notice,
        "failed": status >= 400,
        "errors": dict(errors or {}),
        "similar": similar,
        "places": state.choices.places,
        "categories": state.category_labels,
        "max_files": s.max_files,
        "max_mb": s.max_file_bytes // 1_000_000,
        "captcha": s.captcha,
        "challenge": challenge_json(
            state.key, form_id, s.captcha_max_number, s.form_valid_hours
        )
        if s.captcha == "altcha"
        else "",
        "map": s.map,
        "mail": s.smtp is not None,
        "whatsapp": state.choices.whatsapp,
        "today": datetime.now(zone(ctx.app.settings.timezone)).date().isoformat(),
    }
    response = ctx.templates.TemplateResponse(
        request, "lapor.html", data, status_code=status,
        headers={**_PRIVATE, **(headers or {})},
    )  # fmt: skip
    response.headers["Content-Security-Policy"] = _csp(state)
    return response


def _csp(state: FormState) -> str:
    """The app's policy, with the map's tile server allowed for images."""
    tiles = state.tile_origin.replace("{s}.", "*.")
    return (
        f"default-src 'self'; img-src 'self' data: blob: {tiles}; style-src 'self'; "
        "script-src 'self'; worker-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def _refused(
    ctx: Ctx, request: Request, state: FormState, what: str, status: int
) -> Response:
    mb = state.settings.max_body_bytes // 1_000_000
    notice = MSG[what].format(mb=mb, files=state.settings.max_files)
    return _render(ctx, request, state, {}, new_token(state.key), notice, status)


def _confirmation(
    ctx: Ctx, request: Request, number: str, notice: str | None
) -> Response:
    return ctx.templates.TemplateResponse(
        request,
        "lapor_terkirim.html",
        {"number": number, "notice": notice, "sent_at": time.time()},
        headers=_PRIVATE,
    )


def _off(ctx: Ctx, request: Request) -> Response:
    return ctx.templates.TemplateResponse(
        request,
        "error.html",
        {"status": 404, "message": MSG["off"], "user": None},
        status_code=404,
    )
