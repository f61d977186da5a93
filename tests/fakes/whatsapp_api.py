"""A local emulator of the WhatsApp Business Cloud API (Graph API), for
tests and benchmarks, plus builders of webhook bodies as Meta sends them.

Official shapes (developers.facebook.com/docs/whatsapp/cloud-api): success
of ``POST /<version>/<phone_number_id>/messages`` is ``{"messaging_product":
"whatsapp", "contacts": [{"input", "wa_id"}], "messages": [{"id":
"wamid…"}]}``; ``GET /<version>/<media_id>`` gives ``{"messaging_product",
"url", "mime_type", "sha256", "file_size", "id"}``; the URL is fetched with
the same bearer token. Errors are ``{"error": {"message", "type", "code",
"error_subcode", "fbtrace_id"}}`` (HTTP 400, 401 for a bad token).

Checked as Meta checks them: the bearer token; text bodies up to 4,096
characters; interactive bodies up to 1,024, at most 3 reply buttons with
titles up to 20 characters; location requests (``location_request_message``
with the ``send_location`` action); templates must be registered (approved) with
their language; free-form messages outside the citizen's 24-hour window
fail with 131047; more than ``rate_per_second`` messages in a second from
one number fail with 130429.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web

from channels.meta_signature import sign
from tests.fakes.serve import serve

TOKEN = "EAAG-test-access-token-for-the-emulator"
APP_SECRET = "test-app-secret-0123456789abcdef"
VERIFY_TOKEN = "test-verify-token"
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_NUMBER = "15550783881"
WABA_ID = "102290129340398"


@dataclass
class _Media:
    media_id: str
    data: bytes
    mime_type: str


@dataclass
class _Failure:
    code: int
    message: str
    times: int
    status: int = 400
    subcode: int | None = None


class FailureQueue:
    """Errors a Graph API emulator answers instead of the next calls of a
    kind, as Meta sends them."""

    def __init__(self) -> None:
        self._by_kind: dict[str, list[_Failure]] = {}

    def add(
        self,
        kind: str,
        code: int,
        message: str,
        times: int = 1,
        *,
        status: int = 400,
        subcode: int | None = None,
    ) -> None:
        """The next ``times`` calls of ``kind`` answer error ``code``."""
        self._by_kind.setdefault(kind, []).append(
            _Failure(code, message, times, status, subcode)
        )

    def next(self, kind: str) -> web.Response | None:
        """The error for this call of ``kind``, or None to answer it."""
        failures = self._by_kind.get(kind)
        if not failures:
            return None
        failure = failures[0]
        failure.times -= 1
        if failure.times <= 0:
            failures.pop(0)
        return graph_error(
            failure.code,
            failure.message,
            error_subcode=failure.subcode,
            status=failure.status,
        )


class FakeWhatsAppApi:
    """The Graph API of one business number, on 127.0.0.1."""

    def __init__(self, token: str = TOKEN, phone_number_id: str = PHONE_NUMBER_ID):
        self.token = token
        self.phone_number_id = phone_number_id
        self.base_url = ""
        self.sent: list[dict[str, Any]] = []
        self.sent_at: list[float] = []  # time.monotonic() of each sent message
        self.media: dict[str, _Media] = {}
        self.templates: set[tuple[str, str]] = set()
        self.window_open: set[str] = set()
        self.rate_per_second = 80
        self.calls: list[tuple[str, str]] = []
        self._failures = FailureQueue()
        self._recent: deque[float] = deque()  # arrivals in the last second
        self._ids = itertools.count(1)

    # ------------------------------------------------------------ helpers

    def add_media(self, data: bytes, mime_type: str = "image/jpeg") -> str:
        """Register a file a citizen sent; returns its media id."""
        media_id = str(900000000000000 + next(self._ids))
        self.media[media_id] = _Media(media_id, data, mime_type)
        return media_id

    def approve_template(self, name: str, language: str = "id") -> None:
        """A template approved in WhatsApp Manager."""
        self.templates.add((name, language))

    def citizen_wrote(self, recipient: str) -> None:
        """Open the 24-hour window for ``recipient``."""
        self.window_open.add(recipient)

    def fail(self, kind: str, code: int, message: str, times: int = 1) -> None:
        """The next ``times`` calls of ``kind`` (``messages``, ``media``,
        ``download``) fail with Meta error ``code``."""
        # Meta answers its own outages (1, 2, 131000) with a 5xx
        status = 401 if code == 190 else 500 if code in (1, 2, 131000) else 400
        self._failures.add(kind, code, message, times, status=status)

    # ------------------------------------------------------------ server

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[FakeWhatsAppApi]:
        """Serve on a free loopback port for the duration of the block."""
        app = web.Application(client_max_size=128 * 1024 * 1024)
        app.router.add_get("/download/{media_id}", self._download)
        app.router.add_post("/{version}/{phone}/messages", self._messages)
        app.router.add_get("/{version}/{object_id}", self._object)
        async with serve(app) as self.base_url:
            yield self

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    def _failure(self, kind: str) -> web.Response | None:
        return self._failures.next(kind)

    async def _object(self, request: web.Request) -> web.Response:
        self.calls.append(("GET", request.path))
        if not self._authorised(request):
            return bad_token()
        object_id = request.match_info["object_id"]
        if object_id == self.phone_number_id:
            return web.json_response(
                {
                    "verified_name": "Pemkab Kotabaru",
                    "display_phone_number": DISPLAY_NUMBER,
                    "id": self.phone_number_id,
                    "quality_rating": "GREEN",
                }
            )
        if (failed := self._failure("media")) is not None:
            return failed
        media = self.media.get(object_id)
        if media is None:
            return graph_error(
                100,
                f"Unsupported get request. Object with ID '{object_id}' does not "
                "exist, cannot be loaded due to missing permissions, or does not "
                "support this operation.",
                error_subcode=33,
            )
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "url": f"{self.base_url}/download/{media.media_id}",
                "mime_type": media.mime_type,
                "sha256": hashlib.sha256(media.data).hexdigest(),
                "file_size": len(media.data),
                "id": media.media_id,
            }
        )

    async def _download(self, request: web.Request) -> web.Response:
        self.calls.append(("GET", request.path))
        if not self._authorised(request):
            return web.Response(status=401)
        if (failed := self._failure("download")) is not None:
            return failed
        media = self.media.get(request.match_info["media_id"])
        if media is None:
            return web.Response(status=404)
        return web.Response(body=media.data, content_type=media.mime_type)

    async def _messages(self, request: web.Request) -> web.Response:
        self.calls.append(("POST", request.path))
        if not self._authorised(request):
            return bad_token()
        if request.match_info["phone"] != self.phone_number_id:
            return graph_error(100, "Invalid parameter", error_subcode=33)
        try:
            body = await request.json()
        except ValueError:
            return graph_error(100, "Invalid parameter")
        if (failed := self._failure("messages")) is not None:
            return failed
        now = time.monotonic()
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        self._recent.append(now)
        if len(self._recent) > self.rate_per_second:
            return graph_error(130429, "Rate limit hit")
        problem = self._check(body)
        if problem is not None:
            return problem
        wamid = f"wamid.HBgL{next(self._ids):012d}"
        self.sent.append({**body, "id": wamid})
        self.sent_at.append(time.monotonic())
        recipient = body.get("to") or body.get("recipient")
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": recipient, "wa_id": recipient}],
                "messages": [{"id": wamid}],
            }
        )

    def _check(self, body: dict[str, Any]) -> web.Response | None:
        if body.get("messaging_product") != "whatsapp":
            return graph_error(100, "The parameter messaging_product is required.")
        recipient = body.get("to") or body.get("recipient")
        if not isinstance(recipient, str) or not recipient:
            return graph_error(100, "The parameter to is required.")
        kind = body.get("type", "text")
        if kind == "template":
            template = body.get("template") or {}
            key = (template.get("name"), (template.get("language") or {}).get("code"))
            if key not in self.templates:
                return graph_error(
                    132001, "Template name does not exist in the translation"
                )
            return None
        if recipient not in self.window_open:
            return graph_error(
                131047,
                "Re-engagement message: more than 24 hours have passed since "
                "the recipient last replied to the sender number.",
            )
        if kind == "text":
            text = (body.get("text") or {}).get("body")
            if not isinstance(text, str) or not 1 <= len(text) <= 4096:
                return graph_error(100, "Param text['body'] must be 1-4096 characters")
            return None
        if kind == "interactive":
            interactive = body.get("interactive") or {}
            text = (interactive.get("body") or {}).get("text") or ""
            action = interactive.get("action") or {}
            if not 1 <= len(text) <= 1024:
                return graph_error(131009, "Parameter value is not valid: body text")
            if interactive.get("type") == "location_request_message":
                if action != {"name": "send_location"}:
                    return graph_error(131009, "Parameter value is not valid: action")
                return None
            if interactive.get("type") != "button":
                return graph_error(131009, "Parameter value is not valid: type")
            buttons = action.get("buttons") or []
            if not 1 <= len(buttons) <= 3:
                return graph_error(131009, "Parameter value is not valid: buttons")
            for button in buttons:
                reply = button.get("reply") or {}
                if not 1 <= len(reply.get("title") or "") <= 20:
                    return graph_error(131009, "Button title length invalid")
                if not 1 <= len(reply.get("id") or "") <= 256:
                    return graph_error(131009, "Button id length invalid")
            return None
        return graph_error(131009, f"Unsupported message type {kind}")


def graph_error(
    code: int, message: str, *, error_subcode: int | None = None, status: int = 400
) -> web.Response:
    """An error as the Graph API sends it."""
    error: dict[str, Any] = {
        "message": f"(#{code}) {message}",
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEfGhIjKlMnOpQrStUv",
    }
    if error_subcode is not None:
        error["error_subcode"] = error_subcode
    return web.json_response({"error": error}, status=status)


def bad_token() -> web.Response:
    return graph_error(
        190,
        "Invalid OAuth access token - Cannot parse access token",
        status=401,
    )


# ---------------------------------------------------------------- webhooks


def message_webhook(
    message: dict[str, Any],
    *,
    user_id: str | None = "ID.1234567890123456789",
    wa_id: str | None = "6281234567890",
    name: str = "Budi Santoso",
    phone_number_id: str = PHONE_NUMBER_ID,
) -> dict[str, Any]:
    """A ``messages`` webhook as in Meta's reference, around one message
    (``id``, ``timestamp``, ``from`` and ``from_user_id`` are filled in)."""
    contact: dict[str, Any] = {"profile": {"name": name}}
    full = {"timestamp": str(int(time.time())), **message}
    if wa_id is not None:
        contact["wa_id"] = wa_id
        full.setdefault("from", wa_id)
    if user_id is not None:
        contact["user_id"] = user_id
        full.setdefault("from_user_id", user_id)
    return _envelope(
        {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": DISPLAY_NUMBER,
                "phone_number_id": phone_number_id,
            },
            "contacts": [contact],
            "messages": [full],
        }
    )


def status_webhook(
    wamid: str,
    status: str,
    *,
    recipient: str = "6281234567890",
    errors: list[dict[str, Any]] | None = None,
    phone_number_id: str = PHONE_NUMBER_ID,
) -> dict[str, Any]:
    """A ``statuses`` webhook (sent, delivered, read, failed)."""
    entry: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": str(int(time.time())),
        "recipient_id": recipient,
    }
    if errors:
        entry["errors"] = errors
    return _envelope(
        {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": DISPLAY_NUMBER,
                "phone_number_id": phone_number_id,
            },
            "statuses": [entry],
        }
    )


def _envelope(value: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"value": value, "field": "messages"}]}],
    }


def signed(payload: dict[str, Any], secret: str = APP_SECRET) -> tuple[bytes, str]:
    """The body Meta would POST and its ``X-Hub-Signature-256``."""
    body = json.dumps(payload).encode()
    return body, sign(body, secret)


def channel_settings(api_base_url: str, spool: str, **extra: Any) -> dict[str, Any]:
    """The YAML mapping of a WhatsApp channel on the emulator."""
    return {
        "type": "whatsapp",
        "name": "wa",
        "phone_number_id": PHONE_NUMBER_ID,
        "access_token": TOKEN,
        "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN,
        "api_base_url": api_base_url,
        "spool_directory": spool,
        **extra,
    }


@pytest.fixture
async def whatsapp_api() -> AsyncIterator[FakeWhatsAppApi]:
    """A running emulator, stopped after the test."""
    async with FakeWhatsAppApi().running() as api:
        yield api
