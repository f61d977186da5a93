"""Drains the outbox: claims due rows, delivers them to agency sinks and
citizen channels, records each outcome."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from channels.base import RecipientUnreachable, Replier, ReplyRetriable
from config.settings import OutboxSettings, Settings
from dispatcher import outbox
from dispatcher.message import build_message
from dispatcher.sinks.base import (
    Delivery,
    PermanentDeliveryError,
    RetriableDeliveryError,
    Sink,
)
from storage.tables import (
    AttachmentRow,
    ComplaintRow,
    OutboxRow,
    StatusEvent,
    UnreachableRecipient,
)

log = logging.getLogger(__name__)


def worker_id() -> str:
    """A name for this process in claims: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class DrainSummary:
    """What one drain did, by outcome and by target."""

    outcomes: Counter[str] = field(default_factory=Counter)
    by_target: Counter[str] = field(default_factory=Counter)

    def add(self, other: DrainSummary) -> None:
        """Fold another drain's counts into this one."""
        self.outcomes.update(other.outcomes)
        self.by_target.update(other.by_target)


class OutboxWorker:
    """Delivers claimed outbox rows. One slow or broken target never holds up
    the others: rows are delivered concurrently, each bounded by its sink's
    own timeout."""

    def __init__(
        self,
        engine: Engine,
        sessions: sessionmaker[Session],
        settings: Settings,
        sinks: Mapping[str, Sink],
        repliers: Mapping[str, Replier],
        worker: str | None = None,
    ) -> None:
        self.engine = engine
        self.sessions = sessions
        self.settings = settings
        self.config: OutboxSettings = settings.outbox
        self.sinks = sinks
        self.repliers = repliers
        self.worker = worker or worker_id()

    async def drain_once(self, limit: int | None = None) -> DrainSummary:
        """Claim and deliver one batch of due rows."""
        ids = await asyncio.to_thread(
            outbox.claim,
            self.engine,
            self.worker,
            limit or self.config.batch_size,
            self.config.claim_timeout,
        )
        summary = DrainSummary()
        results = await asyncio.gather(*(self._deliver(i) for i in ids))
        for target, outcome in results:
            summary.outcomes[outcome] += 1
            summary.by_target[f"{target}:{outcome}"] += 1
        return summary

    async def drain_all(self, max_rounds: int = 1000) -> DrainSummary:
        """Drain until nothing is due (for ``run --once``)."""
        total = DrainSummary()
        for _ in range(max_rounds):
            summary = await self.drain_once()
            total.add(summary)
            if not summary.outcomes:
                break
        return total

    async def _deliver(self, row_id: int) -> tuple[str, str]:
        row = await asyncio.to_thread(self._load, row_id)
        if row is None:
            return ("?", "vanished")
        if row.kind == outbox.KIND_AGENCY:
            return row.target, await self._to_agency(row)
        return row.target, await self._to_citizen(row)

    def _load(self, row_id: int) -> OutboxRow | None:
        with self.sessions() as session:
            return session.get(OutboxRow, row_id)

    async def _to_agency(self, row: OutboxRow) -> str:
        sink = self.sinks.get(row.target)
        if sink is None:
            return await self._fail(row, f"no agency {row.target!r} in config", True)
        try:
            delivery = await asyncio.to_thread(self._delivery_for, row)
            await sink.deliver(delivery)
        except PermanentDeliveryError as exc:
            detail = f"{exc} ({exc.detail})" if exc.detail else str(exc)
            return await self._fail(row, detail, True)
        except RetriableDeliveryError as exc:
            return await self._fail(row, str(exc), False, exc.retry_after)
        except Exception as exc:
            log.exception("sink for %s failed on outbox row %s", row.target, row.id)
            return await self._fail(row, f"{type(exc).__name__}: {exc}", False)
        await asyncio.to_thread(self._dispatched, row)
        return outbox.DELIVERED

    def _dispatched(self, row: OutboxRow) -> None:
        with self.sessions() as session:
            outbox.mark_delivered(session, row.id or 0, self.worker, None)
            complaint = session.get(ComplaintRow, row.complaint_id)
            if complaint is not None and complaint.status in ("received", "verified"):
                complaint.status = "dispatched"
                session.add(complaint)
                session.add(
                    StatusEvent(
                        complaint_id=row.complaint_id,
                        status="dispatched",
                        actor="dengar",
                        note=f"delivered to {row.target}",
                    )
                )
                session.commit()

    def _delivery_for(self, row: OutboxRow) -> Delivery:
        with self.sessions() as session:
            complaint = session.get(ComplaintRow, row.complaint_id)
            assert complaint is not None
            agency = self.settings.agency(row.target)
            message = build_message(session, complaint, agency.code, agency.name)
            message["idempotency_key"] = row.idempotency_key
            files = session.exec(
                select(AttachmentRow).where(
                    AttachmentRow.complaint_id == complaint.id,
                    AttachmentRow.data.is_not(None),  # type: ignore[union-attr]
                )
            ).all()
            return Delivery(
                idempotency_key=row.idempotency_key,
                agency_code=agency.code,
                message=message,
                attachments={a.sha256: a.data for a in files if a.data is not None},
            )

    async def _to_citizen(self, row: OutboxRow) -> str:
        replier = self.repliers.get(row.target)
        if replier is None:
            return await self._fail(
                row, f"channel {row.target!r} cannot send replies", True
            )
        reply = outbox.reply_of(row)
        try:
            remote_id = await replier.send_reply(reply)
        except RecipientUnreachable as exc:
            await asyncio.to_thread(self._unreachable, row, reply.recipient, str(exc))
            return outbox.SKIPPED
        except ReplyRetriable as exc:
            return await self._fail(row, str(exc), False, exc.retry_after)
        except Exception as exc:
            log.exception(
                "reply through %s failed on outbox row %s", row.target, row.id
            )
            return await self._fail(row, f"{type(exc).__name__}: {exc}", False)
        await asyncio.to_thread(self._delivered, row, remote_id)
        return outbox.DELIVERED

    def _delivered(self, row: OutboxRow, remote_id: str | None) -> None:
        with self.sessions() as session:
            outbox.mark_delivered(session, row.id or 0, self.worker, remote_id)

    def _unreachable(self, row: OutboxRow, recipient: str, reason: str) -> None:
        with self.sessions() as session:
            if session.get(UnreachableRecipient, (row.target, recipient)) is None:
                session.add(
                    UnreachableRecipient(
                        channel=row.target, recipient=recipient, reason=reason
                    )
                )
                session.commit()
            outbox.mark_skipped(session, row.id or 0, self.worker, reason)

    async def _fail(
        self,
        row: OutboxRow,
        error: str,
        permanent: bool,
        retry_after: float | None = None,
    ) -> str:
        def record() -> str:
            with self.sessions() as session:
                return outbox.mark_failed(
                    session,
                    row,
                    self.worker,
                    error,
                    permanent=permanent,
                    retry_after=retry_after,
                    base=self.config.backoff_base,
                    cap=self.config.backoff_max,
                )

        status = await asyncio.to_thread(record)
        log.warning(
            "delivery of outbox row %s to %s failed (%s): %s",
            row.id,
            row.target,
            status,
            error,
        )
        return "dead" if status == outbox.DEAD else "retry"
