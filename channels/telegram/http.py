"""HTTP plumbing around python-telegram-bot for the Telegram channel.

- ``RawUpdatesRequest``: the request object for ``getUpdates`` that keeps the
  raw update JSON (see ``channels.telegram.updates`` for why).
- ``install_redactor``/``redact``: Bot API URLs contain the token, and httpx
  (PTB's default client, still used by PTB's own helpers) logs every request
  URL at INFO; both are masked.

Webhook mode has no server of its own: ``channels.telegram.webhook`` is
mounted on the web app.
"""

from __future__ import annotations

import json
from typing import Any

from channels.telegram.aiohttp_backend import AiohttpRequest
from config.redaction import install as install_log_masking
from config.redaction import redact_urls, remember_settings


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
