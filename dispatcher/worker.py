"""Drains the outbox: claims due rows, delivers them to agency sinks and
citizen channels, records each outcome.

Loading a batch is in ``dispatcher.drain_load`` and writing its outcomes in
``dispatcher.drain_write``; this module decides what each attempt's result
means (delivered, retry later, dead).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from channels.base import RecipientUnreachable, Replier, ReplyRetriable
from config.settings import OutboxSettings, Settings
from dispatcher import outbox
from dispatcher.drain_load import load_batch
from dispatcher.drain_types import Claimed, Job, Outcome
from dispatcher.drain_write import record_batch
from dispatcher.sinks.base import (
    PermanentDeliveryError,
    RetriableDeliveryError,
    Sink,
    deliver_batch,
)
from storage.tables import utcnow

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
        await asyncio.to_thread(
            record_batch, self.engine, self.sessions, self.worker, outcomes
        )
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

    def _claim_and_load(self, limit: int) -> list[Job]:
        # one trip to a thread for both: on a busy machine every hand-over
        # between the event loop and a thread costs more than the work
        ids = outbox.claim(self.engine, self.worker, limit, self.config.claim_timeout)
        if not ids:
            return []
        return load_batch(self.engine, self.sessions, self.settings, self.sinks, ids)

    async def _attempt_all(self, jobs: list[Job]) -> list[Outcome]:
        # each agency's share of the batch goes as one hand-over, and every
        # agency and citizen reply runs concurrently: a slow or broken target
        # holds up only its own rows, each bounded by its sink's timeout
        outcomes: list[Outcome] = []
        by_target: dict[str, list[Job]] = {}
        citizen: list[Job] = []
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

    async def _to_citizens(self, rows: list[Claimed]) -> list[Outcome]:
        return [await self._to_citizen(row) for row in rows]

    async def _to_agency(self, target: str, jobs: list[Job]) -> list[Outcome]:
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

    def _agency_outcome(self, row: Claimed, error: Exception | str | None) -> Outcome:
        if not isinstance(error, Exception):  # accepted, with its remote id
            return Outcome(row, outbox.DELIVERED, remote_id=error)
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

    async def _to_citizen(self, row: Claimed) -> Outcome:
        replier = self.repliers.get(row.target)
        if replier is None:
            return self._failed(
                row, f"channel {row.target!r} cannot send replies", True
            )
        reply = outbox.reply_of(row)
        try:
            remote_id = await replier.send_reply(reply)
        except RecipientUnreachable as exc:
            return Outcome(
                row, outbox.SKIPPED, error=str(exc), unreachable=reply.recipient
            )
        except ReplyRetriable as exc:
            return self._failed(row, str(exc), False, exc.retry_after)
        except Exception as exc:
            log.exception(
                "reply through %s failed on outbox row %s", row.target, row.id
            )
            return self._failed(row, f"{type(exc).__name__}: {exc}", False)
        return Outcome(row, outbox.DELIVERED, remote_id=remote_id)

    def _failed(
        self,
        row: Claimed,
        error: str,
        permanent: bool,
        retry_after: float | None = None,
    ) -> Outcome:
        # row.attempts already counts this attempt (the claim added it)
        if permanent or row.attempts >= row.max_attempts:
            return Outcome(row, outbox.DEAD, error=error)
        delay = (
            retry_after
            if retry_after is not None
            else outbox.backoff_seconds(
                row.attempts, self.config.backoff_base, self.config.backoff_max
            )
        )
        return Outcome(
            row,
            outbox.PENDING,
            error=error,
            retry_at=utcnow() + timedelta(seconds=delay),
        )
