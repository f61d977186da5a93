"""Messages to citizens, queued in the outbox in the caller's transaction:
the acknowledgement, command answers and hints, status updates."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session

from config.channel_settings import channel_policy
from config.settings import Settings
from contracts.policy import ChannelPolicy
from contracts.records import (
    InboundMessage,
    OutgoingReply,
    file_limit,
    too_large_file,
)
from dengar.missing_files import RETRYING
from dispatcher.notify import (
    Rendered,
    excerpt,
    render,
    salutation,
    signature,
    tracking_url,
)
from dispatcher.outbox import queue as outbox
from normalizer.normalize import Normalized
from storage.tables import ComplaintRow

# the confidentiality a citizen can choose for a new case, as offered
CHOICE_LABELS = {"biasa": "Biasa", "anonim": "Anonim", "rahasia": "Rahasia"}


def _duration(seconds: float) -> str:
    """``seconds`` as an Indonesian reader says it: "2 menit", "45 detik"."""
    whole = round(seconds)
    if whole >= 60 and whole % 60 == 0:
        return f"{whole // 60} menit"
    if whole >= 60:
        return f"{whole // 60} menit {whole % 60} detik"
    return f"{max(whole, 1)} detik"


@dataclass(frozen=True)
class CitizenReplies:
    """Queues replies through the channel a message came from, when that
    channel can send (``repliers``) and the citizen has an address there."""

    settings: Settings
    # each configured channel's policy by name, read once at start-up
    policies: Mapping[str, ChannelPolicy]
    repliers: frozenset[str]

    def policy(self, name: str) -> ChannelPolicy:
        """The policy of channel ``name``; for one not in the config
        (``dengar import``) everything a channel may switch on is off."""
        policy = self.policies.get(name)
        return policy if policy is not None else channel_policy("?")

    def messages(self, channel: str) -> Mapping[str, str]:
        """The channel's overrides of the reply templates."""
        return self.policy(channel).messages

    def is_email(self, channel: str) -> bool:
        """True for a channel whose replies are letters (IMAP with SMTP)."""
        return self.policy(channel).is_email

    def signature(self) -> str:
        """The configured signature block."""
        sig = self.settings.signature
        return signature(sig.instansi, sig.address, sig.contact)

    def ack(
        self,
        session: Session,
        row: ComplaintRow,
        item: InboundMessage,
        fields: Normalized,
        *,
        choice_window: float = 0,
    ) -> bool:
        """The acknowledgement with the tracking number of a new case; by
        e-mail in the form of a letter (salutation, the complaint's first
        lines, how to follow it up, the signature).

        ``choice_window``: the case waits that many seconds for the citizen
        to choose biasa, anonim or rahasia before its agency gets it; the
        acknowledgement says so and offers the choice (buttons where the
        channel has them)."""
        messages = self.messages(item.channel)
        url = tracking_url(self.settings.web.public_url, row.tracking_no)
        choices: tuple[tuple[str, str], ...] = ()
        if choice_window > 0:
            text = render(
                "ack_choice",
                messages,
                tracking_no=row.tracking_no,
                window=_duration(choice_window),
                tracking_url=url,
            )
            choices = tuple(
                (label, f"{level} {row.tracking_no}")
                for level, label in CHOICE_LABELS.items()
            )
        else:
            name = "ack"
            # a channel that overrides only "ack" keeps its own text by e-mail
            if self.is_email(item.channel) and (
                "ack" not in messages or "ack_email" in messages
            ):
                name = "ack_email"
            text = render(
                name,
                messages,
                tracking_no=row.tracking_no,
                salutation=salutation(row.reporter_name),
                excerpt=excerpt(row.clean_text or row.original_text),
                signature=self.signature(),
                tracking_url=url,
            )
        subject = render("ack_subject", messages, tracking_no=row.tracking_no)
        # nothing says where the problem is: ask (only a channel with a
        # location button sends this; the others rely on the how-to text)
        where = ""
        if fields.location is None and row.region is None:
            where = render("ask_location", messages)
        # the tracking number was drawn in this transaction: the key is new
        return self.to_sender(
            session, row, item, fields, text, subject, f"ack:{row.tracking_no}",
            new_key=True, choices=choices, location_prompt=where,
        )  # fmt: skip

    def how_to(
        self,
        session: Session,
        row: ComplaintRow,
        item: InboundMessage,
        fields: Normalized,
    ) -> bool:
        """How to write a complaint, to the sender of a message that had none
        (a greeting, thanks, a test mail): in a chat or by mail, never in
        public (an X reply)."""
        if not (fields.reporter.chat_id or fields.reporter.email):
            return False
        messages = self.messages(item.channel)
        return self.to_sender(
            session,
            row,
            item,
            fields,
            render("how_to", messages),
            render("how_to_subject", messages),
            f"how-to:{item.external_id}",
        )

    def file_too_large(
        self,
        session: Session,
        row: ComplaintRow,
        item: InboundMessage,
        fields: Normalized,
    ) -> bool:
        """Tell the citizen a file was not kept, rather than lose it silently."""
        first = too_large_file(item)
        text = render(
            "file_too_large",
            self.messages(item.channel),
            filename=(first.filename if first else None) or "?",
            size_mb=round(((first.size if first else None) or 0) / 1e6, 1),
            limit_mb=round((file_limit(item) or 0) / 1e6, 1),
        )
        key = f"too-large:{item.external_id}"
        return self.to_sender(session, row, item, fields, text, None, key)

    def file_not_downloaded(
        self,
        session: Session,
        row: ComplaintRow,
        item: InboundMessage,
        fields: Normalized,
    ) -> bool:
        """Ask the citizen to send again a file we could not fetch (not one
        the channel is still fetching by itself)."""
        missing = [m for m in item.missing_files if not m.reason.startswith(RETRYING)]
        if not missing:
            return False
        names = ", ".join(f"\u201c{m.filename or 'berkas'}\u201d" for m in missing)
        text = render(
            "file_not_downloaded",
            self.messages(item.channel),
            filenames=names,
            service=next((m.service for m in missing if m.service), "Telegram"),
        )
        key = f"not-downloaded:{item.external_id}"
        return self.to_sender(session, row, item, fields, text, None, key)

    def to_sender(
        self,
        session: Session,
        row: ComplaintRow,
        item: InboundMessage,
        fields: Normalized,
        text: str,
        subject: str | None,
        key: str,
        *,
        new_key: bool = False,
        choices: tuple[tuple[str, str], ...] = (),
        location_prompt: str = "",
    ) -> bool:
        """Queue ``text`` to whoever sent ``item``; False if nothing was queued
        (channel cannot reply, no address, unreachable, rate limit, or sent)."""
        if item.channel not in self.repliers:
            return False
        reporter = fields.reporter
        recipient = self._address(
            item.channel, reporter.chat_id, reporter.email, reporter.handle,
            reporter.phone,
        )  # fmt: skip
        if not recipient:
            return False
        limit = self.policy(item.channel).acks_per_address_per_hour
        queued = outbox.enqueue_reply(
            session,
            row,
            OutgoingReply(
                channel=item.channel,
                recipient=recipient,
                text=text,
                subject=subject,
                in_reply_to=fields.message_id,
                tracking_no=row.tracking_no,
                idempotency_key=f"{item.channel}:{key}",
                choices=choices,
                citizen_wrote_at=item.received_at,
                location_prompt=location_prompt,
            ),
            limit_per_hour=limit,
            new_key=new_key,
        )
        return queued is not None

    def unreachable_reason(self, row: ComplaintRow) -> str | None:
        """Why the reporter of ``row`` cannot be sent anything; None if they
        can (a message may still be held back by a rate limit)."""
        if row.channel not in self.repliers:
            policy = self.policies.get(row.channel)
            if policy is None:
                return f"channel {row.channel!r} is not configured (imported item)"
            kind = policy.kind
            if kind == "imap":
                return f"channel {row.channel!r} (imap) has no smtp: block"
            return f"channel {row.channel!r} ({kind}) cannot send replies"
        if not self._row_address(row):
            return "the reporter left no address to answer"
        return None

    def _address(
        self,
        channel: str,
        chat_id: str | None,
        email: str | None,
        handle: str | None,
        phone: str | None,
    ) -> str | None:
        """Where a reporter is answered on ``channel``: the chat, mail box
        or account they wrote from; a phone number only on a channel that
        answers numbers (the web form through WhatsApp)."""
        found = chat_id or email or handle
        if not found and self.policy(channel).replies_to_phone:
            found = phone
        return found or None

    def _row_address(self, row: ComplaintRow) -> str | None:
        return self._address(
            row.channel, row.reporter_chat_id, row.reporter_email,
            row.reporter_handle, row.reporter_phone,
        )  # fmt: skip

    def notify(self, session: Session, row: ComplaintRow, text: str) -> bool:
        """Queue a status message to the reporter of ``row`` (a case or a
        duplicate); False when the channel cannot reply or nobody to tell."""
        recipient = self._row_address(row)
        if row.channel not in self.repliers or not recipient:
            return False
        messages = self.messages(row.channel)
        subject = render("status_subject", messages, tracking_no=row.tracking_no)
        key = hashlib.sha256(f"{row.id}:{row.status}:{text}".encode()).hexdigest()[:24]
        if isinstance(text, Rendered):
            text = text.again(messages)  # the channel's own wording
        if self.is_email(row.channel):
            text = render(
                "status_email",
                messages,
                text=text,
                salutation=salutation(row.reporter_name),
                signature=self.signature(),
            )
        queued = outbox.enqueue_reply(
            session,
            row,
            OutgoingReply(
                channel=row.channel,
                recipient=recipient,
                text=text,
                subject=subject,
                in_reply_to=row.message_id,
                tracking_no=row.tracking_no,
                idempotency_key=f"{row.channel}:status:{key}",
                citizen_wrote_at=self._last_message_at(session, row),
            ),
        )
        return queued is not None

    @staticmethod
    def _last_message_at(session: Session, row: ComplaintRow) -> datetime | None:
        """When the reporter of ``row`` last wrote on its channel, as stored
        (a chat channel's reply window starts there)."""
        if not row.reporter_chat_id:
            return None
        table = ComplaintRow.__table__  # type: ignore[attr-defined]
        return session.execute(
            select(func.max(table.c.received_at)).where(
                table.c.channel == row.channel,
                table.c.reporter_chat_id == row.reporter_chat_id,
            )
        ).scalar_one_or_none()
