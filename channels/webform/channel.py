"""The citizen web form ``/lapor`` as a complaint channel.

The web app checks a submission, spools it (``store``) and only then shows
the tracking number; ``fetch`` reads the spool like any source, the runner
stores the items, then ``after_commit`` removes the bodies. A crash in
between reads them again, recognised by ``(channel, "form:<id>")``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

from channels.imap.smtp import SmtpReplier
from channels.push_spool import PushSpool, SpooledBody
from channels.webform.submission import Submission
from config.channel_settings import WebformChannelSettings
from contracts.channel import FetchResult
from contracts.errors import FatalChannelError, NotReplayable, RecipientUnreachable
from contracts.records import (
    Confidentiality,
    InboundAttachment,
    InboundMessage,
    Location,
    OutgoingReply,
    RejectedItem,
    Reporter,
)

log = logging.getLogger(__name__)


class TemplateSender(Protocol):
    """A WhatsApp number that sends its approved templates
    (``channels.whatsapp.channel.WhatsAppChannel``)."""

    async def send_template(
        self,
        phone: str,
        kind: Literal["acknowledgement", "status_update"],
        tracking_no: str,
    ) -> str:
        """Send template ``kind`` with ``tracking_no``; the remote id."""
        ...


def _template_kind(
    key: str,
) -> Literal["acknowledgement", "status_update"] | None:
    """The template that stands in for the reply with idempotency ``key``
    (``<channel>:ack:…``, ``<channel>:status:…``, as ``dengar.replies``
    makes them); None for any other message."""
    kind = key.split(":")[1:2]
    if kind == ["ack"]:
        return "acknowledgement"
    if kind == ["status"]:
        return "status_update"
    return None


class AlreadySent(Exception):
    """This form was submitted before; ``tracking_no`` is the number it got."""

    def __init__(self, tracking_no: str) -> None:
        super().__init__(tracking_no)
        self.tracking_no = tracking_no


def spool_of(
    settings: WebformChannelSettings, base_dir: Path | None = None
) -> PushSpool:
    """The spool directory of the form channel."""
    root = settings.spool_directory
    if not root.is_absolute():
        root = (base_dir or Path.cwd()) / root
    return PushSpool(root / settings.name)


def store(spool: PushSpool, submission: Submission) -> None:
    """Keep a checked submission durably; ``AlreadySent`` when its form was
    sent already (the second of a double click, a reload after sending).

    The form's marker is taken first, with ``O_EXCL``: of two requests for
    one form only one stores; if storing then fails the marker is removed,
    so the citizen can send again."""
    forms = spool.directory / "forms"
    forms.mkdir(parents=True, exist_ok=True)
    marker = forms / submission.form_id
    try:
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise AlreadySent(
            marker.read_text().strip() or submission.tracking_no
        ) from None
    try:
        os.write(fd, submission.tracking_no.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        spool.store(submission.to_json())
    except BaseException:
        marker.unlink(missing_ok=True)
        raise


def sent_before(spool: PushSpool, form_id: str) -> str | None:
    """The tracking number a form got if it was sent already."""
    marker = spool.directory / "forms" / form_id
    try:
        return marker.read_text().strip() or None
    except FileNotFoundError:
        return None


def place_of(desa: str | None, kecamatan: str | None, detail: str | None) -> str:
    """The place as the form names it: "Desa X, Kecamatan Y, <detail>"."""
    return ", ".join(
        filter(
            None,
            (
                f"Desa {desa}" if desa else None,
                f"Kecamatan {kecamatan}" if kecamatan else None,
                detail,
            ),
        )
    )


def text_of(text: str, place: str) -> str:
    """The case's text: the citizen's words and the place as one short line
    (names a citizen would write too; the date stays in the metadata, so
    that reports of different problems do not look alike through it)."""
    return f"{text}\n\nLokasi: {place}" if place else text


def prune_markers(spool: PushSpool, older_than: float, now: float) -> int:
    """Remove the markers of forms older than ``older_than`` seconds (such a
    form is refused as expired anyway); returns how many."""
    forms = spool.directory / "forms"
    if not forms.is_dir():
        return 0
    removed = 0
    for marker in forms.iterdir():
        with contextlib.suppress(FileNotFoundError):
            if now - marker.stat().st_mtime > older_than:
                marker.unlink()
                removed += 1
    return removed


def to_item(channel: str, submission: Submission) -> InboundMessage:
    """The pipeline's item of a submission."""
    s = submission
    reporter = Reporter()
    if s.contact_kind == "email" and s.contact:
        reporter = Reporter(email=s.contact)
    elif s.contact_kind == "whatsapp" and s.contact:
        reporter = Reporter(phone=s.contact)
    place = place_of(s.desa, s.kecamatan, s.place_detail)
    location = None
    if s.latitude is not None and s.longitude is not None:
        location = Location(s.latitude, s.longitude, place or None)
    metadata = {
        "incident_date": s.incident_date.isoformat(),
        "captcha": s.captcha,
        "location_source": s.location_source,
        "contact_kind": s.contact_kind,
    }
    return InboundMessage(
        channel=channel,
        external_id=f"form:{s.form_id}",
        received_at=s.received_at,
        raw=s.without_files(),
        raw_format="json",
        text=text_of(s.text, place),
        subject=s.title,
        reporter=reporter,
        attachments=tuple(
            InboundAttachment(f.filename, f.content_type, f.data) for f in s.files
        ),
        location=location,
        metadata={k: v for k, v in metadata.items() if v is not None},
        tracking_no=s.tracking_no,
        confidentiality=Confidentiality(s.confidentiality),
        chosen_category=s.category,
        supports=s.supports,
    )


class WebformChannel:
    """Reports sent through the web form ``/lapor``."""

    def __init__(
        self, settings: WebformChannelSettings, base_dir: Path | None = None
    ) -> None:
        self.name = settings.name
        self.settings = settings
        self.spool = spool_of(settings, base_dir)
        self._next_prune = 0.0
        self._mailer: SmtpReplier | None = None
        self._whatsapp: TemplateSender | None = None
        if settings.smtp is not None:
            self._mailer = SmtpReplier(settings.smtp, settings.message_id_domain)
        if settings.smtp is not None or settings.whatsapp_channel is not None:
            # only with a way to send is the form a channel that answers
            # (the shell asks for send_reply)
            self.send_reply = self._send

    def __repr__(self) -> str:
        return f"WebformChannel(name={self.name!r})"

    @staticmethod
    def replay(
        settings: WebformChannelSettings,
        raw: bytes,
        external_id: str,
        received_at: datetime,
    ) -> FetchResult:
        """The item of a stored submission: a spooled body the channel could
        not read, or the raw payload of an item (whose files are stored as
        attachments and left out here, counted in ``skipped``)."""
        try:
            submission, left_out = Submission.from_stored(raw)
        except (ValueError, KeyError, TypeError) as exc:
            raise NotReplayable(
                f"stored bytes are not a web form submission: {exc}"
            ) from None
        item = to_item(settings.name, submission)
        if left_out or not submission.files:
            item = replace(item, raw=raw)  # it was the item's own raw
        return FetchResult(items=[item], cursor=None, skipped=left_out)

    async def check(self) -> None:
        """Nothing remote to reach; the spool (made by the web app with its
        first submission) must be a readable directory if it exists."""
        directory = self.spool.directory
        if directory.exists() and not (
            directory.is_dir() and os.access(directory, os.R_OK | os.W_OK | os.X_OK)
        ):
            raise FatalChannelError(
                f"webform {self.name}: spool {directory} is not a usable directory"
            )

    async def fetch(self, cursor: str | None, limit: int) -> FetchResult:
        """Items of the submissions waiting in the spool (oldest first)."""
        bodies = await asyncio.to_thread(self.spool.pending, limit)
        items: list[InboundMessage] = []
        rejected: list[RejectedItem] = []
        for body in bodies:
            try:
                items.append(to_item(self.name, Submission.from_json(body.data)))
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("webform %s: unreadable spooled form: %s", self.name, exc)
                rejected.append(
                    RejectedItem(
                        self.name,
                        f"spool:{body.key}",
                        body.data,
                        f"unreadable web form submission: {exc}",
                    )
                )
        return FetchResult(
            items=items,
            cursor=cursor,
            rejected=rejected,
            more=len(bodies) >= limit,
            receipts=tuple(bodies),
        )

    def send_whatsapp_through(self, sender: TemplateSender) -> None:
        """The WhatsApp channel named by ``whatsapp_channel`` (handed over by
        the shell, which built it): numbers left on the form are sent its
        templates."""
        self._whatsapp = sender

    async def _send(self, reply: OutgoingReply) -> str | None:
        """Mail a reply to the address the citizen left on the form, or send
        its WhatsApp template to the number."""
        if "@" in reply.recipient:
            if self._mailer is None:
                raise RecipientUnreachable(
                    f"web form {self.name} has no smtp: block for e-mail replies"
                )
            return await self._mailer.send_reply(reply)
        if self._whatsapp is None:
            raise RecipientUnreachable(
                f"web form {self.name}: its whatsapp_channel "
                f"{self.settings.whatsapp_channel!r} is not running (disabled?), "
                "or none is configured"
            )
        kind = _template_kind(reply.idempotency_key)
        if kind is None or not reply.tracking_no:
            # a number that never wrote to ours can be sent templates only:
            # the acknowledgement and status updates have one, nothing else
            raise RecipientUnreachable(
                "only the acknowledgement and status updates reach a WhatsApp "
                "number left on the web form"
            )
        return await self._whatsapp.send_template(
            reply.recipient, kind, reply.tracking_no
        )

    async def after_commit(self, result: FetchResult) -> None:
        """Remove the stored submissions. Their markers stay while the form
        could still be sent again (a late double submit shows the same
        number), then go: at most once an hour, those a day past that."""
        for body in result.receipts:
            if isinstance(body, SpooledBody):
                await asyncio.to_thread(self.spool.done, body)
        now = time.time()
        if now >= self._next_prune:
            # a form's marker outlives its form by a day at most
            self._next_prune = now + 3600
            older = self.settings.form_valid_hours * 3600 + 86400
            await asyncio.to_thread(prune_markers, self.spool, older, now)

    async def close(self) -> None:
        """Nothing to release."""
