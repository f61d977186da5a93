"""One batch from a channel → records, outbox rows and the new cursor, all in
the caller's transaction (DESIGN.md's invariant: the cursor advances only
with the items it covers)."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, select

from channels.base import FetchResult
from config.settings import Settings
from dengar.replies import CitizenReplies
from dispatcher import outbox
from dispatcher.message import idempotency_key
from dispatcher.notify import render
from dispatcher.routing import Router
from normalizer.dedupe import Link
from normalizer.dedupe_db import RowDeduper, apply_link
from normalizer.followups import Thread, find_thread
from normalizer.normalize import MailPolicy, Normalized, normalize
from normalizer.records import InboundMessage, RejectedItem
from normalizer.tracking import new_tracking_no
from storage.attachments import attachment_row
from storage.tables import (
    ChannelState,
    ComplaintRow,
    QuarantineRow,
    RawPayload,
    StatusEvent,
    UnreachableRecipient,
    utcnow,
)

log = logging.getLogger(__name__)

Classifier = Callable[[str], tuple[str, float] | None]
RegionFinder = Callable[[str, Any], str | None]
CommandHandler = Callable[[Session, InboundMessage, Any], str | None]


@dataclass
class BatchSummary:
    """What one batch produced, for the run summary."""

    new_cases: int = 0
    follow_ups: int = 0
    ignored: int = 0
    already_stored: int = 0
    linked: int = 0
    quarantined: int = 0
    skipped: int = 0
    replies: int = 0
    queued: Counter[str] = field(default_factory=Counter)

    def add(self, other: BatchSummary) -> None:
        """Fold another batch's counts into this one."""
        for name in (
            "new_cases",
            "follow_ups",
            "ignored",
            "already_stored",
            "linked",
            "quarantined",
            "skipped",
            "replies",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.queued.update(other.queued)


@dataclass
class Pipeline:
    """Everything needed to turn a batch into records for one installation."""

    settings: Settings
    repliers: frozenset[str] = frozenset()  # channels that can answer citizens
    classifier: Classifier | None = None
    region_finder: RegionFinder | None = None
    deduper: RowDeduper | None = None  # set by App.enable_dedupe()
    command_handler: CommandHandler | None = None
    router: Router = field(init=False)
    replies: CitizenReplies = field(init=False)
    _indexed: list[int] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.router = Router(self.settings.routing)
        self.replies = CitizenReplies(self.settings, self.repliers)

    def notify(self, session: Session, row: ComplaintRow, text: str) -> bool:
        """Queue a status message to the reporter of ``row``."""
        return self.replies.notify(session, row, text)

    def ingest(
        self,
        session: Session,
        channel: str,
        result: FetchResult,
        *,
        advance_cursor: bool = True,
    ) -> BatchSummary:
        """Store a fetched batch and its cursor in ``session`` (not committed).

        ``advance_cursor=False`` is for items that did not come from polling
        (``dengar import``): the channel's stored cursor is left alone.
        """
        summary = BatchSummary(skipped=result.skipped)
        self._indexed = []
        for item in result.items:
            self._ingest_item(session, item, summary)
        for rejected in result.rejected:
            self._quarantine(session, rejected, summary)
        if not advance_cursor:
            return summary
        state = session.get(ChannelState, channel) or ChannelState(name=channel)
        state.cursor = result.cursor
        now = utcnow()
        state.last_poll_at = now
        state.last_success_at = now
        state.consecutive_failures = 0
        state.last_error = None
        state.next_poll_at = None
        session.add(state)
        return summary

    # -- one item ----------------------------------------------------------

    def _ingest_item(
        self, session: Session, item: InboundMessage, summary: BatchSummary
    ) -> None:
        if self._already_stored(session, item.channel, item.external_id):
            summary.already_stored += 1
            return
        try:
            fields = normalize(
                item, self.settings.tracking_prefix, self._mail_policy(item)
            )
        except Exception as exc:  # noqa: BLE001 - one bad item must not stop the batch
            reason = f"cannot normalise: {type(exc).__name__}: {exc}"
            log.warning("%s %s quarantined: %s", item.channel, item.external_id, reason)
            self._quarantine(
                session,
                RejectedItem(item.channel, item.external_id, item.raw, reason),
                summary,
            )
            return
        if fields.message_id and self._message_id_stored(session, fields.message_id):
            summary.already_stored += 1
            return
        command = item.metadata.get("command")
        if fields.ignored_reason or command or item.metadata.get("hint"):
            self._store_ignored(session, item, fields, summary)
            return
        channel_settings = self._channel_settings(item.channel)
        thread = find_thread(
            session,
            item,
            fields,
            session_minutes=float(getattr(channel_settings, "session_minutes", 0) or 0),
        )
        if thread is not None:
            row = self._store_follow_up(session, item, fields, thread, summary)
        else:
            row = self._store_case(session, item, fields, summary)
        if item.metadata.get("file_too_large"):
            summary.replies += self.replies.file_too_large(session, row, item, fields)

    def _already_stored(self, session: Session, channel: str, external_id: str) -> bool:
        for table in (ComplaintRow, QuarantineRow):
            found = session.exec(
                select(table.id).where(
                    table.channel == channel,
                    table.external_id == external_id,
                )
            ).first()
            if found is not None:
                return True
        return False

    def _message_id_stored(self, session: Session, message_id: str) -> bool:
        found = session.exec(
            select(ComplaintRow.id).where(ComplaintRow.message_id == message_id)
        ).first()
        return found is not None

    def _mail_policy(self, item: InboundMessage) -> MailPolicy:
        settings = self._channel_settings(item.channel)
        domain = getattr(settings, "message_id_domain", None)
        return MailPolicy(
            own_domains=(domain,) if domain else (),
            loop_ids=self._loop_ids(),
            forwarders=tuple(getattr(settings, "forwarders", ()) or ()),
        )

    def _loop_ids(self) -> tuple[str, ...]:
        ids = []
        for channel in self.settings.channels:
            domain = getattr(channel, "message_id_domain", None)
            if domain:
                ids.append(f"dengar@{domain}".lower())
        return tuple(ids)

    def _channel_settings(self, name: str) -> Any:
        return self.replies.channel_settings(name)

    # -- storing -----------------------------------------------------------

    def _new_row(
        self, session: Session, item: InboundMessage, fields: Normalized, kind: str
    ) -> ComplaintRow:
        raw = RawPayload(format=item.raw_format, data=item.raw)
        session.add(raw)
        session.flush()
        reporter = fields.reporter
        extra = {
            k: v
            for k, v in item.metadata.items()
            if isinstance(v, str | int | float | bool) or v is None
        }
        row = ComplaintRow(
            kind=kind,
            channel=item.channel,
            external_id=item.external_id,
            message_id=fields.message_id,
            received_at=item.received_at,
            reporter_name=reporter.name,
            reporter_email=reporter.email,
            reporter_phone=reporter.phone,
            reporter_handle=reporter.handle,
            reporter_chat_id=reporter.chat_id,
            subject=fields.subject,
            original_text=fields.original_text,
            clean_text=fields.clean_text,
            location_lat=fields.location.latitude if fields.location else None,
            location_lon=fields.location.longitude if fields.location else None,
            location_label=fields.location.label if fields.location else None,
            raw_id=raw.id,
            raw_format=item.raw_format,
            extra=json.dumps(extra, ensure_ascii=False, sort_keys=True)
            if extra
            else None,
        )
        session.add(row)
        session.flush()
        return row

    def _store_attachments(
        self, session: Session, owner_id: int, fields: Normalized
    ) -> None:
        for attachment in fields.attachments:
            session.add(attachment_row(owner_id, attachment, self.settings.attachments))

    def _store_ignored(
        self,
        session: Session,
        item: InboundMessage,
        fields: Normalized,
        summary: BatchSummary,
    ) -> None:
        row = self._new_row(session, item, fields, "ignored")
        command = item.metadata.get("command")
        hint = item.metadata.get("hint")
        if command:
            row.ignored_reason = f"command /{command}"
        elif hint:
            row.ignored_reason = f"unsupported message: {hint}"
        else:
            row.ignored_reason = fields.ignored_reason
        row.status = "closed"
        summary.ignored += 1
        for address in fields.bounced:
            if session.get(UnreachableRecipient, (item.channel, address)) is None:
                session.add(
                    UnreachableRecipient(
                        channel=item.channel,
                        recipient=address,
                        reason=f"bounce {item.external_id}",
                    )
                )
        text: str | None = None
        if command and self.command_handler is not None:
            text = self.command_handler(session, item, self.settings)
        elif hint:
            text = render("hint_unsupported", self.replies.messages(item.channel))
        if text and fields.reporter.chat_id:
            key = f"cmd:{item.external_id}"
            sent = self.replies.to_sender(session, row, item, fields, text, None, key)
            summary.replies += sent

    def _store_follow_up(
        self,
        session: Session,
        item: InboundMessage,
        fields: Normalized,
        thread: Thread,
        summary: BatchSummary,
    ) -> ComplaintRow:
        case = thread.case
        row = self._new_row(session, item, fields, "follow_up")
        row.follow_up_of_id = case.id
        row.tracking_no = None
        row.status = case.status
        assert case.id is not None
        # an album's photos and a follow-up's files belong to the case
        self._store_attachments(session, case.id, fields)
        if fields.location and case.location_lat is None:
            case.location_lat = fields.location.latitude
            case.location_lon = fields.location.longitude
            case.location_label = fields.location.label
        if fields.reporter.phone and not case.reporter_phone:
            case.reporter_phone = fields.reporter.phone
        if thread.edit_of is not None and fields.clean_text:
            session.add(
                StatusEvent(
                    complaint_id=case.id,
                    status=case.status,
                    actor="citizen",
                    note=f"text edited; previous version: {thread.edit_of.clean_text}",
                )
            )
            if thread.edit_of.id == case.id:
                case.clean_text = fields.clean_text
            else:
                thread.edit_of.clean_text = fields.clean_text
                session.add(thread.edit_of)
        elif not case.clean_text and fields.clean_text:
            # a photo or location opened the case; the first words describe it
            case.clean_text = fields.clean_text
            case.original_text = fields.original_text
        session.add(case)
        summary.follow_ups += 1
        return row

    def _store_case(
        self,
        session: Session,
        item: InboundMessage,
        fields: Normalized,
        summary: BatchSummary,
    ) -> ComplaintRow:
        row = self._new_row(session, item, fields, "case")
        assert row.id is not None
        row.tracking_no = self._unique_tracking_no(session)
        self._store_attachments(session, row.id, fields)
        text = "\n".join(filter(None, (fields.subject, fields.clean_text)))
        if self.classifier is not None:
            found = self.classifier(text)
            row.category = found[0] if found else None
        else:
            found = None
        if self.region_finder is not None:
            row.region = self.region_finder(text, fields.location)
        decision = self.router.route(text, row.category, row.region)
        row.agency_code = decision.agency_code
        row.routing_reason = decision.reason
        channel_settings = self._channel_settings(item.channel)
        triage = _needs_triage(channel_settings, found)
        row.status = "triage" if triage else "received"
        session.add(StatusEvent(complaint_id=row.id, status=row.status, actor="dengar"))
        summary.new_cases += 1
        link = self._link_duplicate(session, row)
        if link is not None:
            summary.linked += 1
        elif not triage:
            self.enqueue_for_agency(session, row, summary)
        if not triage:
            summary.replies += self.replies.ack(session, row, item, fields)
        session.add(row)
        return row

    def enqueue_for_agency(
        self, session: Session, row: ComplaintRow, summary: BatchSummary | None = None
    ) -> None:
        """Queue a case for its agency (also used when triage accepts one)."""
        assert row.agency_code is not None
        agency = self.settings.agency(row.agency_code)
        queued = outbox.enqueue_agency(
            session,
            row,
            agency.code,
            agency.sink.max_attempts,
            idempotency_key(row, agency.code),
        )
        if queued is not None and summary is not None:
            summary.queued[agency.code] += 1

    def _link_duplicate(self, session: Session, row: ComplaintRow) -> Link | None:
        if self.deduper is None:
            return None
        link = self.deduper.find(session, row)
        if link is not None:
            apply_link(row, link)
        self.deduper.add(row)
        if row.id is not None:
            self._indexed.append(row.id)
        return link

    def discard_uncommitted(self) -> None:
        """Forget the cases of a batch whose transaction rolled back, so that
        the duplicate index only knows what the database holds."""
        if self.deduper is not None:
            for case_id in self._indexed:
                self.deduper.forget(case_id)
        self._indexed = []

    def _unique_tracking_no(self, session: Session) -> str:
        while True:
            number = new_tracking_no(self.settings.tracking_prefix)
            taken = session.exec(
                select(ComplaintRow.id).where(ComplaintRow.tracking_no == number)
            ).first()
            if taken is None:
                return number

    def _quarantine(
        self, session: Session, item: RejectedItem, summary: BatchSummary
    ) -> None:
        if self._already_stored(session, item.channel, item.external_id):
            summary.already_stored += 1
            return
        session.add(
            QuarantineRow(
                channel=item.channel,
                external_id=item.external_id,
                reason=item.reason,
                data=item.raw,
            )
        )
        session.flush()
        summary.quarantined += 1


def _needs_triage(channel_settings: Any, found: tuple[str, float] | None) -> bool:
    """Whether a new case waits for staff before it is routed. Only social
    channels have ``auto_dispatch``: off, every post waits; on, a post goes
    straight to its agency when the rules classify it as a complaint with at
    least ``auto_dispatch_min_score``, and waits otherwise."""
    auto = getattr(channel_settings, "auto_dispatch", None)
    if auto is None:
        return False
    if auto is False:
        return True
    threshold = float(getattr(channel_settings, "auto_dispatch_min_score", 0.0))
    return found is None or found[1] < threshold
