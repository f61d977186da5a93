"""A Telegram bot as a complaint channel (python-telegram-bot ``Bot``).

Long polling is done here, not by PTB's ``Application``/``Updater``: the
updater confirms updates to Telegram (the next ``getUpdates`` offset) before
our transaction stored them. ``fetch`` asks for updates from the stored
offset and returns the offset after them as the cursor; Telegram learns that
they are confirmed only on the next ``fetch``, which the runner makes after
the commit. A crash in between brings the same updates again, recognised by
``(channel, external_id)``. In webhook mode Telegram posts each update to
the web app (``channels.telegram.webhook``), which answers 200 once the
update is in the channel's spool; ``fetch`` reads the spool and
``after_commit`` removes what was stored, so a crash in between hands the
same updates again.

Conversion of each update lives in ``channels.telegram.updates``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import warnings
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

# Opt in to PTB's documented future behaviour (time periods as timedelta):
# without it PTB 22 emits a deprecation warning inside RetryAfter's own
# constructor, which under ``-W error`` replaces the RetryAfter we must see.
os.environ.setdefault("PTB_TIMEDELTA", "true")

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from channels.push_spool import PushSpool, SpooledBody
from channels.telegram.aiohttp_backend import AiohttpRequest
from channels.telegram.http import RawUpdatesRequest, install_redactor, redact
from channels.telegram.replay import replay_update
from channels.telegram.updates import (
    Converted,
    FileRef,
    MalformedUpdate,
    Skipped,
    convert_update,
    reply_target,
    split_text,
    update_id_of,
)
from channels.telegram.webhook import spool_of
from config.channel_settings import TelegramChannelSettings
from contracts.channel import FetchResult
from contracts.errors import (
    FatalChannelError,
    RecipientUnreachable,
    ReplyRetriable,
    RetriableChannelError,
)
from contracts.records import (
    InboundAttachment,
    InboundMessage,
    MissingFile,
    OutgoingReply,
    RejectedItem,
)

log = logging.getLogger(__name__)


class TelegramChannel:
    """Complaints sent to a Telegram bot; also sends replies to chats."""

    def __init__(
        self, settings: TelegramChannelSettings, base_dir: Path | None = None
    ) -> None:
        self.name = settings.name
        self.settings = settings
        install_redactor(settings)
        base = settings.api_base_url.rstrip("/")
        self._updates_request = RawUpdatesRequest(
            connection_pool_size=1, read_timeout=10.0, connect_timeout=10.0
        )
        self._request = AiohttpRequest(
            connection_pool_size=8, read_timeout=30.0, connect_timeout=10.0
        )
        self._bot = Bot(
            token=settings.token.get_secret_value(),
            base_url=f"{base}/bot",
            base_file_url=f"{base}/file/bot",
            request=self._request,
            get_updates_request=self._updates_request,
        )
        self._ready = False
        # webhook mode: the updates the web app stored for this channel
        self._spool: PushSpool | None = (
            spool_of(settings, base_dir) if settings.mode == "webhook" else None
        )

    def __repr__(self) -> str:
        return (
            f"TelegramChannel(name={self.name!r}, "
            f"api_base_url={self.settings.api_base_url!r})"
        )

    @staticmethod
    def replay(
        settings: TelegramChannelSettings,
        raw: bytes,
        external_id: str,
        received_at: datetime,
    ) -> FetchResult:
        """The item of a stored update's JSON (``contracts.channel.ReplaysRaw``).
        Files are left out (counted in ``skipped``): the running channel
        downloads them; the text, location and reporter are kept."""
        return replay_update(settings.name, raw, settings.private_chats_only)

    @property
    def bot(self) -> Bot:
        """The PTB client (for webhook set-up and tests)."""
        return self._bot

    async def check(self) -> None:
        """The token must be accepted and belong to a bot."""
        await self._ensure_ready()
        try:
            me = await self._bot.get_me()
        except TelegramError as exc:
            raise _channel_error(exc, "getMe") from None
        if not me.is_bot:
            raise FatalChannelError("the token does not belong to a bot")

    async def _ensure_ready(self) -> None:
        if self._ready:
            return
        try:
            await self._bot.initialize()
            if self._spool is None:
                # getUpdates answers 409 while a webhook is set; pending
                # updates are kept (drop_pending_updates stays false).
                await self._bot.delete_webhook(drop_pending_updates=False)
            else:
                await self._set_webhook()
        except TelegramError as exc:
            raise _channel_error(exc, "initialize") from None
        self._ready = True

    async def _set_webhook(self) -> None:
        """Point Telegram at the public URL the proxy forwards to the web
        app's ``/webhooks/telegram/<name>``, with our secret token."""
        assert self.settings.webhook_url is not None
        assert self.settings.secret_token is not None
        await self._bot.set_webhook(
            url=self.settings.webhook_url,
            secret_token=self.settings.secret_token.get_secret_value(),
        )

    async def fetch(self, cursor: str | None, limit: int) -> FetchResult:
        """New updates, waiting up to ``long_poll_timeout`` for the first.

        Polling: updates from offset ``cursor``; the returned cursor is the
        offset after them and confirms them to Telegram only when passed to
        the next ``fetch``. Webhook: the updates waiting in the spool, oldest
        first (no waiting: the runner polls the spool every
        ``poll_interval``); ``after_commit`` removes them.
        """
        await self._ensure_ready()
        if self._spool is not None:
            return await self._fetch_spool(self._spool, cursor, limit)
        offset = _parse_cursor(cursor)
        batch_limit = max(1, min(limit, 100))
        try:
            await self._bot.get_updates(
                offset=offset,
                limit=batch_limit,
                timeout=self.settings.long_poll_timeout,
            )
        except TelegramError as exc:
            raise _channel_error(exc, "getUpdates") from None
        raw_updates = self._updates_request.take()
        result = await self._convert(raw_updates, cursor)
        ids = [i for i in map(update_id_of, raw_updates) if i is not None]
        if ids:
            result = replace(result, cursor=str(max([*ids, (offset or 1) - 1]) + 1))
        return replace(result, more=len(raw_updates) >= batch_limit)

    async def _fetch_spool(
        self, spool: PushSpool, cursor: str | None, limit: int
    ) -> FetchResult:
        bodies = await asyncio.to_thread(spool.pending, limit)
        updates: list[Any] = []
        unreadable: list[RejectedItem] = []
        for body in bodies:
            try:
                updates.append(json.loads(body.data))
            except (ValueError, RecursionError) as exc:
                # the receiver stores only JSON: a file put there by hand
                unreadable.append(
                    RejectedItem(
                        channel=self.name,
                        external_id=f"webhook:{body.key[:16]}",
                        raw=body.data,
                        reason=f"unreadable Telegram webhook body: {exc}",
                    )
                )
        result = await self._convert(updates, cursor)
        return replace(
            result,
            rejected=[*result.rejected, *unreadable],
            receipts=tuple(bodies),
            more=len(bodies) >= limit,
        )

    async def _convert(self, raw_updates: list[Any], cursor: str | None) -> FetchResult:
        items: list[InboundMessage] = []
        rejected: list[RejectedItem] = []
        skipped = 0
        for update in raw_updates:
            update_id = update_id_of(update)
            try:
                converted = convert_update(
                    update,
                    channel=self.name,
                    private_chats_only=self.settings.private_chats_only,
                )
            except MalformedUpdate as exc:
                rejected.append(_rejected(self.name, update, update_id, str(exc)))
                continue
            if isinstance(converted, Skipped):
                log.debug(
                    "%s: update %s skipped: %s", self.name, update_id, converted.reason
                )
                skipped += 1
                continue
            items.append(await self._with_files(converted))
        return FetchResult(
            items=items, cursor=cursor, rejected=rejected, skipped=skipped
        )

    async def _with_files(self, converted: Converted) -> InboundMessage:
        """Download the files of an item; those not fetched are listed in
        ``missing_files`` with the reason and their
        ``file_id`` (kept, as the raw update is, so they can be fetched
        again), for the case's history and the citizen's reply."""
        item = converted.item
        if not converted.files:
            return item
        attachments: list[InboundAttachment] = []
        missing: list[MissingFile] = []
        for ref in converted.files:
            data, reason = await self._download(ref)
            if data is None:
                missing.append(
                    MissingFile(
                        kind=ref.kind,
                        filename=ref.filename,
                        size=ref.size,
                        reason=reason,
                        file_id=ref.file_id,
                    )
                )
                continue
            attachments.append(
                InboundAttachment(
                    filename=ref.filename, content_type=ref.content_type, data=data
                )
            )
        if not missing:
            return replace(item, attachments=tuple(attachments))
        return replace(
            item,
            attachments=tuple(attachments),
            missing_files=tuple(missing),
            max_file_bytes=self.settings.max_file_bytes,
        )

    async def _download(self, ref: FileRef) -> tuple[bytes | None, str]:
        """The file's bytes, or None and why not: ``too_large``, or
        ``unavailable: …`` (Telegram refuses the file_id, or the file URL
        answers 404/400/401 after getFile worked)."""
        limit = self.settings.max_file_bytes
        if ref.size is not None and ref.size > limit:
            return None, "too_large"
        try:
            file = await self._bot.get_file(ref.file_id)
        except BadRequest as exc:
            # the public Bot API refuses getFile above 20 MB
            if "too big" in exc.message.lower():
                return None, "too_large"
            return None, f"unavailable: {_safe(exc)}"
        except TelegramError as exc:
            # leave the whole batch for the next fetch rather than lose a file
            raise _channel_error(exc, "getFile") from None
        if file.file_size is not None and file.file_size > limit:
            return None, "too_large"
        try:
            data = bytes(await file.download_as_bytearray())
        except (BadRequest, InvalidToken) as exc:
            # getFile just accepted the token: a 404/401 here (which PTB
            # reports as InvalidToken) or a 400 is about this file (its path
            # expired or it is gone), not the bot; never stop the channel
            return None, f"unavailable: {_safe(exc)}"
        except TelegramError as exc:
            raise _channel_error(exc, "file download") from None
        if len(data) > limit:
            return None, "too_large"
        return data, ""

    async def after_commit(self, result: FetchResult) -> None:
        """Webhook: remove the stored updates from the spool (polling: the
        next ``fetch`` confirms them). Then answer the stored button presses,
        which stops the spinner on the citizen's button; the reply itself
        goes through the outbox."""
        if self._spool is not None:
            for receipt in result.receipts:
                if isinstance(receipt, SpooledBody):
                    await asyncio.to_thread(self._spool.done, receipt)
        for item in result.items:
            if item.button_press_id:
                await self._answer_button(item.button_press_id)

    async def _answer_button(self, query_id: str) -> None:
        try:
            await self._bot.answer_callback_query(
                query_id, text="Pilihan Anda kami terima."
            )
        except TelegramError as exc:
            # a press answered too late (Telegram forgets it after a while)
            # only leaves the spinner on a bit longer: the choice is stored
            log.info("%s: button press not answered: %s", self.name, _safe(exc))

    async def close(self) -> None:
        """Close the HTTP connection pools."""
        if self._ready:
            await self._bot.shutdown()
            self._ready = False
        else:
            # a failed initialize may still have opened connections
            await self._request.shutdown()
            await self._updates_request.shutdown()

    async def send_reply(self, reply: OutgoingReply) -> str:
        """Send ``reply.text`` to chat ``reply.recipient``; returns the id of
        the (first) sent message as ``tg:<chat>:<message_id>``."""
        try:
            chat_id = int(reply.recipient)
        except ValueError:
            raise RecipientUnreachable(
                f"{reply.recipient!r} is not a Telegram chat id"
            ) from None
        reply_to = reply_target(reply.in_reply_to, chat_id)
        first_id: str | None = None
        try:
            await self._ensure_ready()
        except (FatalChannelError, RetriableChannelError) as exc:
            raise ReplyRetriable(str(exc), getattr(exc, "retry_after", None)) from None
        chunks = split_text(reply.text)
        for number, chunk in enumerate(chunks, 1):
            try:
                sent = await self._bot.send_message(
                    chat_id=chat_id,
                    text=chunk,
                    # the buttons under the last part, where the citizen
                    # finishes reading
                    reply_markup=_keyboard(reply) if number == len(chunks) else None,
                    reply_parameters=(
                        ReplyParameters(
                            message_id=reply_to, allow_sending_without_reply=True
                        )
                        if reply_to is not None and first_id is None
                        else None
                    ),
                )
            except Forbidden as exc:
                raise RecipientUnreachable(f"Telegram: {_safe(exc)}") from None
            except BadRequest as exc:
                if "chat not found" in exc.message.lower():
                    raise RecipientUnreachable(f"Telegram: {_safe(exc)}") from None
                raise ReplyRetriable(f"Telegram: {_safe(exc)}") from None
            except RetryAfter as exc:
                raise ReplyRetriable(
                    "Telegram flood control", _retry_after_seconds(exc)
                ) from None
            except InvalidToken:
                raise ReplyRetriable("Telegram rejected the bot token", 300) from None
            except TelegramError as exc:
                raise ReplyRetriable(f"Telegram: {_safe(exc)}") from None
            if first_id is None:
                first_id = f"tg:{chat_id}:{sent.message_id}"
        assert first_id is not None
        return first_id


def _keyboard(reply: OutgoingReply) -> InlineKeyboardMarkup | None:
    """The reply's choices as one row of inline buttons, or None."""
    if not reply.choices:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(label, callback_data=command)
                for label, command in reply.choices
            ]
        ]
    )


def _parse_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        return int(cursor)
    except ValueError:
        raise FatalChannelError(
            f"stored cursor {cursor!r} is not a Telegram update offset"
        ) from None


def _retry_after_seconds(exc: RetryAfter) -> float:
    # PTB 22 warns when retry_after is read as int (it becomes a timedelta).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value: int | float | timedelta = exc.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def _safe(exc: TelegramError) -> str:
    """The error text with any Bot API URL's token masked."""
    return redact(exc.message)


def _channel_error(exc: TelegramError, call: str) -> Exception:
    """The runner's error for a failed Bot API call (never with the token)."""
    if isinstance(exc, InvalidToken):
        return FatalChannelError(f"Telegram rejected the bot token ({call})")
    if isinstance(exc, Forbidden):
        return FatalChannelError(f"Telegram refused {call}: {_safe(exc)}")
    if isinstance(exc, RetryAfter):
        return RetriableChannelError(
            f"Telegram flood control on {call}", _retry_after_seconds(exc)
        )
    if isinstance(exc, Conflict):
        return RetriableChannelError(
            f"Telegram conflict on {call} (another instance polling, or a "
            f"webhook is set): {_safe(exc)}"
        )
    if isinstance(exc, NetworkError):
        return RetriableChannelError(f"Telegram {call} failed: {_safe(exc)}")
    return RetriableChannelError(f"Telegram {call} failed: {_safe(exc)}")


def _rejected(
    channel: str, update: object, update_id: int | None, reason: str
) -> RejectedItem:
    try:
        raw = json.dumps(update, ensure_ascii=False).encode()
    except (TypeError, ValueError):
        raw = repr(update).encode()
    if update_id is not None:
        external_id = f"update:{update_id}"
    else:
        external_id = f"update:unknown:{hashlib.sha256(raw).hexdigest()[:16]}"
    return RejectedItem(
        channel=channel,
        external_id=external_id,
        raw=raw,
        reason=f"unreadable Telegram update: {reason}",
    )
