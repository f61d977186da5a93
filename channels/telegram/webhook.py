"""What ``/webhooks/telegram/<name>`` answers, without any web framework.

Telegram counts an update as delivered when our endpoint answers 200, so
the update is first stored durably in the channel's spool
(``channels.push_spool``); the channel's ``fetch`` hands it to the pipeline
and ``after_commit`` removes it. A crash in between leaves it in the spool,
and a resend is recognised by ``(channel, "update:<id>")``.

Every request must carry the channel's ``secret_token`` in
``X-Telegram-Bot-Api-Secret-Token`` (compared in constant time); others get
401 and nothing is stored. A body with the right secret that is not a JSON
object (Telegram never sends one) is kept under ``rejected/`` for staff and
answered 400, so it is not sent again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from channels.push import Answer, header, same_secret
from channels.push_spool import PushSpool, spool_for
from config.channel_settings import TelegramChannelSettings

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def spool_of(
    settings: TelegramChannelSettings, base_dir: Path | None = None
) -> PushSpool:
    """The spool directory of one Telegram channel."""
    return spool_for(settings.spool_directory, settings.name, base_dir)


class TelegramWebhook:
    """The push endpoint of one Telegram channel in webhook mode."""

    def __init__(
        self, settings: TelegramChannelSettings, base_dir: Path | None = None
    ) -> None:
        if settings.mode != "webhook" or settings.secret_token is None:
            raise LookupError(f"Telegram channel {settings.name!r} polls")
        self.settings = settings
        self.spool = spool_of(settings, base_dir)
        self.max_body_bytes = settings.max_webhook_bytes
        self._secret = settings.secret_token.get_secret_value()

    def __repr__(self) -> str:
        return f"TelegramWebhook(channel={self.settings.name!r})"

    def handshake(self, params: Mapping[str, str]) -> Answer:
        """Telegram has no subscription check: setWebhook registers us."""
        return Answer(405, "Telegram posts updates here")

    def receive(self, body: bytes, headers: Mapping[str, str]) -> Answer:
        """Check the secret, store the update, answer."""
        if not same_secret(header(headers, SECRET_HEADER), self._secret):
            log.warning(
                "telegram %s: webhook request without the right secret token",
                self.settings.name,
            )
            return Answer(401, "wrong secret token")
        problem = _problem(body)
        if problem:
            self.spool.store(body, rejected=True)
            log.warning(
                "telegram %s: unreadable webhook body kept: %s",
                self.settings.name,
                problem,
            )
            return Answer(400, f"{problem}; kept for review")
        _path, new = self.spool.store(body)
        return Answer(200, "received" if new else "already received")


def _problem(body: bytes) -> str:
    """Why ``body`` cannot be an update, or ''."""
    try:
        update = json.loads(body)
    except (ValueError, RecursionError):
        # not JSON, or nested deeper than the parser goes
        return "body is not JSON (or nested too deep)"
    if not isinstance(update, dict):
        return "an update is a JSON object"
    return ""


def webhook_of(
    settings: TelegramChannelSettings,
    every: Sequence[object] = (),
    base_dir: Path | None = None,
) -> TelegramWebhook:
    """The endpoint of a channel in webhook mode (``channels.push``);
    LookupError for one that polls, so its route answers 404."""
    return TelegramWebhook(settings, base_dir)
