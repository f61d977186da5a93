"""A WhatsApp Business number (Cloud API) as a complaint channel.

Meta pushes; the web app's receiver (``channels.whatsapp.webhook``) stores
each signed body in this channel's spool before answering. ``fetch`` reads
the spool, converts each message and downloads its media at once; the
runner stores the items, then ``after_commit`` removes the bodies. A crash
in between reads them again, recognised by ``(channel, "wamid:…")``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from channels.meta_graph import channel_error
from channels.meta_json import SHAPE_ERRORS
from channels.meta_webhook import SpoolReader
from channels.meta_window import ReplyWindow
from channels.push_spool import SpooledBody
from channels.whatsapp.graph import WINDOW_CLOSED, Download, GraphClient, GraphError
from channels.whatsapp.media_retry import MediaRetries, PendingMedia
from channels.whatsapp.payload import (
    MEDIA_LIMITS,
    Converted,
    DeliveryStatus,
    MalformedPayload,
    MediaRef,
    changes,
    load,
    other_changes,
    parse_change,
)
from channels.whatsapp.replies import free_form, template
from channels.whatsapp.webhook import spool_of
from config.channel_settings import WhatsAppChannelSettings, WhatsAppTemplate
from contracts.channel import FetchResult
from contracts.errors import (
    NotReplayable,
    RecipientUnreachable,
    ReplyRetriable,
)
from contracts.records import (
    DeliveryReport,
    InboundAttachment,
    InboundMessage,
    MissingFile,
    OutgoingReply,
    RejectedItem,
    Reporter,
)

log = logging.getLogger(__name__)
TemplateKind = Literal["acknowledgement", "status_update"]
# the least gap between two messages to one citizen (Meta's pair limit)
PACE_SECONDS = 1.0


class WhatsAppChannel(SpoolReader):
    """Complaints sent to a WhatsApp Business number; also replies."""

    def __init__(
        self, settings: WhatsAppChannelSettings, base_dir: Path | None = None
    ) -> None:
        self.name = settings.name
        self.settings = settings
        self.spool = spool_of(settings, base_dir or Path.cwd())
        self._media = MediaRetries(self.spool.directory / "media-retry")
        self._graph = GraphClient(
            settings.api_base_url,
            settings.api_version,
            settings.phone_number_id,
            settings.access_token.get_secret_value(),
            settings.messages_per_second,
        )
        # when each citizen last wrote as this process saw it (newer than
        # what a queued reply knew), and when we last sent to them (pacing)
        self._window = ReplyWindow()
        self._last_sent: dict[str, float] = {}
        self._sent_to: dict[str, str] = {}  # wamid -> recipient

    def __repr__(self) -> str:
        return (
            f"WhatsAppChannel(name={self.name!r}, "
            f"phone_number_id={self.settings.phone_number_id!r})"
        )

    @staticmethod
    def replay(
        settings: WhatsAppChannelSettings,
        raw: bytes,
        external_id: str,
        received_at: datetime,
    ) -> FetchResult:
        """The messages of a stored webhook body (one the channel could not
        read), or the one message an item held (one the pipeline could not
        store), for this channel's number (``contracts.channel.ReplaysRaw``).
        Media are left out: the running channel downloads them."""
        try:
            values = list(changes(load(raw)))
        except MalformedPayload as exc:
            message = _message_of(raw)
            if message is None:
                raise NotReplayable(
                    f"stored bytes are not a WhatsApp webhook: {exc}"
                ) from None
            # an item's raw is its messages[] entry: the contact's name is
            # not in it, the sender's ids are
            values = [
                {
                    "metadata": {"phone_number_id": settings.phone_number_id},
                    "messages": [message],
                }
            ]
        items: list[InboundMessage] = []
        media = 0
        problems: list[str] = []
        for value in values:
            parsed = parse_change(value, channel=settings.name)
            if parsed.phone_number_id != settings.phone_number_id:
                continue
            items.extend(c.item for c in parsed.items)
            media += sum(len(c.media) for c in parsed.items)
            problems.extend(f"{wamid}: {why}" for wamid, why in parsed.problems)
        if not items:
            why = "; ".join(problems) or "no message of this number"
            raise NotReplayable(f"still unreadable: {why}")
        return FetchResult(items=items, cursor=None, skipped=media)

    async def check(self) -> None:
        """The access token must be accepted for the number."""
        try:
            await self._graph.phone_number()
        except GraphError as exc:
            raise _channel_error(exc) from None

    async def fetch(self, cursor: str | None, limit: int) -> FetchResult:
        """Items of the bodies waiting in the spool (oldest first), and the
        files of earlier messages whose retry is due."""
        items, fetched = await self._retry_media(limit)
        bodies = await asyncio.to_thread(self.spool.pending, limit)
        rejected: list[RejectedItem] = []
        deliveries: list[DeliveryReport] = []
        for body in bodies:
            got, bad, reports = await self._convert(body)
            items.extend(got)
            rejected.extend(bad)
            deliveries.extend(reports)
        for item in items:
            if item.reporter.chat_id:
                self._window.saw(item.reporter.chat_id, item.received_at.timestamp())
        return FetchResult(
            items=items,
            cursor=cursor,
            rejected=rejected,
            more=len(bodies) >= limit,
            receipts=(*bodies, *fetched),
            deliveries=deliveries,
        )

    async def _convert(
        self, body: SpooledBody
    ) -> tuple[list[InboundMessage], list[RejectedItem], list[DeliveryReport]]:
        try:
            data = load(body.data)
        except MalformedPayload as exc:
            return [], [self._rejected(body.data, f"unreadable webhook: {exc}")], []
        items: list[InboundMessage] = []
        rejected: list[RejectedItem] = []
        reports: list[DeliveryReport] = []
        own = self.settings.phone_number_id
        try:
            every = [parse_change(v, channel=self.name) for v in changes(data)]
            others = other_changes(data)
        except SHAPE_ERRORS as exc:
            # a shape no message guard foresaw: this body waits in the
            # quarantine, the others go on
            why = f"unreadable webhook: {type(exc).__name__}: {exc}"
            return [], [self._rejected(body.data, why)], []
        for name in others:
            rejected.append(
                self._rejected(
                    body.data, f"webhook field {name!r} is not read by this channel"
                )
            )
        # a body naming several numbers sits in each of their spools: the
        # others' changes are theirs; in a body naming none of ours (the
        # receiver's fallback) they belong to nobody and are quarantined
        routed_here = any(parsed.phone_number_id == own for parsed in every)
        for parsed in every:
            if parsed.phone_number_id != own:
                if not routed_here:
                    rejected.append(
                        self._rejected(
                            body.data,
                            "webhook for phone_number_id "
                            f"{parsed.phone_number_id!r}, which no channel has",
                        )
                    )
                continue
            for wamid, why in parsed.problems:
                rejected.append(self._rejected(body.data, f"message {wamid}: {why}"))
            for converted in parsed.items:
                items.append(await self._with_media(converted))
            reports.extend(self._report(status) for status in parsed.statuses)
        # one body may hold the same fault twice: quarantined once
        unique = {r.external_id: r for r in rejected}
        return items, list(unique.values()), reports

    def _report(self, status: DeliveryStatus) -> DeliveryReport:
        """A status as the outbox reads it; 131047 (the 24-hour window had
        closed) asks for the reply again, which now goes as a template."""
        resend = status.status == "failed" and WINDOW_CLOSED in status.error_codes
        if resend:
            recipient = self._sent_to.get(status.message_id) or status.recipient
            if recipient:
                self._window.close(recipient)
        detail = ""
        if status.status == "failed":
            codes = ", ".join(map(str, status.error_codes)) or "tanpa kode"
            detail = f"WhatsApp menolak pesan (kode {codes})"
            if resend:
                detail += "; jendela 24 jam tertutup, dikirim ulang dengan templat"
        return DeliveryReport(
            remote_id=f"wa:{status.message_id}",
            state=status.status,
            at=status.timestamp,
            resend=resend,
            detail=detail,
        )

    async def _with_media(self, converted: Converted) -> InboundMessage:
        """Download the item's media; a file that cannot be had is listed
        in ``missing_files`` with its media id, and one that failed only for
        now waits in ``media_retry`` meanwhile."""
        item = converted.item
        if not converted.media:
            return item
        attachments: list[InboundAttachment] = []
        missing: list[MissingFile] = []
        for ref in converted.media:
            try:
                got = await self._graph.download(
                    ref.media_id, _limit(ref.kind), ref.sha256
                )
            except GraphError as exc:
                if exc.token_rejected:
                    raise _channel_error(exc) from None
                # Meta's media service or the network: the message goes on
                # now and the file follows on its own
                pending = _pending(ref, item, str(exc))
                await asyncio.to_thread(self._media.add, pending, time.time())
                got = Download(None, f"retrying: {exc}")
            if got.data is None:
                missing.append(_missing(ref.kind, ref.filename, ref.media_id, got))
                continue
            attachments.append(
                InboundAttachment(
                    filename=ref.filename, content_type=ref.content_type, data=got.data
                )
            )
        return replace(
            item, attachments=tuple(attachments), missing_files=tuple(missing)
        )

    async def _retry_media(
        self, limit: int
    ) -> tuple[list[InboundMessage], list[_FileDone]]:
        """Try the files whose retry is due; each that came, or was given
        up, becomes an item answering the message it came with."""
        now = time.time()
        items: list[InboundMessage] = []
        done: list[_FileDone] = []
        for pending in await asyncio.to_thread(self._media.due, now, limit):
            try:
                got = await self._graph.download(
                    pending.media_id, _limit(pending.kind), pending.sha256
                )
            except GraphError as exc:
                if exc.token_rejected:
                    raise _channel_error(exc) from None
                if not pending.last_attempt:
                    await asyncio.to_thread(self._media.failed, pending, str(exc), now)
                    continue
                tries = pending.attempts + 1
                got = Download(None, f"unavailable: {tries} attempts failed ({exc})")
            items.append(self._late_file(pending, got))
            done.append(_FileDone(pending.media_id))
        return items, done

    def _late_file(self, pending: PendingMedia, got: Download) -> InboundMessage:
        attachments: tuple[InboundAttachment, ...] = ()
        missing: tuple[MissingFile, ...] = ()
        metadata: dict[str, Any] = {
            "wa_type": pending.kind,
            "late_file_of": f"wamid:{pending.wamid}",
        }
        if got.data is not None:
            attachments = (
                InboundAttachment(
                    filename=pending.filename,
                    content_type=pending.content_type,
                    data=got.data,
                ),
            )
        else:
            missing = (_missing(pending.kind, pending.filename, pending.media_id, got),)
        return InboundMessage(
            channel=self.name,
            external_id=f"wamid:{pending.wamid}:file:{pending.media_id}",
            # the citizen's message time: no reply window opens now
            received_at=datetime.fromtimestamp(pending.received_at, UTC),
            raw=json.dumps(asdict(pending)).encode(),
            raw_format="json",
            reporter=Reporter(
                name=pending.name, phone=pending.phone, chat_id=pending.chat_id
            ),
            in_reply_to=(f"wa:{pending.wamid}",),
            attachments=attachments,
            missing_files=missing,
            metadata=metadata,
        )

    async def after_commit(self, result: FetchResult) -> None:
        """Remove the stored bodies and the files that came from the spool."""
        await super().after_commit(result)
        for receipt in result.receipts:
            if isinstance(receipt, _FileDone):
                await asyncio.to_thread(self._media.done, receipt.media_id)

    async def close(self) -> None:
        """Close the HTTP connection pool."""
        await self._graph.close()

    async def send_reply(self, reply: OutgoingReply) -> str:
        """Free-form within 24 hours of the citizen's last message, else the
        configured template with the tracking number; returns ``wa:<wamid>``."""
        recipient = reply.recipient
        if not recipient:
            raise RecipientUnreachable("no WhatsApp recipient")
        await self._pace(recipient)
        in_window = not reply.window_closed and self._in_window(reply)
        try:
            if in_window:
                try:
                    sent = [
                        await self._graph.send(payload)
                        for payload in free_form(recipient, reply)
                    ]
                    self._remember(sent[0], recipient)
                    # the first part is the one a citizen's answer quotes
                    return f"wa:{sent[0]}"
                except GraphError as exc:
                    if exc.code != WINDOW_CLOSED:
                        raise
            wamid = await self._graph.send(self._template(recipient, reply))
            self._remember(wamid, recipient)
            return f"wa:{wamid}"
        except GraphError as exc:
            raise _reply_error(exc) from None
        finally:
            self._last_sent[recipient] = time.monotonic()

    def _in_window(self, reply: OutgoingReply) -> bool:
        """Whether the citizen wrote within 24 hours: as stored with the
        reply (survives a restart), or seen since by this process."""
        wrote = reply.citizen_wrote_at
        return self._window.is_open(
            reply.recipient, wrote_at=wrote.timestamp() if wrote else None
        )

    def _remember(self, wamid: str, recipient: str) -> None:
        # bounded: only the statuses of recent sends matter
        if len(self._sent_to) >= 10_000:
            self._sent_to.pop(next(iter(self._sent_to)))
        self._sent_to[wamid] = recipient

    def _template(self, recipient: str, reply: OutgoingReply) -> dict[str, Any]:
        kind = template_kind(reply)
        chosen = self._chosen(kind)
        if chosen is None or not reply.tracking_no:
            raise RecipientUnreachable(
                "the citizen's last WhatsApp message is over 24 hours old and "
                f"no {kind} template is configured"
            )
        return template(recipient, chosen.name, chosen.language, reply.tracking_no)

    def _chosen(self, kind: TemplateKind) -> WhatsAppTemplate | None:
        templates = self.settings.templates
        if kind == "status_update":
            return templates.status_update
        return templates.acknowledgement

    async def send_template(
        self, phone: str, kind: TemplateKind, tracking_no: str
    ) -> str:
        """Send the ``kind`` template with ``tracking_no`` to a number that
        may never have written to this one (a citizen who left it on the
        web form); returns ``wa:<wamid>``. Paced and rate-limited with this
        number's own messages, and its delivery statuses come back here."""
        recipient = phone.removeprefix("+")
        chosen = self._chosen(kind)
        if chosen is None:
            raise RecipientUnreachable(
                f"WhatsApp channel {self.name}: no {kind} template is configured"
            )
        await self._pace(recipient)
        try:
            wamid = await self._graph.send(
                template(recipient, chosen.name, chosen.language, tracking_no)
            )
        except GraphError as exc:
            raise _reply_error(exc) from None
        finally:
            self._last_sent[recipient] = time.monotonic()
        self._remember(wamid, recipient)
        return f"wa:{wamid}"

    async def _pace(self, recipient: str) -> None:
        last = self._last_sent.get(recipient)
        if last is not None:
            wait = PACE_SECONDS - (time.monotonic() - last)
            if wait > 0:
                await asyncio.sleep(wait)


def template_kind(reply: OutgoingReply) -> TemplateKind:
    """Which template stands in for ``reply``: a status message's key has
    ``:status:`` in it (``dengar.replies``), every other is an acknowledgement."""
    if ":status:" in reply.idempotency_key:
        return "status_update"
    return "acknowledgement"


@dataclass(frozen=True, slots=True)
class _FileDone:
    """A waiting file that is now stored with its case (a receipt)."""

    media_id: str


def _limit(kind: str) -> int:
    """Meta's size limit for a file of ``kind`` (as ``MediaRef`` names it)."""
    named = {"photo": "image", "voice": "audio"}.get(kind, kind)
    return MEDIA_LIMITS.get(named, MEDIA_LIMITS["document"])


def _missing(kind: str, filename: str, media_id: str, got: Download) -> MissingFile:
    return MissingFile(
        kind=kind,
        filename=filename,
        size=got.size,
        reason=got.reason,
        file_id=media_id,
        service="WhatsApp",
        limit=_limit(kind),
    )


def _pending(ref: MediaRef, item: InboundMessage, error: str) -> PendingMedia:
    return PendingMedia(
        media_id=ref.media_id,
        kind=ref.kind,
        content_type=ref.content_type,
        filename=ref.filename,
        sha256=ref.sha256,
        wamid=item.external_id.removeprefix("wamid:"),
        received_at=item.received_at.timestamp(),
        chat_id=item.reporter.chat_id or "",
        phone=item.reporter.phone,
        name=item.reporter.name,
        error=error,
    )


def _message_of(raw: bytes) -> dict[str, Any] | None:
    """``raw`` as one ``messages[]`` entry (an object with an id and a type)."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if isinstance(data, dict) and "id" in data and "type" in data:
        return data
    return None


def _channel_error(exc: GraphError) -> Exception:
    return channel_error("WhatsApp", exc)


def _reply_error(exc: GraphError) -> Exception:
    if exc.code in (131026, 131030, 131049, 131050):
        return RecipientUnreachable(f"WhatsApp: {exc}")
    if exc.rate_limited:
        return ReplyRetriable(f"WhatsApp rate limit: {exc}", exc.retry_after or 60.0)
    if exc.token_rejected:
        return ReplyRetriable("WhatsApp rejected the access token", 300)
    return ReplyRetriable(f"WhatsApp: {exc}", exc.retry_after)
