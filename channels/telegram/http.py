"""HTTP plumbing around python-telegram-bot for the Telegram channel.

- ``RawUpdatesRequest``: the request object for ``getUpdates`` that keeps the
  raw update JSON (see ``channels.telegram.updates`` for why).
- ``install_redactor``/``redact``: Bot API URLs contain the token, and httpx
  (PTB's default client, still used by PTB's own helpers) logs every request
  URL at INFO; both are masked.
- ``WebhookReceiver``: webhook mode. Telegram counts an update as delivered
  when our endpoint answers 200, so the answer waits until the runner has
  committed what the update produced (``release(stored=True)`` from
  ``after_commit``). If storing fails, or the process dies, Telegram gets no
  200 and delivers the update again later; ``(channel, external_id)``
  recognises a repeat. Every request must carry the configured
  ``secret_token`` in ``X-Telegram-Bot-Api-Secret-Token``; others get 401 and
  nothing is queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from channels.telegram.aiohttp_backend import AiohttpRequest
from config.redaction import install as install_log_masking
from config.redaction import redact_urls, remember_settings

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger(__name__)


SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram gives up on a webhook request after about a minute; answer 503
# before that so it retries instead of counting a timeout against the bot.
ANSWER_WITHIN = 50.0


@dataclass
class Pending:
    """A received update waiting for its commit."""

    update: Any
    done: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class WebhookReceiver:
    """An aiohttp server on ``host:port`` at ``path`` that queues updates."""

    def __init__(self, host: str, port: int, path: str, secret: str) -> None:
        self.host, self.port, self.path = host, port, path or "/"
        self._secret = secret.encode()
        self._queue: asyncio.Queue[Pending] = asyncio.Queue()
        self._runner: web.AppRunner | None = None

    def __repr__(self) -> str:
        return f"WebhookReceiver({self.host}:{self.port}{self.path})"

    @property
    def running(self) -> bool:
        """True while the server accepts requests."""
        return self._runner is not None

    async def start(self) -> None:
        """Listen for Telegram's requests."""
        if self._runner is not None:
            return
        # aiohttp only for webhook mode: polling installs need nothing more
        from aiohttp import web

        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_post(self.path, self._receive)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner

    async def stop(self) -> None:
        """Stop listening; unconfirmed updates are answered 503 (resent later)."""
        if self._runner is None:
            return
        while not self._queue.empty():
            self.release(self._queue.get_nowait(), stored=False)
        await self._runner.cleanup()
        self._runner = None

    async def take(self, limit: int, wait: float) -> list[Pending]:
        """Up to ``limit`` received updates, waiting up to ``wait`` seconds
        for the first."""
        batch: list[Pending] = []
        if self._queue.empty() and wait > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    batch.append(await self._queue.get())
        while len(batch) < limit and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch

    @staticmethod
    def release(pending: Pending, *, stored: bool) -> None:
        """Answer Telegram: 200 when ``stored``, else 503 so it resends."""
        if not pending.done.done():
            pending.done.set_result(stored)

    async def _receive(self, request: web.Request) -> web.Response:
        from aiohttp import web

        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            log.warning("telegram webhook: request without the right secret token")
            return web.Response(status=401, text="wrong secret token")
        try:
            update = json.loads(await request.read())
        except (ValueError, RecursionError):
            # not JSON (or nested deeper than the parser goes): nothing to
            # store or replay; Telegram never sends this
            return web.Response(
                status=400, text="body is not JSON (or nested too deep)"
            )
        if not isinstance(update, dict):
            return web.Response(status=400, text="an update is a JSON object")
        pending = Pending(update)
        await self._queue.put(pending)
        try:
            async with asyncio.timeout(ANSWER_WITHIN):
                stored = await asyncio.shield(pending.done)
        except TimeoutError:
            stored = False
        if stored:
            return web.Response(status=200)
        return web.Response(status=503, text="not stored yet; send again")


def redact(text: str) -> str:
    """``text`` with any Bot API URL's token masked."""
    return redact_urls(text)


def install_redactor(settings: object = None) -> None:
    """Mask bot tokens and the secrets of ``settings`` in all log records:
    httpx logs every request URL at INFO, Bot API URLs hold the token and PTB
    logs ``setWebhook``'s secret token at DEBUG."""
    install_log_masking()
    if settings is not None:
        remember_settings(settings)


class RawUpdatesRequest(AiohttpRequest):
    """The request object used for ``getUpdates`` only.

    It keeps the raw ``result`` list and gives PTB an empty one, so that one
    update PTB cannot parse does not fail the batch (see telegram_updates).
    """

    raw_updates: list[Any]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.raw_updates = []

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        """Make the HTTP call; on success keep the updates for ``take``."""
        code, payload = await super().do_request(*args, **kwargs)
        if 200 <= code <= 299:
            try:
                data = json.loads(payload)
            except (ValueError, RecursionError):
                return code, payload  # PTB reports the invalid answer
            if isinstance(data, dict) and isinstance(data.get("result"), list):
                self.raw_updates = data["result"]
                return code, json.dumps({**data, "result": []}).encode()
        return code, payload

    def take(self) -> list[Any]:
        """The updates of the last successful call (once)."""
        updates, self.raw_updates = self.raw_updates, []
        return updates
