"""A local agency system for the ``http`` sink: three kinds of API at once.

Runs a real aiohttp server on 127.0.0.1, checks credentials and bodies the
way a strict receiver would (401 on bad auth, 400 on a body it cannot
parse), de-duplicates on the idempotency key it is given and hands out
ticket numbers:

- ``/api/v1/tiket`` — a JSON REST ticket system: ``POST`` with
  ``Authorization: Bearer <token>`` and ``Idempotency-Key``, answers
  ``201 {"data": {"id": "TKT-000001", "status": "baru"}}``; ``GET
  /api/v1/tiket/<id>`` answers ``{"data": {"status": …, "catatan": …}}``;
  ``PATCH /api/v1/tiket/<id>`` (same auth and key) replaces its fields.
- ``/surat/masuk`` — a letter registry taking a form post with HTTP Basic
  auth, de-duplicating on the field ``kunci``; answers an HTML page with
  ``Nomor agenda: AG-0001``.
- ``/lapor/api/laporan`` — an XML submission in the style of LAPOR!'s older
  integration samples, with ``X-Api-Key`` (and, with ``require_signature``,
  an HMAC-SHA256 signature of the body in ``X-Signature``); answers
  ``<respon><kode>200</kode><data><id_laporan>LPR-000001</id_laporan>
  </data></respon>``; ``GET
  /lapor/api/laporan/<id>`` answers its ``<status>`` and ``<keterangan>``.

``fail_next(status)`` scripts failures; ``set_status(id, word, note)`` moves
a ticket on as the agency's staff would.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import xml.etree.ElementTree as ET
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from aiohttp import web

from tests.services import free_port


@dataclass
class Seen:
    """One request as it arrived, with what the fake answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Ticket:
    """A case as the agency system holds it."""

    id: str
    fields: dict[str, Any]
    status: str = "baru"
    note: str = ""
    submissions: int = 1


@dataclass
class AgencySystem:
    """See the module docstring."""

    token: str = "token-rahasia-tiket"
    username: str = "dengar"
    password: str = "sandi-surat-2026"
    api_key: str = "kunci-lapor-rahasia"
    hmac_secret: str = "rahasia-tanda-tangan"
    require_signature: bool = False
    port: int = field(default_factory=free_port)
    requests: list[Seen] = field(default_factory=list)
    tickets: dict[str, Ticket] = field(default_factory=dict)
    by_key: dict[str, str] = field(default_factory=dict)
    _plan: deque[int] = field(default_factory=deque)
    _runner: web.AppRunner | None = None

    @property
    def base(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, status: int, times: int = 1) -> None:
        """Answer the next ``times`` requests with ``status``."""
        self._plan.extend([status] * times)

    def set_status(self, ticket_id: str, word: str, note: str = "") -> None:
        """The agency's staff moved the ticket on."""
        self.tickets[ticket_id].status = word
        self.tickets[ticket_id].note = note

    def _new(self, prefix: str, key: str, fields: dict[str, Any]) -> Ticket:
        known = self.by_key.get(key)
        if known is not None:  # a replay: the same ticket, nothing new
            self.tickets[known].submissions += 1
            return self.tickets[known]
        ticket = Ticket(f"{prefix}-{len(self.tickets) + 1:06d}", fields)
        self.tickets[ticket.id] = ticket
        self.by_key[key] = ticket.id
        return ticket

    # -- handlers ----------------------------------------------------------

    async def _record(self, request: web.Request, respond: Any) -> web.Response:
        body = await request.read()
        if self._plan:
            response = web.Response(status=self._plan.popleft(), text="gangguan")
        else:
            response = respond(request, body)
        self.requests.append(
            Seen(
                request.method,
                request.path,
                dict(request.headers),
                body,
                response.status,
            )
        )
        return response

    def _json_post(self, request: web.Request, body: bytes) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "unauthorized"}, status=401)
        key = request.headers.get("Idempotency-Key")
        if not key:
            return web.json_response({"error": "Idempotency-Key wajib"}, status=422)
        try:
            data = json.loads(body)
        except ValueError:
            return web.json_response({"error": "invalid JSON"}, status=400)
        ticket = self._new("TKT", key, data)
        return web.json_response(
            {"data": {"id": ticket.id, "status": ticket.status}}, status=201
        )

    def _json_get(self, request: web.Request, _body: bytes) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "unauthorized"}, status=401)
        ticket = self.tickets.get(request.match_info["id"])
        if ticket is None:
            return web.json_response({"error": "not found"}, status=404)
        return web.json_response(
            {"data": {"id": ticket.id, "status": ticket.status, "catatan": ticket.note}}
        )

    def _json_patch(self, request: web.Request, body: bytes) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "unauthorized"}, status=401)
        if not request.headers.get("Idempotency-Key"):
            return web.json_response({"error": "Idempotency-Key wajib"}, status=422)
        ticket = self.tickets.get(request.match_info["id"])
        if ticket is None:
            return web.json_response({"error": "not found"}, status=404)
        try:
            ticket.fields = json.loads(body)
        except ValueError:
            return web.json_response({"error": "invalid JSON"}, status=400)
        return web.json_response({"data": {"id": ticket.id}})

    def _form_post(self, request: web.Request, body: bytes) -> web.Response:
        expected = base64.b64encode(f"{self.username}:{self.password}".encode())
        if request.headers.get("Authorization") != f"Basic {expected.decode()}":
            return web.Response(status=401, text="login diperlukan")
        if request.content_type != "application/x-www-form-urlencoded":
            return web.Response(status=415, text="form saja")
        fields = dict(parse_qsl(body.decode(), strict_parsing=True))
        ticket = self._new("AG", fields.get("kunci", ""), fields)
        page = f"<html><body><p>Surat diterima. Nomor agenda: {ticket.id}</p></body>"
        return web.Response(text=page, content_type="text/html")

    def _xml_auth(self, request: web.Request, body: bytes) -> bool:
        signature = (
            "sha256="
            + hmac.new(self.hmac_secret.encode(), body, hashlib.sha256).hexdigest()
        )
        signed = hmac.compare_digest(request.headers.get("X-Signature", ""), signature)
        keyed = request.headers.get("X-Api-Key") == self.api_key
        return keyed and (signed or not self.require_signature)

    def _xml_post(self, request: web.Request, body: bytes) -> web.Response:
        if not self._xml_auth(request, body):
            return _xml(
                401, "<respon><kode>401</kode><pesan>akses ditolak</pesan></respon>"
            )
        try:
            root = ET.fromstring(body)
        except ET.ParseError as exc:
            return _xml(
                400,
                f"<respon><kode>400</kode><pesan>{escape(str(exc))}</pesan></respon>",
            )
        fields = {child.tag: "".join(child.itertext()) for child in root}
        ticket = self._new("LPR", fields.get("id_referensi", ""), fields)
        return _xml(
            200,
            "<respon><kode>200</kode><pesan>laporan diterima</pesan>"
            f"<data><id_laporan>{ticket.id}</id_laporan></data></respon>",
        )

    def _xml_get(self, request: web.Request, body: bytes) -> web.Response:
        if not self._xml_auth(request, body):
            return _xml(401, "<respon><kode>401</kode></respon>")
        ticket = self.tickets.get(request.match_info["id"])
        if ticket is None:
            return _xml(404, "<respon><kode>404</kode></respon>")
        return _xml(
            200,
            f"<respon><kode>200</kode><data><status>{escape(ticket.status)}</status>"
            f"<keterangan>{escape(ticket.note)}</keterangan></data></respon>",
        )

    # -- life --------------------------------------------------------------

    async def __aenter__(self) -> AgencySystem:
        app = web.Application()

        def route(method: str, path: str, respond: Any) -> None:
            async def handle(request: web.Request) -> web.Response:
                return await self._record(request, respond)

            app.router.add_route(method, path, handle)

        route("POST", "/api/v1/tiket", self._json_post)
        route("GET", "/api/v1/tiket/{id}", self._json_get)
        route("PATCH", "/api/v1/tiket/{id}", self._json_patch)
        route("POST", "/surat/masuk", self._form_post)
        route("POST", "/lapor/api/laporan", self._xml_post)
        route("GET", "/lapor/api/laporan/{id}", self._xml_get)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def _xml(status: int, text: str) -> web.Response:
    return web.Response(
        status=status,
        text='<?xml version="1.0" encoding="UTF-8"?>' + text,
        content_type="application/xml",
    )
