"""What one batch of the pipeline knows about itself: which of its items
are stored already, the tracking numbers still free, and the rows that can
wait to be inserted together at the end of the batch."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert
from sqlalchemy import select as sa_select
from sqlmodel import Session, SQLModel, col, select

from contracts.channel import FetchResult
from contracts.records import InboundMessage, RejectedItem, Reporter
from contracts.tracking import new_tracking_no
from storage.tables import ComplaintRow, QuarantineRow, StatusEvent, utcnow

_LOOKUP_CHUNK = 500  # values per IN (…): well under every database's limit


@dataclass
class BatchState:
    """Looked up once per batch and kept up to date as the batch stores:
    the sources ``(channel, external_id)`` and email Message-IDs already
    stored, so that nothing is stored twice."""

    sources: set[tuple[str, str]] = field(default_factory=set)
    # Message-ID → the fingerprints (sender and content) stored under it: a
    # Message-ID names the same mail only with the same fingerprint
    message_ids: dict[str, set[str]] = field(default_factory=dict)
    # checked in this transaction only: another writer may take one later
    free_tracking_nos: list[str] = field(default_factory=list)
    cases_left: int = 0  # at most: how many tracking numbers to draw
    # rows nothing in the batch reads back (attachments, status events):
    # added at the end, they are inserted together instead of one by one
    later: list[SQLModel] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, session: Session, result: FetchResult) -> BatchState:
        """The state for ``result``, with its sources already stored."""
        batch = cls(cases_left=len(result.items))
        wanted: dict[str, set[str]] = {}
        sources: list[InboundMessage | RejectedItem] = [*result.items]
        for item in [*sources, *result.rejected]:
            wanted.setdefault(item.channel, set()).add(item.external_id)
        for channel, ids in wanted.items():
            for chunk in _chunks(ids):
                for table in (ComplaintRow, QuarantineRow):
                    found = session.exec(
                        select(table.external_id).where(
                            table.channel == channel,
                            col(table.external_id).in_(chunk),
                        )
                    )
                    batch.sources.update((channel, i) for i in found)
        return batch

    def load_message_ids(self, session: Session, ids: Iterable[str | None]) -> None:
        """Note which of ``ids`` are stored already."""
        table = ComplaintRow.__table__  # type: ignore[attr-defined]
        columns = (
            "message_id",
            "reporter_email",
            "reporter_chat_id",
            "reporter_handle",
            "subject",
            "original_text",
        )
        for chunk in _chunks({i for i in ids if i}):
            found = session.execute(
                sa_select(*(table.c[name] for name in columns)).where(
                    table.c.message_id.in_(chunk)
                )
            ).all()
            for message_id, email, chat, handle, subject, text in found:
                if message_id:
                    sender = Reporter(email=email, chat_id=chat, handle=handle)
                    print_ = message_fingerprint(sender, subject, text)
                    self.message_ids.setdefault(message_id, set()).add(print_)

    def seen_message(
        self, message_id: str | None, reporter: Reporter, subject: str | None, text: str
    ) -> bool | None:
        """Whether this message is stored already: True when its Message-ID
        is stored with the same sender and content, False when the id is
        stored for a different message (a collision), None when it is new."""
        if not message_id or message_id not in self.message_ids:
            return None
        return (
            message_fingerprint(reporter, subject, text) in self.message_ids[message_id]
        )

    def has_source(self, item: InboundMessage | RejectedItem) -> bool:
        """Whether a record or quarantine entry of ``item`` exists."""
        return (item.channel, item.external_id) in self.sources

    def stored(self, row: ComplaintRow) -> None:
        """Note a record stored by this batch."""
        self.sources.add((row.channel, row.external_id))
        if row.message_id:
            sender = Reporter(
                email=row.reporter_email,
                chat_id=row.reporter_chat_id,
                handle=row.reporter_handle,
            )
            self.message_ids.setdefault(row.message_id, set()).add(
                message_fingerprint(sender, row.subject, row.original_text)
            )

    def quarantined(self, item: RejectedItem) -> None:
        """Note an item quarantined by this batch."""
        self.sources.add((item.channel, item.external_id))

    def tracking_no(self, session: Session, prefix: str) -> str:
        """A tracking number no record has; free ones are drawn and checked
        many at a time, enough for the rest of the batch."""
        while not self.free_tracking_nos:
            wanted = min(_LOOKUP_CHUNK, max(1, self.cases_left))
            drawn = {new_tracking_no(prefix) for _ in range(wanted)}
            # every tracking number is written with its row's INSERT, so the
            # table already holds this batch's: no flush of pending rows needed
            with session.no_autoflush:
                taken = session.exec(
                    select(ComplaintRow.tracking_no).where(
                        col(ComplaintRow.tracking_no).in_(sorted(drawn))
                    )
                )
                drawn.difference_update(taken)
            self.free_tracking_nos = sorted(drawn)
        self.cases_left -= 1
        return self.free_tracking_nos.pop()

    def add_later(self, rows: Iterable[SQLModel]) -> None:
        """Rows to add to the session when the batch is done."""
        self.later.extend(rows)

    def status_event(
        self, complaint_id: int, status: str, actor: str, note: str | None = None
    ) -> None:
        """A ``StatusEvent`` to insert when the batch is done."""
        self.events.append(
            {
                "complaint_id": complaint_id,
                "status": status,
                "actor": actor,
                "note": note,
                "created_at": utcnow(),
            }
        )

    def add_deferred(self, session: Session) -> None:
        """Add the rows kept for the end of the batch."""
        if self.events:
            # one executemany, without building an ORM object per event
            table = StatusEvent.__table__  # type: ignore[attr-defined]
            session.execute(insert(table), self.events)
        session.add_all(self.later)
        self.events = []
        self.later = []


def message_fingerprint(reporter: Reporter, subject: str | None, text: str) -> str:
    """Who sent a message and a digest of what it says."""
    sender = reporter.email or reporter.chat_id or reporter.handle or ""
    digest = hashlib.sha256()
    for part in (sender.strip().lower(), subject or "", text):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()


def _chunks(values: Iterable[str]) -> list[list[str]]:
    ordered = sorted(values)
    return [
        ordered[start : start + _LOOKUP_CHUNK]
        for start in range(0, len(ordered), _LOOKUP_CHUNK)
    ]
