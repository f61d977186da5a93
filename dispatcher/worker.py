"""Drains the outbox: claims due rows, delivers them to agency sinks and
citizen channels, records each outcome."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from channels.base import RecipientUnreachable, Replier, ReplyRetriable
from config.settings import OutboxSettings, Settings
from dispatcher import outbox
from dispatcher.message import CaseExtras, CaseRecord, compose_message, load_extras
from dispatcher.sinks.base import (
    Delivery,
    PermanentDeliveryError,
    RetriableDeliveryError,
    Sink,
    deliver_batch,
)
from storage.tables import (
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

        The batch costs a fixed number of database statements whatever its
        size: the claim, the load of every row with what it needs, and the
        write of every outcome; in between each agency gets its part of the
        batch in one hand-over, all agencies concurrently."""
        summary = DrainSummary()
        loaded = await asyncio.to_thread(
            self._claim_and_load, limit or self.config.batch_size
        )
        if not loaded:
            return summary
        outcomes = await self._attempt_all(loaded)
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

    def _claim_and_load(self, limit: int) -> list[_Job]:
        # one trip to a thread for both: on a busy machine every hand-over
        # between the event loop and a thread costs more than the work
        ids = outbox.claim(self.engine, self.worker, limit, self.config.claim_timeout)
        return self._load_batch(ids) if ids else []

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        # PostgreSQL: the loads need no transaction of their own, and without
        # one BEGIN and ROLLBACK are two round trips fewer. SQLite is local
        # (and its engine makes every transaction BEGIN IMMEDIATE).
        if self.engine.dialect.name != "postgresql":
            with self.sessions() as session:
                yield session
            return
        with (
            self.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            ) as connection,
            self.sessions(bind=connection) as session,
        ):
            yield session

    def _load_batch(self, ids: list[int]) -> list[_Job]:
        # a fixed number of queries for the whole batch: rows with their
        # cases as plain records (ORM objects would cost more than the rest
        # of the load), then the cases' files, follow-ups and supporters
        jobs: list[_Job] = []
        dialect = self.engine.dialect.name
        rows_t = OutboxRow.__table__  # type: ignore[attr-defined]
        cases_t = ComplaintRow.__table__  # type: ignore[attr-defined]
        with self._reading() as session:
            found = session.execute(
                select(
                    *(rows_t.c[name] for name in _ROW_FIELDS),
                    *(cases_t.c[name].label(f"case_{name}") for name in _CASE_FIELDS),
                )
                .select_from(rows_t)
                .join(cases_t, cases_t.c.id == rows_t.c.complaint_id, isouter=True)
                .where(outbox.among(dialect, rows_t.c.id, ids))
                .order_by(rows_t.c.id)
            ).all()
            rows: list[_Claimed] = []
            cases: dict[int, CaseRecord] = {}
            split = len(_ROW_FIELDS)
            for values in found:
                row = _Claimed(*values[:split])
                rows.append(row)
                if values[split] is not None:  # the case's id: it exists
                    cases[row.id] = CaseRecord(*values[split:])
            case_ids = {r.complaint_id for r in rows if r.kind == outbox.KIND_AGENCY}
            extras = load_extras(session, case_ids)
            for row in rows:
                if row.kind != outbox.KIND_AGENCY:
                    jobs.append(_Job(row))
                    continue
                if row.target not in self.sinks:
                    problem = f"no agency {row.target!r} in config"
                    jobs.append(_Job(row, problem=problem, permanent=True))
                    continue
                try:
                    delivery = self._delivery_for(row, cases.get(row.id), extras)
                    jobs.append(_Job(row, delivery=delivery))
                except Exception as exc:
                    log.exception("cannot build the message of outbox row %s", row.id)
                    jobs.append(_Job(row, problem=f"{type(exc).__name__}: {exc}"))
        return jobs

    def _delivery_for(
        self,
        row: _Claimed,
        complaint: CaseRecord | None,
        extras: Mapping[int, CaseExtras],
    ) -> Delivery:
        if complaint is None:
            raise LookupError(f"case {row.complaint_id} not found")
        agency = self.settings.agency(row.target)
        found = extras[row.complaint_id]
        message = compose_message(complaint, found, agency.code, agency.name)
        message["idempotency_key"] = row.idempotency_key
        return Delivery(
            idempotency_key=row.idempotency_key,
            agency_code=agency.code,
            message=message,
            attachments={
                a.sha256: a.data for a in found.attachments if a.data is not None
            },
        )

    async def _attempt_all(self, jobs: list[_Job]) -> list[_Outcome]:
        # each agency's share of the batch goes as one hand-over, and every
        # agency and citizen reply runs concurrently: a slow or broken target
        # holds up only its own rows, each bounded by its sink's timeout
        outcomes: list[_Outcome] = []
        by_target: dict[str, list[_Job]] = {}
        citizen: list[_Job] = []
        for job in jobs:
            if job.problem is not None:
                outcomes.append(self._failed(job.row, job.problem, job.permanent))
            elif job.row.kind == outbox.KIND_AGENCY:
                by_target.setdefault(job.row.target, []).append(job)
            else:
                citizen.append(job)
        groups = await asyncio.gather(
            *(self._to_agency(target, group) for target, group in by_target.items()),
            *(self._to_citizens([job.row]) for job in citizen),
        )
        for group in groups:
            outcomes.extend(group)
        return outcomes

    async def _to_citizens(self, rows: list[_Claimed]) -> list[_Outcome]:
        return [await self._to_citizen(row) for row in rows]

    async def _to_agency(self, target: str, jobs: list[_Job]) -> list[_Outcome]:
        deliveries = [job.delivery for job in jobs if job.delivery is not None]
        assert len(deliveries) == len(jobs)
        try:
            errors = await deliver_batch(self.sinks[target], deliveries)
        except Exception as exc:
            # a sink that broke its contract: the whole hand-over failed
            log.exception("sink for %s failed on a batch", target)
            errors = [exc] * len(jobs)
        return [
            self._agency_outcome(job.row, error)
            for job, error in zip(jobs, errors, strict=True)
        ]

    def _agency_outcome(self, row: _Claimed, error: Exception | None) -> _Outcome:
        if error is None:
            return _Outcome(row, outbox.DELIVERED)
        if isinstance(error, PermanentDeliveryError):
            detail = f"{error} ({error.detail})" if error.detail else str(error)
            return self._failed(row, detail, True)
        if isinstance(error, RetriableDeliveryError):
            return self._failed(row, str(error), False, error.retry_after)
        log.error(
            "sink for %s failed on outbox row %s",
            row.target,
            row.id,
            exc_info=error,
        )
        return self._failed(row, f"{type(error).__name__}: {error}", False)

    async def _to_citizen(self, row: _Claimed) -> _Outcome:
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
        row: _Claimed,
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
        # every outcome of the batch in one transaction and few statements:
        # rows that end the same way (typically all delivered) share one
        # UPDATE; each applies only while this worker still holds the claim
        now = utcnow()
        same: dict[tuple[tuple[str, object], ...], list[int]] = {}
        dispatched: list[_Claimed] = []
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
                if o.unreachable is not None:
                    self._note_unreachable(session, o.row.target, o)
                same.setdefault(tuple(values.items()), []).append(o.row.id)
            outbox.finish_many(session, self.worker, same)
            self._mark_dispatched(session, dispatched)
            session.commit()

    @staticmethod
    def _note_unreachable(session: Session, channel: str, o: _Outcome) -> None:
        assert o.unreachable is not None
        if session.get(UnreachableRecipient, (channel, o.unreachable)) is None:
            session.add(
                UnreachableRecipient(
                    channel=channel,
                    recipient=o.unreachable,
                    reason=o.error or "unreachable",
                )
            )
            session.flush()

    def _mark_dispatched(self, session: Session, rows: list[_Claimed]) -> None:
        # only cases still waiting for an agency move on; one UPDATE tells
        # which did (another worker may be finishing the same case for a
        # second agency), and their status events go in one INSERT
        if not rows:
            return
        targets = {row.complaint_id: row.target for row in rows}
        table = ComplaintRow.__table__  # type: ignore[attr-defined]
        moved = (
            session.execute(
                update(table)
                .where(
                    outbox.among_locked(
                        self.engine.dialect.name,
                        table,
                        targets,
                        table.c.status.in_(("received", "verified")),
                    )
                )
                .values(status="dispatched")
                .returning(table.c.id)
            )
            .scalars()
            .all()
        )
        if not moved:
            return
        events = StatusEvent.__table__  # type: ignore[attr-defined]
        now = utcnow()
        session.execute(
            insert(events),
            [
                {
                    "complaint_id": case_id,
                    "status": "dispatched",
                    "actor": "dengar",
                    "note": f"delivered to {targets[case_id]}",
                    "created_at": now,
                }
                for case_id in sorted(moved)
            ],
        )


@dataclass(frozen=True, slots=True)
class _Claimed:
    """What delivering a claimed outbox row and recording it need."""

    id: int
    kind: str
    target: str
    complaint_id: int
    idempotency_key: str
    attempts: int
    max_attempts: int
    payload: str | None


# the columns of the batch's load query, in the order of these records
_ROW_FIELDS: tuple[str, ...] = _Claimed.__slots__
_CASE_FIELDS: tuple[str, ...] = CaseRecord.__slots__


@dataclass
class _Job:
    """A claimed row and what its delivery needs (or why it cannot be made)."""

    row: _Claimed
    delivery: Delivery | None = None
    problem: str | None = None
    permanent: bool = False


@dataclass
class _Outcome:
    """What happened to one claimed row, recorded with the rest of its batch."""

    row: _Claimed
    status: str
    error: str | None = None
    remote_id: str | None = None
    retry_at: datetime | None = None
    unreachable: str | None = None

    @property
    def label(self) -> str:
        """The summary's name for it (``retry`` for a row that will be)."""
        return {outbox.PENDING: "retry"}.get(self.status, self.status)
