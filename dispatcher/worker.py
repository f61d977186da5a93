"""Drains the outbox: claims due rows, delivers them to agency sinks and
citizen channels, records each outcome.

Loading a batch is in ``dispatcher.outbox.drain_load``, committing its outcomes as
they come in ``dispatcher.outbox.drain_recorder``; this module decides what each
attempt's result means (delivered, retry later, dead).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from config.settings import OutboxSettings, Settings
from contracts.backoff import backoff_seconds
from contracts.channel import Replier
from contracts.errors import (
    PermanentDeliveryError,
    RecipientUnreachable,
    ReplyRetriable,
    RetriableDeliveryError,
)
from dispatcher.outbox import queue as outbox
from dispatcher.outbox.drain_load import load_batch
from dispatcher.outbox.drain_recorder import OutcomeRecorder
from dispatcher.outbox.drain_types import Claimed, Job, Outcome
from dispatcher.sinks.base import Sink, deliver_batch
from storage.tables import utcnow

log = logging.getLogger(__name__)

# citizen messages of one channel in flight at once: also the most a crash
# can make Dengar send again through that channel (one per citizen). 8 cost
# the Telegram benchmark a third of its rate (each message waits for its
# record); at 32 it is as fast as sending a whole batch at once
REPLIES_IN_FLIGHT = 32


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
        self._drains = 0

    async def drain_once(self, limit: int | None = None) -> DrainSummary:
        """Claim and deliver one batch of due rows.

        Each agency gets its part of the batch in hand-overs of at most its
        sink's ``concurrency`` rows, all agencies concurrently; a hand-over's
        outcomes are committed before the next begins. Citizen messages go
        one at a time per citizen, each counted as begun before it is sent
        and recorded as soon as it returns. So a crash re-sends at most what
        was in flight: per agency its ``concurrency``, per citizen one
        message."""
        summary = DrainSummary()
        # each drain claims in its own name: two drains of one process (the
        # scheduler's and the one right after a poll) never take each
        # other's rows for their own
        self._drains += 1
        claimant = f"{self.worker}#{self._drains}"
        loaded = await asyncio.to_thread(
            self._claim_and_load, claimant, limit or self.config.batch_size
        )
        if not loaded:
            return summary
        recorder = OutcomeRecorder(
            self.engine, self.sessions, claimant, (job.row.id for job in loaded)
        )
        outcomes = await self._attempt_all(loaded, recorder)
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

    def _claim_and_load(self, claimant: str, limit: int) -> list[Job]:
        # one trip to a thread for both: on a busy machine every hand-over
        # between the event loop and a thread costs more than the work
        ids = outbox.claim(self.engine, claimant, limit, self.config.claim_timeout)
        if not ids:
            return []
        return load_batch(self.engine, self.sessions, self.settings, self.sinks, ids)

    async def _attempt_all(
        self, jobs: list[Job], recorder: OutcomeRecorder
    ) -> list[Outcome]:
        # every agency and every citizen runs concurrently: a slow or broken
        # target holds up only its own rows, each bounded by its timeout
        settled: list[Outcome] = []
        by_target: dict[str, list[Job]] = {}
        by_recipient: dict[tuple[str, str], list[Claimed]] = {}
        for job in jobs:
            if job.skip is not None:
                settled.append(Outcome(job.row, outbox.SKIPPED, error=job.skip))
            elif job.problem is not None:
                settled.append(self._failed(job.row, job.problem, job.permanent))
            elif job.row.kind == outbox.KIND_AGENCY:
                by_target.setdefault(job.row.target, []).append(job)
            else:
                try:
                    recipient = outbox.reply_of(job.row).recipient
                except (ValueError, TypeError) as exc:
                    problem = f"unreadable reply: {type(exc).__name__}: {exc}"
                    settled.append(self._failed(job.row, problem, True))
                    continue
                by_recipient.setdefault((job.row.target, recipient), []).append(job.row)
        gates = {
            channel: asyncio.Semaphore(REPLIES_IN_FLIGHT) for channel, _ in by_recipient
        }
        groups = await asyncio.gather(
            self._settled(settled, recorder),
            *(self._to_agency(t, group, recorder) for t, group in by_target.items()),
            *(
                self._to_citizen_in_turn(rows, recorder, gates[channel])
                for (channel, _), rows in by_recipient.items()
            ),
            return_exceptions=True,
        )
        outcomes: list[Outcome] = []
        for group in groups:
            if isinstance(group, BaseException):
                raise group  # the recorder failed: the others stopped too
            outcomes.extend(group)
        return outcomes

    @staticmethod
    async def _settled(
        outcomes: list[Outcome], recorder: OutcomeRecorder
    ) -> list[Outcome]:
        await recorder.record(outcomes)
        return outcomes

    async def _to_citizen_in_turn(
        self, rows: list[Claimed], recorder: OutcomeRecorder, gate: asyncio.Semaphore
    ) -> list[Outcome]:
        # one citizen's messages in their order, each recorded before the
        # next is sent, and at most REPLIES_IN_FLIGHT of a channel's messages
        # sent and not yet recorded: a crash repeats at most one message to
        # a citizen and that many in all
        outcomes: list[Outcome] = []
        for row in rows:
            async with gate:
                outcome = await self._to_citizen(row, recorder)
                if outcome is not None:
                    await recorder.record([outcome])
                    outcomes.append(outcome)
        return outcomes

    async def _to_agency(
        self, target: str, jobs: list[Job], recorder: OutcomeRecorder
    ) -> list[Outcome]:
        window = self._window(target)
        outcomes: list[Outcome] = []
        held = {job.row.id for job in jobs}
        for start in range(0, len(jobs), window):
            # a row whose claim another worker took over (this drain was
            # too slow) is that worker's to send
            chunk = [job for job in jobs[start : start + window] if job.row.id in held]
            if not chunk:
                continue
            got = await self._hand_over(target, chunk)
            held = await recorder.record(got)
            outcomes.extend(got)
            if all(o.status == outbox.PENDING for o in got):
                # the whole hand-over failed and may be tried again: the
                # agency takes nothing now, and each further hand-over would
                # only wait for the same timeout
                rest = [
                    self._failed(job.row, f"not sent: {got[0].error}", False)
                    for job in jobs[start + window :]
                ]
                await recorder.record(rest)
                outcomes.extend(rest)
                break
        return outcomes

    def _window(self, target: str) -> int:
        """How many of ``target``'s rows may be in flight at once."""
        agency = next((a for a in self.settings.agencies if a.code == target), None)
        return max(1, getattr(getattr(agency, "sink", None), "concurrency", 1))

    async def _hand_over(self, target: str, jobs: list[Job]) -> list[Outcome]:
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

    async def _to_citizen(
        self, row: Claimed, recorder: OutcomeRecorder
    ) -> Outcome | None:
        """Send one citizen message; None when the row's claim was taken over
        by another worker meanwhile (that worker sends it)."""
        replier = self.repliers.get(row.target)
        if replier is None:
            return self._failed(
                row, f"channel {row.target!r} cannot send replies", True
            )
        reply = outbox.reply_of(row)
        if row.id not in await recorder.begin([row.id]):
            return None
        try:
            remote_id = await replier.send_reply(reply)
        except RecipientUnreachable as exc:
            return Outcome(
                row,
                outbox.SKIPPED,
                error=str(exc),
                unreachable=reply.recipient,
                began=True,
            )
        except ReplyRetriable as exc:
            return replace(
                self._failed(row, str(exc), False, exc.retry_after), began=True
            )
        except Exception as exc:
            log.exception(
                "reply through %s failed on outbox row %s", row.target, row.id
            )
            failed = self._failed(row, f"{type(exc).__name__}: {exc}", False)
            return replace(failed, began=True)
        return Outcome(row, outbox.DELIVERED, remote_id=remote_id, began=True)

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
            else backoff_seconds(
                row.attempts, self.config.backoff_base, self.config.backoff_max
            )
        )
        return Outcome(
            row,
            outbox.PENDING,
            error=error,
            retry_at=utcnow() + timedelta(seconds=delay),
        )
