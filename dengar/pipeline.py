"""One batch from a channel → records, replies and outbox rows, in the
caller's transaction; ``dengar.transaction.store_batch`` adds the cursor and
commits (DESIGN.md's invariant, read there in one place)."""

from __future__ import annotations

import functools
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session, SQLModel

from config.channel_settings import WebformChannelSettings
from config.settings import Settings
from contracts.channel import FetchResult
from contracts.policy import ChannelPolicy
from contracts.records import (
    InboundMessage,
    Location,
    RejectedItem,
    file_limit,
    stored_extras,
    too_large_file,
)
from dengar.batch import BatchState
from dengar.batch_order import parents_first
from dengar.case_edits import apply_edit, note_removed
from dengar.content_less import answered_recently
from dengar.missing_files import note_missing_files
from dengar.presets import preset_tracking_no, preset_values, supporter_link
from dengar.replies import CitizenReplies
from dengar.reporter_moves import move_reporter
from dispatcher.duplicates import follow_primary
from dispatcher.intake import intake
from dispatcher.message import idempotency_key
from dispatcher.notify import render
from dispatcher.outbox import queue as outbox
from dispatcher.outbox.delivery_reports import apply_delivery_reports
from dispatcher.routing import RouteDecision, Router
from dispatcher.routing_model import RoutingModel
from normalizer.content import says_nothing
from normalizer.dedupe.database import apply_link
from normalizer.dedupe.index import Link
from normalizer.dedupe.pending import PendingCases
from normalizer.dedupe.rows import RowDeduper
from normalizer.followups import Thread, add_to_case, find_thread
from normalizer.ignored import CONTENT_LESS, IgnoreReason, why_ignored
from normalizer.normalize import MailPolicy, Normalized, normalize
from normalizer.text import storable
from storage.attachments import attachment_row
from storage.tables import (
    ComplaintRow,
    QuarantineRow,
    RawPayload,
    UnreachableRecipient,
    utcnow,
)

log = logging.getLogger(__name__)

# CPU seconds one item may take to normalise: every text step is linear and
# capped, so only a pathological item comes near; it is quarantined rather
# than read further (categories, places, duplicates)
ITEM_CPU_BUDGET = 10.0

Classifier = Callable[[str], tuple[str, float] | None]
RegionFinder = Callable[[str, Any], str | None]
CommandHandler = Callable[[Session, InboundMessage, Any, ChannelPolicy], str | None]


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
    # of ``queued``: held by a chat channel's confirmation window
    held: Counter[str] = field(default_factory=Counter)

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
        self.held.update(other.held)


@dataclass(frozen=True, slots=True)
class StoredBatch:
    """What :meth:`Pipeline.ingest` put in a transaction: the counts, and the
    new cases the duplicate index learns once it committed."""

    summary: BatchSummary
    new_cases: PendingCases | None


@dataclass
class Pipeline:
    """Everything needed to turn a batch into records for one installation."""

    settings: Settings
    # each configured channel's policy by name, read once at start-up
    policies: Mapping[str, ChannelPolicy]
    repliers: frozenset[str] = frozenset()  # channels that can answer citizens
    classifier: Classifier | None = None
    region_finder: RegionFinder | None = None
    deduper: RowDeduper | None = None  # set by App.enable_dedupe()
    command_handler: CommandHandler | None = None
    cpu_budget: float = ITEM_CPU_BUDGET
    cpu_clock: Callable[[], float] = time.thread_time
    router: Router = field(init=False)
    replies: CitizenReplies = field(init=False)

    def __post_init__(self) -> None:
        self.router = Router(self.settings.routing)
        self.replies = CitizenReplies(self.settings, self.policies, self.repliers)

    def _sends_for(self, channel: str) -> list[str]:
        """The web form whose WhatsApp numbers ``channel`` sends templates
        to, if any: their reply rows learn the channel's delivery statuses,
        and an answer from such a number joins the form's case."""
        return [
            c.name
            for c in self.settings.channels
            if isinstance(c, WebformChannelSettings) and c.whatsapp_channel == channel
        ]

    def use_routing_model(self, model: RoutingModel, version: int) -> None:
        """Route with this trained model from now on (rules still win)."""
        agencies = [agency.code for agency in self.settings.agencies]
        self.router = Router(self.settings.routing, model, version, agencies)

    def notify(self, session: Session, row: ComplaintRow, text: str) -> bool:
        """Queue a status message to the reporter of ``row``."""
        return self.replies.notify(session, row, text)

    def ingest(
        self, session: Session, channel: str, result: FetchResult
    ) -> StoredBatch:
        """Store a fetched batch in ``session`` (not committed, no cursor):
        see ``dengar.transaction.store_batch``, which commits it."""
        summary = BatchSummary(skipped=result.skipped)
        batch = BatchState.load(session, result)
        if self.deduper is not None:
            batch.new_cases = self.deduper.pending()
        # normalise first (no database), so that the Message-IDs of the whole
        # batch are looked up at once
        read = [
            (item, None if batch.has_source(item) else self._normalize(item))
            for item in result.items
        ]
        # a reply after the message it answers (X timelines come newest first)
        read = parents_first(read)
        batch.load_message_ids(
            session, [f.message_id for _i, f in read if isinstance(f, Normalized)]
        )
        for item, fields in read:
            self._ingest_item(session, item, fields, batch, summary)
        for rejected in result.rejected:
            self._quarantine(session, rejected, batch, summary)
        if result.deliveries:
            apply_delivery_reports(
                session, channel, result.deliveries, self._sends_for(channel)
            )
        batch.add_deferred(session)
        return StoredBatch(summary, batch.new_cases)

    def committed(self, stored: StoredBatch) -> None:
        """What follows the commit of ``stored``: the duplicate index learns
        its new cases (a batch rolled back leaves nothing to undo)."""
        if self.deduper is not None and stored.new_cases is not None:
            self.deduper.publish(stored.new_cases)

    # -- one item ----------------------------------------------------------

    def _normalize(self, item: InboundMessage) -> Normalized | str:
        """The record fields of ``item``, or why it cannot be read."""
        started = self.cpu_clock()
        try:
            fields = normalize(
                item, self.settings.tracking_prefix, self._mail_policy(item)
            )
        except Exception as exc:  # noqa: BLE001 - one bad item must not stop the batch
            return f"cannot normalise: {type(exc).__name__}: {exc}"
        spent = self.cpu_clock() - started
        if spent > self.cpu_budget:
            return (
                f"over the processing budget: normalising took {spent:.1f} s of "
                f"CPU (budget {self.cpu_budget:g} s per item)"
            )
        return fields

    def _ingest_item(
        self,
        session: Session,
        item: InboundMessage,
        fields: Normalized | str | None,
        batch: BatchState,
        summary: BatchSummary,
    ) -> None:
        if fields is None or batch.has_source(item):
            summary.already_stored += 1
            return
        if isinstance(fields, str):
            log.warning("%s %s quarantined: %s", item.channel, item.external_id, fields)
            self._quarantine(
                session,
                RejectedItem(item.channel, item.external_id, item.raw, fields),
                batch,
                summary,
            )
            return
        if self._seen_message(item, fields, batch):
            summary.already_stored += 1
            return
        if item.previous_chat_ids and item.reporter.chat_id:
            moved = move_reporter(
                session, item.channel, item.previous_chat_ids, item.reporter.chat_id
            )
            # no ids: they are phone numbers or stand for them
            log.info(
                "%s %s: the sender's id changed, %d record(s) follow them",
                item.channel,
                item.external_id,
                moved,
            )
        ignored = why_ignored(item, fields)
        if ignored is not None:
            self._store_ignored(session, item, fields, ignored, batch, summary)
            return
        thread = find_thread(
            session,
            item,
            fields,
            session_minutes=self._policy(item.channel).session_minutes,
            template_senders=self._sends_for(item.channel),
        )
        if thread is not None:
            row = self._store_follow_up(session, item, fields, thread, batch, summary)
        elif says_nothing(fields, item):
            # a greeting, thanks or a test opens no case: the first message
            # that says something does, and is what is classified and routed
            self._store_content_less(session, item, fields, batch, summary)
            return
        else:
            row = self._store_case(session, item, fields, batch, summary)
        missing = item.missing_files
        if missing:
            note_missing_files(session, row, missing, file_limit(item))
        if too_large_file(item) is not None:
            summary.replies += self.replies.file_too_large(session, row, item, fields)
        elif missing:
            summary.replies += self.replies.file_not_downloaded(
                session, row, item, fields
            )

    @staticmethod
    def _seen_message(
        item: InboundMessage, fields: Normalized, batch: BatchState
    ) -> bool:
        """Whether ``item`` is a message stored already under its Message-ID
        (the same mail fetched again through another path): only with the
        same sender and content. An edit has its original's id by design."""
        if item.edit_of:
            return False
        seen = batch.seen_message(
            fields.message_id, fields.reporter, fields.subject, fields.original_text
        )
        if seen is False:
            log.warning(
                "%s %s: Message-ID %s is already stored for a different sender "
                "or content; stored as its own message",
                item.channel,
                item.external_id,
                fields.message_id,
            )
        return bool(seen)

    def _mail_policy(self, item: InboundMessage) -> MailPolicy:
        policy = self._policy(item.channel)
        domain = policy.message_id_domain
        return MailPolicy(
            own_domains=(domain,) if domain else (),
            loop_ids=self._loop_ids(),
            forwarders=policy.forwarders,
        )

    def _loop_ids(self) -> tuple[str, ...]:
        return tuple(p.loop_id for p in self.policies.values() if p.loop_id)

    def _policy(self, name: str) -> ChannelPolicy:
        return self.replies.policy(name)

    # -- storing -----------------------------------------------------------

    def _new_row(
        self,
        session: Session,
        item: InboundMessage,
        fields: Normalized,
        batch: BatchState,
        kind: str,
        **values: Any,
    ) -> ComplaintRow:
        """Insert the record of ``item`` with ``values`` already set, so that
        it is written once (no UPDATE follows) and its id is known."""
        # the raw bytes are never read back through the ORM: a Core INSERT
        raw_id = _insert(session, RawPayload, format=item.raw_format, data=item.raw)
        reporter = fields.reporter
        extra = stored_extras(item)
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
            raw_id=raw_id,
            raw_format=item.raw_format,
            extra=storable(json.dumps(extra, ensure_ascii=False, sort_keys=True))
            if extra
            else None,
            **values,
        )
        # Inserted at once with Core and added as an already stored row: a
        # flush per record would also flush, one statement each, the rows
        # the batch keeps adding (outbox, replies), which otherwise go to the
        # database together, and the record's id is needed now.
        table = ComplaintRow.__table__  # type: ignore[attr-defined]
        columns = {c.key: getattr(row, c.key) for c in table.columns}
        del columns["id"]
        row.id = _insert(session, ComplaintRow, **columns)
        make_transient_to_detached(row)
        session.add(row)
        batch.stored(row)
        return row

    def _store_attachments(
        self, batch: BatchState, owner_id: int, fields: Normalized
    ) -> None:
        batch.add_later(
            attachment_row(owner_id, attachment, self.settings.attachments)
            for attachment in fields.attachments
        )

    def _store_ignored(
        self,
        session: Session,
        item: InboundMessage,
        fields: Normalized,
        why: IgnoreReason,
        batch: BatchState,
        summary: BatchSummary,
    ) -> None:
        row = self._new_row(
            session,
            item,
            fields,
            batch,
            "ignored",
            ignored_reason=why.stored,
            status="closed",
        )
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
        if why.kind == "command" and self.command_handler is not None:
            text = self.command_handler(
                session, item, self.settings, self._policy(item.channel)
            )
        elif why.kind == "unsupported" and not why.silent:
            text = render("hint_unsupported", self.replies.messages(item.channel))
        if text and fields.reporter.chat_id:
            key = f"cmd:{item.external_id}"
            sent = self.replies.to_sender(session, row, item, fields, text, None, key)
            summary.replies += sent

    def _store_content_less(
        self,
        session: Session,
        item: InboundMessage,
        fields: Normalized,
        batch: BatchState,
        summary: BatchSummary,
    ) -> None:
        """Keep a message without complaint content as ignored, with the
        reason, and tell its sender how to write a complaint (once a
        session: a string of greetings gets one answer)."""
        minutes = self._policy(item.channel).session_minutes
        answered = answered_recently(session, item, fields, minutes or 60.0)
        row = self._new_row(
            session,
            item,
            fields,
            batch,
            "ignored",
            ignored_reason=CONTENT_LESS.stored,
            status="closed",
        )
        summary.ignored += 1
        if not answered:
            summary.replies += self.replies.how_to(session, row, item, fields)

    def _store_follow_up(
        self,
        session: Session,
        item: InboundMessage,
        fields: Normalized,
        thread: Thread,
        batch: BatchState,
        summary: BatchSummary,
    ) -> ComplaintRow:
        case = thread.case
        assert case.id is not None
        row = self._new_row(
            session,
            item,
            fields,
            batch,
            "follow_up",
            follow_up_of_id=case.id,
            tracking_no=None,
            status=case.status,
        )
        # an album's photos and a follow-up's files belong to the case
        self._store_attachments(batch, case.id, fields)
        removed = item.removed_at_source
        # an edit's text (or its removal) is the edit rules' business
        edit = thread.edit_of is not None and bool(removed or fields.clean_text)
        placed = case.location_lat is not None
        add_to_case(case, fields, edit=edit, region_of=self.region_finder)
        if not placed and self.deduper is not None and batch.new_cases is not None:
            # the pin after the words: an unlinked case is decided again
            link = self.deduper.locate(case, batch.new_cases)
            if link is not None:
                apply_link(case, link)
                self._follow(session, case, link.target_id)
                summary.linked += 1
        if thread.edit_of is not None and removed:
            note_removed(case, thread.edit_of, str(removed), batch)
        elif edit:
            assert thread.edit_of is not None
            edited = case if thread.edit_of.id == case.id else thread.edit_of
            apply_edit(
                session, case, edited, fields, batch, self._classify, self._attempts
            )
        session.add(case)
        summary.follow_ups += 1
        return row

    def _store_case(
        self,
        session: Session,
        item: InboundMessage,
        fields: Normalized,
        batch: BatchState,
        summary: BatchSummary,
    ) -> ComplaintRow:
        text = "\n".join(filter(None, (fields.subject, fields.clean_text)))
        found = self.classifier(text) if self.classifier is not None else None
        category = found[0] if found else None
        region = None
        if self.region_finder is not None:
            region = self.region_finder(text, fields.location)
        decision = self.router.route(text, category, region)
        policy = self._policy(item.channel)
        entry = intake(
            policy, found, decision, private_chat=bool(fields.reporter.chat_id)
        )
        tracking_no = preset_tracking_no(session, item) or batch.tracking_no(
            session, self.settings.tracking_prefix
        )
        chosen = preset_values(item, category)
        row = self._new_row(
            session,
            item,
            fields,
            batch,
            "case",
            tracking_no=tracking_no,
            category=chosen.pop("category", category),
            **chosen,
            region=region,
            agency_code=decision.agency_code,
            routing_reason=decision.reason,
            routing_detail=decision.detail(),
            status=entry.status,
        )
        assert row.id is not None
        self._store_attachments(batch, row.id, fields)
        batch.status_event(row.id, row.status, "dengar")
        summary.new_cases += 1
        supports = supporter_link(session, item, self.settings.dedupe.open_statuses)
        link = self._link_duplicate(session, row, batch, supports)
        window = policy.confirmation_window
        if link is not None:
            summary.linked += 1
            self._follow(session, row, link.target_id)
        elif not entry.waits_for_staff:
            self.enqueue_for_agency(
                session,
                row,
                summary,
                new_case=True,
                not_before=held_until(window),
            )
        if entry.acknowledged:
            summary.replies += self.replies.ack(
                session, row, item, fields, choice_window=window
            )
        session.add(row)
        return row

    def _classify(
        self, row: ComplaintRow
    ) -> tuple[str | None, str | None, RouteDecision]:
        """Category, region and agency for a stored case's text."""
        text = "\n".join(filter(None, (row.subject, row.clean_text)))
        found = self.classifier(text) if self.classifier is not None else None
        category = found[0] if found else None
        region = None
        if self.region_finder is not None:
            where = None
            if row.location_lat is not None and row.location_lon is not None:
                where = Location(row.location_lat, row.location_lon, row.location_label)
            region = self.region_finder(text, where)
        return category, region, self.router.route(text, category, region)

    def _attempts(self, agency_code: str) -> int:
        return self.settings.agency(agency_code).sink.max_attempts

    def enqueue_for_agency(
        self,
        session: Session,
        row: ComplaintRow,
        summary: BatchSummary | None = None,
        *,
        new_case: bool = False,
        not_before: datetime | None = None,
    ) -> None:
        """Queue a case for its agency (also used when triage accepts one);
        ``new_case``: the case was created in this transaction;
        ``not_before``: held until then (a chat channel's confirmation
        window)."""
        assert row.agency_code is not None
        agency = self.settings.agency(row.agency_code)
        queued = outbox.enqueue_agency(
            session,
            row,
            agency.code,
            agency.sink.max_attempts,
            idempotency_key(row, agency.code),
            new_case=new_case,
            not_before=not_before,
        )
        if queued is not None and summary is not None:
            summary.queued[agency.code] += 1
            if not_before is not None:
                summary.held[agency.code] += 1

    @staticmethod
    def _follow(session: Session, row: ComplaintRow, primary_id: int) -> None:
        """A new duplicate takes its primary's status and agency: it is the
        same problem, at the stage the primary has reached."""
        with session.no_autoflush:
            primary = session.get(ComplaintRow, primary_id)
        if primary is not None:
            follow_primary(session, row, primary, "dengar")

    def _link_duplicate(
        self,
        session: Session,
        row: ComplaintRow,
        batch: BatchState,
        chosen: Link | None = None,
    ) -> Link | None:
        """Link a new case: to the case its reporter chose, else as dedupe
        finds it."""
        if chosen is not None:
            apply_link(row, chosen)
        if self.deduper is None or batch.new_cases is None:
            return chosen
        link = (
            self.deduper.find(session, row, batch.new_cases)
            if chosen is None
            else chosen
        )
        if link is not None:
            apply_link(row, link)
        self.deduper.add(row, batch.new_cases)
        return link

    def _quarantine(
        self,
        session: Session,
        item: RejectedItem,
        batch: BatchState,
        summary: BatchSummary,
    ) -> None:
        if batch.has_source(item):
            summary.already_stored += 1
            return
        session.add(
            QuarantineRow(
                channel=item.channel,
                external_id=item.external_id,
                reason=storable(item.reason),
                data=item.raw,
            )
        )
        session.flush()
        batch.quarantined(item)
        summary.quarantined += 1


def _insert(session: Session, model: type[SQLModel], **values: Any) -> int:
    """INSERT one row with Core, without flushing pending rows first; its id.

    The values go as parameters of one statement per table and set of
    columns, so SQLAlchemy compiles it once and reuses it from its cache
    (``.values(**values)`` would build and compile a statement per row)."""
    table = model.__table__  # type: ignore[attr-defined]
    with session.no_autoflush:
        inserted: Any = session.execute(_insert_of(table), values)
    return int(inserted.inserted_primary_key[0])


@functools.cache
def _insert_of(table: Any) -> Any:
    return insert(table)


def held_until(window: float) -> datetime | None:
    """When a case held for ``window`` seconds from now may go out."""
    return utcnow() + timedelta(seconds=window) if window > 0 else None
