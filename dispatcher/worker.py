"""Drains the outbox: claims due rows, delivers them to agency sinks and
citizen channels, records each outcome."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

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
    utcnow,
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
        """Claim and deliver one batch of due rows.

        The batch costs three database transactions whatever its size: the
        claim, one load of every row with what it needs, and one write of
        every outcome; deliveries run concurrently in between."""
        ids = await asyncio.to_thread(
            outbox.claim,
            self.engine,
            self.worker,
            limit or self.config.batch_size,
            self.config.claim_timeout,
        )
        summary = DrainSummary()
        if not ids:
            return summary
        loaded = await asyncio.to_thread(self._load_batch, ids)
        outcomes = await asyncio.gather(*(self._attempt(job) for job in loaded))
        await asyncio.to_thread(self._record_batch, outcomes)
        for outcome in outcomes:
            label = outcome.label
            if outcome.status in (outbox.PENDING, outbox.DEAD):
                log.warning(
                    "delivery of outbox row %s to %s failed (%s): %s",
                    outcome.row.id,
                    outcome.row.target,
                    outcome.status,
                    outcome.error,
                )
            summary.outcomes[label] += 1
            summary.by_target[f"{outcome.row.target}:{label}"] += 1
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

    # -- one batch --------------------------------------------------------

    def _load_batch(self, ids: list[int]) -> list[_Job]:
        # one session for the whole batch: rows, cases, messages, files
        jobs: list[_Job] = []
        with self.sessions() as session:
            rows = session.exec(
                select(OutboxRow).where(col(OutboxRow.id).in_(ids))
            ).all()
            files = self._prefetch(session, rows)
            for row in sorted(rows, key=lambda r: r.id or 0):
                if row.kind != outbox.KIND_AGENCY:
                    jobs.append(_Job(row))
                    continue
                if row.target not in self.sinks:
                    problem = f"no agency {row.target!r} in config"
                    jobs.append(_Job(row, problem=problem, permanent=True))
                    continue
                try:
                    delivery = self._delivery_for(session, row, files)
                    jobs.append(_Job(row, delivery=delivery))
                except Exception as exc:
                    log.exception("cannot build the message of outbox row %s", row.id)
                    jobs.append(_Job(row, problem=f"{type(exc).__name__}: {exc}"))
        return jobs

    def _prefetch(
        self, session: Session, rows: Sequence[OutboxRow]
    ) -> dict[int, dict[str, bytes]]:
        # the batch's cases in one query (build_message then finds them in
        # the session) and their stored files in another
        ids = list({r.complaint_id for r in rows if r.kind == outbox.KIND_AGENCY})
        if not ids:
            return {}
        session.exec(select(ComplaintRow).where(col(ComplaintRow.id).in_(ids))).all()
        files: dict[int, dict[str, bytes]] = {}
        for a in session.exec(
            select(AttachmentRow).where(
                col(AttachmentRow.complaint_id).in_(ids),
                col(AttachmentRow.data).is_not(None),
            )
        ).all():
            if a.data is not None:
                files.setdefault(a.complaint_id, {})[a.sha256] = a.data
        return files

    def _delivery_for(
        self, session: Session, row: OutboxRow, files: dict[int, dict[str, bytes]]
    ) -> Delivery:
        complaint = session.get(ComplaintRow, row.complaint_id)
        if complaint is None:
            raise LookupError(f"case {row.complaint_id} not found")
        agency = self.settings.agency(row.target)
        message = build_message(session, complaint, agency.code, agency.name)
        message["idempotency_key"] = row.idempotency_key
        return Delivery(
            idempotency_key=row.idempotency_key,
            agency_code=agency.code,
            message=message,
            attachments=files.get(row.complaint_id, {}),
        )

    async def _attempt(self, job: _Job) -> _Outcome:
        row = job.row
        if job.problem is not None:
            return self._failed(row, job.problem, job.permanent)
        if row.kind == outbox.KIND_AGENCY:
            assert job.delivery is not None
            return await self._to_agency(row, job.delivery)
        return await self._to_citizen(row)

    async def _to_agency(self, row: OutboxRow, delivery: Delivery) -> _Outcome:
        sink = self.sinks[row.target]
        try:
            await sink.deliver(delivery)
        except PermanentDeliveryError as exc:
            detail = f"{exc} ({exc.detail})" if exc.detail else str(exc)
            return self._failed(row, detail, True)
        except RetriableDeliveryError as exc:
            return self._failed(row, str(exc), False, exc.retry_after)
        except Exception as exc:
            log.exception("sink for %s failed on outbox row %s", row.target, row.id)
            return self._failed(row, f"{type(exc).__name__}: {exc}", False)
        return _Outcome(row, outbox.DELIVERED)

    async def _to_citizen(self, row: OutboxRow) -> _Outcome:
        replier = self.repliers.get(row.target)
        if replier is None:
            return self._failed(
                row, f"channel {row.target!r} cannot send replies", True
            )
        reply = outbox.reply_of(row)
        try:
            remote_id = await replier.send_reply(reply)
        except RecipientUnreachable as exc:
            return _Outcome(
                row, outbox.SKIPPED, error=str(exc), unreachable=reply.recipient
            )
        except ReplyRetriable as exc:
            return self._failed(row, str(exc), False, exc.retry_after)
        except Exception as exc:
            log.exception(
                "reply through %s failed on outbox row %s", row.target, row.id
            )
            return self._failed(row, f"{type(exc).__name__}: {exc}", False)
        return _Outcome(row, outbox.DELIVERED, remote_id=remote_id)

    def _failed(
        self,
        row: OutboxRow,
        error: str,
        permanent: bool,
        retry_after: float | None = None,
    ) -> _Outcome:
        # row.attempts already counts this attempt (the claim added it)
        if permanent or row.attempts >= row.max_attempts:
            return _Outcome(row, outbox.DEAD, error=error)
        delay = (
            retry_after
            if retry_after is not None
            else outbox.backoff_seconds(
                row.attempts, self.config.backoff_base, self.config.backoff_max
            )
        )
        return _Outcome(
            row,
            outbox.PENDING,
            error=error,
            retry_at=utcnow() + timedelta(seconds=delay),
        )

    def _record_batch(self, outcomes: list[_Outcome]) -> None:
        # every outcome of the batch in one transaction; each UPDATE applies
        # only while this worker still holds the claim
        table = OutboxRow.__table__  # type: ignore[attr-defined]
        now = utcnow()
        dispatched: list[OutboxRow] = []
        with self.sessions() as session:
            for o in outcomes:
                values: dict[str, object] = {"status": o.status}
                if o.status == outbox.DELIVERED:
                    values |= {"delivered_at": now, "remote_id": o.remote_id,
                               "last_error": None}  # fmt: skip
                    if o.row.kind == outbox.KIND_AGENCY:
                        dispatched.append(o.row)
                elif o.status == outbox.PENDING:
                    values |= {"last_error": o.error, "next_attempt_at": o.retry_at,
                               "claimed_by": None, "claimed_at": None}  # fmt: skip
                else:
                    values["last_error"] = o.error
                if o.unreachable is not None and (
                    session.get(UnreachableRecipient, (o.row.target, o.unreachable))
                    is None
                ):
                    session.add(
                        UnreachableRecipient(
                            channel=o.row.target,
                            recipient=o.unreachable,
                            reason=o.error or "unreachable",
                        )
                    )
                    session.flush()
                session.execute(
                    update(table)
                    .where(table.c.id == o.row.id, table.c.claimed_by == self.worker)
                    .values(**values)
                )
            self._mark_dispatched(session, dispatched)
            session.commit()

    def _mark_dispatched(self, session: Session, rows: list[OutboxRow]) -> None:
        if not rows:
            return
        targets = {row.complaint_id: row.target for row in rows}
        cases = session.exec(
            select(ComplaintRow).where(
                col(ComplaintRow.id).in_(list(targets)),
                col(ComplaintRow.status).in_(("received", "verified")),
            )
        ).all()
        for complaint in cases:
            assert complaint.id is not None
            complaint.status = "dispatched"
            session.add(complaint)
            session.add(
                StatusEvent(
                    complaint_id=complaint.id,
                    status="dispatched",
                    actor="dengar",
                    note=f"delivered to {targets[complaint.id]}",
                )
            )


@dataclass
class _Job:
    """A claimed row and what its delivery needs (or why it cannot be made)."""

    row: OutboxRow
    delivery: Delivery | None = None
    problem: str | None = None
    permanent: bool = False


@dataclass
class _Outcome:
    """What happened to one claimed row, recorded with the rest of its batch."""

    row: OutboxRow
    status: str
    error: str | None = None
    remote_id: str | None = None
    retry_at: datetime | None = None
    unreachable: str | None = None

    @property
    def label(self) -> str:
        """The summary's name for it (``retry`` for a row that will be)."""
        return {outbox.PENDING: "retry"}.get(self.status, self.status)
