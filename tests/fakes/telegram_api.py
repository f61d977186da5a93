"""A local emulator of the Telegram Bot API, for tests and benchmarks.

It speaks the official HTTP shapes (https://core.telegram.org/bots/api) so the
real python-telegram-bot client can talk to it: ``{"ok": true, "result": …}``
on success, ``{"ok": false, "error_code": N, "description": …}`` on failure,
``parameters.retry_after`` on 429. Request parameters arrive as query string,
form fields (non-string values JSON-encoded, as PTB sends them), multipart or
a JSON body.

Served: ``getMe``, ``deleteWebhook``, ``setWebhook``, ``getWebhookInfo``,
``getUpdates`` (drops updates below ``offset`` for good, long-polls up to
``timeout``), ``sendMessage`` (with an ``inline_keyboard`` ``reply_markup``,
checked as the Bot API does: callback_data of 1-64 bytes), ``answerCallbackQuery``
(each query answered at most once, unknown or answered ids refused like
Telegram refuses them), ``getFile`` and ``GET /file/bot<token>/<path>``.

Test helpers: ``push_update`` / ``push_message`` feed updates in,
``add_file`` registers a downloadable file, ``fail(method, …)`` makes the next
calls fail (429 with ``retry_after``, 5xx, …), ``block(chat_id)`` makes
``sendMessage`` answer 403 "bot was blocked by the user", ``sent`` and
``wait_sent`` show what the bot sent, ``press_button`` is a citizen tapping
an inline button of a sent message (a ``callback_query`` update) and
``answered`` the bot's answers to those presses.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from config.settings import Settings
from tests.fakes.serve import serve

TOKEN = "123456:TEST-token_for-the-emulator"
BOT_USER = {
    "id": 123456,
    "is_bot": True,
    "first_name": "Dengar Test",
    "username": "dengar_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
    "can_connect_to_business": False,
    "has_main_web_app": False,
}
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # the public server's getFile limit
_TEXT_FIELDS = frozenset({"text", "caption", "url", "secret_token", "file_id"})


@dataclass
class _Failure:
    status: int
    description: str
    retry_after: int | None
    times: int


@dataclass
class _File:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes


@dataclass
class SentMessage:
    """A message the bot sent through ``sendMessage``."""

    chat_id: int
    message_id: int
    text: str
    reply_to_message_id: int | None
    at: float = field(default_factory=time.monotonic)
    reply_markup: dict[str, Any] | None = None

    def buttons(self) -> list[tuple[str, str]]:
        """``(text, callback_data)`` of the message's inline buttons."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [(b["text"], b["callback_data"]) for row in rows for b in row]


class FakeTelegramApi:
    """The emulator; ``base_url`` is ``http://127.0.0.1:<port>``."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.base_url = ""
        self.updates: list[dict[str, Any]] = []
        self.sent: list[SentMessage] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.webhook_url = ""
        self.blocked: set[int] = set()
        self.files: dict[str, _File] = {}
        # file ids whose download answers 404 (the file path expired or is gone)
        self.gone: set[str] = set()
        # callback query id -> answer (None until the bot answers)
        self.callback_queries: dict[str, dict[str, Any] | None] = {}
        self._query_ids = itertools.count(7_000_000)
        self._failures: dict[str, list[_Failure]] = {}
        self._update_ids = itertools.count(100_000)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._changed = asyncio.Condition()
        # the time each update was handed out by getUpdates (for bench/)
        self.delivered_at: dict[int, float] = {}

    # ------------------------------------------------------------ test helpers

    async def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue ``update`` (an ``update_id`` is assigned when it has none)."""
        update = dict(update)
        update.setdefault("update_id", next(self._update_ids))
        async with self._changed:
            self.updates.append(update)
            self._changed.notify_all()
        return update

    async def push_message(
        self,
        chat_id: int,
        text: str | None = None,
        *,
        edited: bool = False,
        **fields: Any,
    ) -> dict[str, Any]:
        """Queue a private-chat message from user ``chat_id``; ``fields`` are
        extra Message fields (``photo``, ``location``, ``reply_to_message`` …).
        A text starting with ``/`` gets its ``bot_command`` entity."""
        message = self.make_message(chat_id, text, **fields)
        if edited:
            message["edit_date"] = message["date"] + 5
        key = "edited_message" if edited else "message"
        return await self.push_update({key: message})

    async def press_button(self, sent: SentMessage, data: str) -> dict[str, Any]:
        """The citizen of ``sent``'s chat taps its button with callback_data
        ``data`` (which the message must have): a ``callback_query`` update,
        shaped as Telegram sends it."""
        if data not in [d for _t, d in sent.buttons()]:
            raise AssertionError(f"message {sent.message_id} has no button {data!r}")
        query_id = str(next(self._query_ids))
        self.callback_queries[query_id] = None
        user = {
            "id": sent.chat_id,
            "is_bot": False,
            "first_name": f"Warga {sent.chat_id}",
        }
        chat = {"id": sent.chat_id, "type": "private", "first_name": user["first_name"]}
        query = {
            "id": query_id,
            "from": user,
            "message": {
                "message_id": sent.message_id,
                "from": {
                    k: BOT_USER[k] for k in ("id", "is_bot", "first_name", "username")
                },
                "chat": chat,
                "date": int(time.time()),
                "text": sent.text,
                "reply_markup": sent.reply_markup,
            },
            "chat_instance": str(-sent.chat_id * 7919),
            "data": data,
        }
        return await self.push_update({"callback_query": query})

    @property
    def answered(self) -> dict[str, dict[str, Any]]:
        """The callback queries the bot answered, with its answer."""
        return {k: v for k, v in self.callback_queries.items() if v is not None}

    async def edit_message(
        self, message: dict[str, Any], text: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Queue the ``edited_message`` update Telegram sends when the user
        edits ``message`` (as returned in a pushed update): the same
        ``message_id``, ``chat`` and ``date``, the new text or fields, and an
        ``edit_date`` later than the date and any earlier edit's."""
        edited = {**message, **fields}
        if text is not None:
            edited["text"] = text
        previous = int(message.get("edit_date", message["date"]))
        edited["edit_date"] = max(int(time.time()), previous + 1)
        return await self.push_update({"edited_message": edited})

    def make_message(
        self, chat_id: int, text: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """A Message object as Telegram sends it for a private chat."""
        user = {
            "id": chat_id,
            "is_bot": False,
            "first_name": f"Warga {chat_id}",
            "username": f"warga{chat_id}",
            "language_code": "id",
        }
        chat = {
            "id": chat_id,
            "type": "private",
            "first_name": user["first_name"],
            "username": user["username"],
        }
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id),
            "from": user,
            "chat": chat,
            "date": int(time.time()),
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                length = len(text.split()[0])
                message["entities"] = [
                    {"type": "bot_command", "offset": 0, "length": length}
                ]
        message.update(fields)
        return message

    def add_file(self, data: bytes, *, suffix: str = "jpg") -> dict[str, Any]:
        """Register a downloadable file; returns ``file_id``/``file_unique_id``/
        ``file_size`` to put in a PhotoSize, Document, Voice …"""
        digest = hashlib.sha256(data).hexdigest()
        file_id = f"AgAC{digest[:28]}{len(self.files)}"
        unique = f"AQAD{digest[:12]}"
        folder = "photos" if suffix == "jpg" else "documents"
        path = f"{folder}/file_{len(self.files)}.{suffix}"
        self.files[file_id] = _File(file_id, unique, path, data)
        return {"file_id": file_id, "file_unique_id": unique, "file_size": len(data)}

    def fail(
        self,
        method: str,
        status: int = 429,
        *,
        retry_after: int | None = None,
        description: str | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with ``status``."""
        if description is None:
            description = {
                429: f"Too Many Requests: retry after {retry_after or 1}",
                500: "Internal Server Error",
                502: "Bad Gateway",
                401: "Unauthorized",
            }.get(status, "Bad Request")
        if status == 429 and retry_after is None:
            retry_after = 1
        failure = _Failure(status, description, retry_after, times)
        self._failures.setdefault(method, []).append(failure)

    def block(self, chat_id: int) -> None:
        """The user ``chat_id`` blocks the bot: sendMessage answers 403."""
        self.blocked.add(chat_id)

    def offsets_seen(self) -> list[int | None]:
        """The ``offset`` of every getUpdates call, in order."""
        seen = [p.get("offset") for m, p in self.calls if m == "getUpdates"]
        return [None if o in (None, "") else int(o) for o in seen]

    async def wait_sent(self, count: int, timeout: float = 5.0) -> list[SentMessage]:
        """Wait until the bot has sent at least ``count`` messages."""
        async with asyncio.timeout(timeout):
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.sent) >= count)
        return self.sent

    # ------------------------------------------------------------ server

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[FakeTelegramApi]:
        """Serve on a free loopback port for the duration of the block."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        async with serve(app) as self.base_url:
            try:
                yield self
            finally:
                async with self._changed:
                    self._changed.notify_all()

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await _params(request)
        self.calls.append((method, params))
        failures = self._failures.get(method)
        if failures:
            failure = failures[0]
            failure.times -= 1
            if failure.times <= 0:
                failures.pop(0)
            extra = (
                {"retry_after": failure.retry_after}
                if failure.retry_after is not None
                else None
            )
            return _error(failure.status, failure.description, extra)
        handler = getattr(self, f"_m_{method.lower()}", None)
        if handler is None:
            return _error(404, "Not Found")
        try:
            result = await handler(params)
        except _ApiError as exc:
            return _error(exc.status, exc.description)
        return web.json_response({"ok": True, "result": result})

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        path = request.match_info["path"]
        for file in self.files.values():
            if file.file_path == path and file.file_id not in self.gone:
                return web.Response(body=file.data)
        return web.Response(status=404, text="Not Found")

    # ------------------------------------------------------------ methods

    async def _m_getme(self, params: dict[str, Any]) -> Any:
        return BOT_USER

    async def _m_deletewebhook(self, params: dict[str, Any]) -> Any:
        self.webhook_url = ""
        if params.get("drop_pending_updates"):
            self.updates.clear()
        return True

    async def _m_setwebhook(self, params: dict[str, Any]) -> Any:
        self.webhook_url = str(params.get("url", ""))
        return True

    async def _m_getwebhookinfo(self, params: dict[str, Any]) -> Any:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
        }

    async def _m_getupdates(self, params: dict[str, Any]) -> Any:
        if self.webhook_url:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _int(params, "offset", 0)
        limit = min(max(_int(params, "limit", 100), 1), 100)
        timeout = max(_int(params, "timeout", 0), 0)
        async with self._changed:
            # Telegram forgets every update below a positive offset for good:
            # that is how the bot confirms them.
            if offset > 0:
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
            elif offset < 0:
                self.updates = self.updates[offset:]
            if not self.updates and timeout:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._changed.wait_for(lambda: bool(self.updates))
            batch = self.updates[:limit]
        now = time.monotonic()
        for update in batch:
            self.delivered_at.setdefault(update["update_id"], now)
        return batch

    async def _m_sendmessage(self, params: dict[str, Any]) -> Any:
        chat_id = _int(params, "chat_id", 0)
        if not chat_id:
            raise _ApiError(400, "Bad Request: chat not found")
        text = str(params.get("text") or "")
        if not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise _ApiError(400, "Bad Request: message is too long")
        if chat_id in self.blocked:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        reply_to = None
        reply_parameters = params.get("reply_parameters")
        if isinstance(reply_parameters, dict):
            reply_to = reply_parameters.get("message_id")
        elif "reply_to_message_id" in params:
            reply_to = _int(params, "reply_to_message_id", 0)
        markup = _inline_keyboard(params.get("reply_markup"))
        message_id = self._next_message_id(chat_id)
        result: dict[str, Any] = {
            "message_id": message_id,
            "from": {
                k: BOT_USER[k] for k in ("id", "is_bot", "first_name", "username")
            },
            "chat": {
                "id": chat_id,
                "type": "private",
                "first_name": f"Warga {chat_id}",
            },
            "date": int(time.time()),
            "text": text,
        }
        if markup is not None:
            result["reply_markup"] = markup
        if reply_to:
            result["reply_to_message"] = {
                "message_id": reply_to,
                "chat": result["chat"],
                "date": result["date"],
            }
        async with self._changed:
            self.sent.append(
                SentMessage(chat_id, message_id, text, reply_to, reply_markup=markup)
            )
            self._changed.notify_all()
        return result

    async def _m_answercallbackquery(self, params: dict[str, Any]) -> Any:
        query_id = str(params.get("callback_query_id") or "")
        if not query_id:
            raise _ApiError(
                400, 'Bad Request: parameter "callback_query_id" is required'
            )
        if query_id not in self.callback_queries or self.callback_queries[query_id]:
            raise _ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or "
                "query ID is invalid",
            )
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise _ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self.callback_queries[query_id] = {
            "text": text,
            "show_alert": bool(params.get("show_alert", False)),
        }
        return True

    async def _m_getfile(self, params: dict[str, Any]) -> Any:
        file = self.files.get(str(params.get("file_id", "")))
        if file is None:
            raise _ApiError(400, "Bad Request: invalid file_id")
        if len(file.data) > MAX_DOWNLOAD_BYTES:
            raise _ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": file.file_id,
            "file_unique_id": file.file_unique_id,
            "file_size": len(file.data),
            "file_path": file.file_path,
        }

    def _next_message_id(self, chat_id: int) -> int:
        counter = self._message_ids.setdefault(chat_id, itertools.count(1))
        return next(counter)


def bot_settings(api: FakeTelegramApi, database_url: str, **channel: Any) -> Settings:
    """A one-agency installation whose only channel is a bot on ``api``."""
    return Settings.model_validate(
        {
            "database_url": database_url,
            "agencies": [{"code": "PUPR", "name": "Dinas PUPR"}],
            "routing": {"default_agency": "PUPR"},
            "channels": [
                {
                    "type": "telegram",
                    "name": "bot",
                    "token": TOKEN,
                    "api_base_url": api.base_url,
                    "long_poll_timeout": 0,
                    **channel,
                }
            ],
        }
    )


class _ApiError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _error(
    status: int, description: str, parameters: dict[str, Any] | None = None
) -> web.Response:
    body: dict[str, Any] = {
        "ok": False,
        "error_code": status,
        "description": description,
    }
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)


async def _params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            params.update(await request.json())
        else:
            form = await request.post()
            for key, value in form.items():
                params[key] = value if isinstance(value, str) else value.file.read()
    # PTB JSON-encodes non-string values inside form fields ("false", "{...}").
    for key, value in list(params.items()):
        if not isinstance(value, str) or key in _TEXT_FIELDS:
            continue
        if value in ("true", "false"):
            params[key] = value == "true"
        elif value[:1] in ("{", "["):
            with contextlib.suppress(ValueError):
                params[key] = json.loads(value)
    return params


def _inline_keyboard(markup: Any) -> dict[str, Any] | None:
    """A sendMessage ``reply_markup`` checked as Telegram checks an inline
    keyboard; other markups are kept as they came."""
    if markup in (None, ""):
        return None
    if not isinstance(markup, dict):
        raise _ApiError(
            400, "Bad Request: can't parse reply keyboard markup JSON object"
        )
    rows = markup.get("inline_keyboard")
    if rows is None:
        return markup
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise _ApiError(400, 'Bad Request: field "inline_keyboard" must be an Array')
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not str(button.get("text") or ""):
                raise _ApiError(
                    400,
                    "Bad Request: text buttons are unallowed in the inline keyboard",
                )
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return markup


def _int(params: dict[str, Any], name: str, default: int) -> int:
    value = params.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _ApiError(400, f"Bad Request: invalid {name}") from None


@pytest.fixture
async def telegram_api() -> AsyncIterator[FakeTelegramApi]:
    """A running emulator, stopped after the test."""
    async with FakeTelegramApi().running() as api:
        yield api
