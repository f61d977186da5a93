"""Polls channels and drains the outbox: once (``run --once``) or on a
schedule (APScheduler ``AsyncIOScheduler``) until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlmodel import Session

from contracts.channel import Channel, FetchResult
from contracts.errors import FatalChannelError, RetriableChannelError
from dengar import leases, sla
from dengar.app import App
from dengar.channel_states import ChannelStates
from dengar.dbhealth import DatabaseHealth, QuietSkips, is_outage, short_error
from dengar.pipeline import BatchSummary
from dengar.routing_learning import Learnt, retrain_if_enough
from dengar.sla import SlaPolicy
from dispatcher.routing_model import TrainingError
from dispatcher.status_inbox import consume_once, has_status_inbox
from dispatcher.worker import DrainSummary, worker_id
from normalizer.dedupe.rows import Refreshed, RowDeduper
from storage.tables import ComplaintRow, utcnow

log = logging.getLogger(__name__)
# what the operator sees without -v: start, each batch with items, stop
activity = logging.getLogger("dengar.activity")

SLA_INTERVAL = 3600.0  # seconds between auto-close sweeps
# seconds between syncs of the duplicate index with cases closed elsewhere
DEDUPE_REFRESH = 300.0
ROUTING_RELOAD = 300.0  # seconds between checks for a newer routing model
MAX_BATCHES_PER_POLL = 50  # on a schedule, yield to other jobs after this many


@dataclass
class RunSummary:
    """What a run did, per channel and in the outbox."""

    channels: dict[str, BatchSummary] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    outbox: DrainSummary = field(default_factory=DrainSummary)


class Runner:
    """Runs an ``App``'s channels and outbox.

    ``worker=True`` (``dengar run --worker``) is for several processes sharing
    one database: a channel is polled only while this process holds its lease
    (``dengar.leases``), renewed every third of ``lease_seconds``."""

    def __init__(
        self, app: App, *, worker: bool = False, lease_seconds: float = 30.0
    ) -> None:
        self.app = app
        self._stopping = asyncio.Event()
        self.states = ChannelStates(app)
        self.keeper: leases.LeaseKeeper | None = None
        if worker:
            self.keeper = leases.LeaseKeeper(
                app.engine, worker_id(), list(app.channels), lease_seconds
            )
        self._busy: set[str] = set()
        self._jobs: set[asyncio.Task[Any]] = set()
        self.health = DatabaseHealth()
        # set when jobs outlived shutdown_timeout and were cancelled: their
        # transactions are abandoned (rolled back when the process exits)
        self.timed_out = False

    # -- polling -----------------------------------------------------------

    async def poll(
        self, name: str, max_batches: int = MAX_BATCHES_PER_POLL
    ) -> BatchSummary:
        """Fetch and store batches from one channel until it has nothing more
        (or ``max_batches``). Errors are recorded in its state, not raised."""
        if self.keeper is not None and not self.keeper.may_poll(name):
            return BatchSummary()  # another worker polls it (or will)
        self._busy.add(name)
        try:
            return await self._poll(name, max_batches)
        finally:
            self._busy.discard(name)

    async def _poll(self, name: str, max_batches: int) -> BatchSummary:
        channel = self.app.channels[name]
        total = BatchSummary()
        state = await asyncio.to_thread(self.states.get, name)
        if state.disabled_reason:
            if self.states.stopped_by_same_settings(state):
                return total
            log.warning(
                "channel %s was stopped (%s); its settings changed since, "
                "trying it again",
                name,
                state.disabled_reason,
            )
            await asyncio.to_thread(self.states.enable, name)
        if state.next_poll_at is not None and state.next_poll_at > utcnow():
            return total
        cursor = state.cursor
        limit = self.app.settings.channel(name).batch_size
        for _ in range(max_batches):
            if self._stopping.is_set():
                break
            if self.keeper is not None and not self.keeper.may_poll(name):
                break  # being handed to another worker
            try:
                result = await self._unless_stopping(channel.fetch(cursor, limit))
                if result is None:
                    break  # shutting down: nothing was fetched, nothing lost
                summary = await asyncio.to_thread(self._store, name, result)
            except leases.LeaseLost:
                # another worker took the channel over; our batch was rolled
                # back and it will fetch those items itself
                log.warning("channel %s: lease lost, batch rolled back", name)
                if self.keeper is not None:
                    self.keeper.held.discard(name)
                break
            except FatalChannelError as exc:
                await asyncio.to_thread(self.states.disable, name, str(exc))
                raise
            except RetriableChannelError as exc:
                await asyncio.to_thread(
                    self.states.failed, name, str(exc), exc.retry_after
                )
                raise
            except Exception as exc:
                if is_outage(exc):
                    raise  # the job pauses; nothing to record in a dead database
                log.exception("channel %s failed", name)
                message = short_error(exc)
                await asyncio.to_thread(self.states.failed, name, message, None)
                raise RetriableChannelError(message) from exc
            total.add(summary)
            if result.items or result.rejected:
                activity.info("%s: %s", name, describe_batch(summary))
            await self._after_commit(channel, result)
            cursor = result.cursor
            if not result.more:
                break
        return total

    async def _unless_stopping(
        self, fetch: Coroutine[Any, Any, FetchResult]
    ) -> FetchResult | None:
        # a fetch may long-poll for a minute; shutdown must not wait for it
        task = asyncio.ensure_future(fetch)
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        return None

    def _store(self, name: str, result: FetchResult) -> BatchSummary:
        keeper = self.keeper
        if keeper is None:
            return self.app.store(name, result)

        def fence(session: Session) -> None:
            leases.fence(session, name, keeper.holder, keeper.ttl)
            # other workers store cases too: index theirs before linking ours
            if self.app.pipeline.deduper is not None:
                self.app.pipeline.deduper.catch_up(session)

        return self.app.store(name, result, guard=fence)

    async def _after_commit(self, channel: Channel, result: FetchResult) -> None:
        try:
            await channel.after_commit(result)
        except Exception:
            log.exception(
                "%s: marking items done at the source failed; they will be "
                "fetched again and recognised as already stored",
                channel.name,
            )

    # -- once --------------------------------------------------------------

    async def run_once(self) -> RunSummary:
        """Poll every enabled channel until drained, apply the agencies' status
        messages, then drain the outbox."""
        summary = RunSummary()
        for name in self.app.channels:
            try:
                summary.channels[name] = await self.poll(name, max_batches=100_000)
            except (FatalChannelError, RetriableChannelError) as exc:
                summary.errors[name] = str(exc)
                summary.channels.setdefault(name, BatchSummary())
        await self._inbox_job()
        summary.outbox = await self.app.worker.drain_all()
        return summary

    # -- forever -----------------------------------------------------------

    async def run_forever(self) -> None:
        """Poll and drain on a schedule until SIGINT or SIGTERM."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stopping.set)
        scheduler = AsyncIOScheduler(timezone="UTC")
        _quiet_scheduler_skips()

        def every(
            seconds: float, job: Any, job_id: str, *args: str, now: bool = False
        ) -> None:
            # one run of a job at a time; missed runs fold into one
            scheduler.add_job(
                job,
                "interval",
                seconds=seconds,
                args=list(args),
                id=job_id,
                replace_existing=True,
                max_instances=1,
                coalesce=True,
                **({"next_run_time": utcnow()} if now else {}),
            )

        for name in self.app.channels:
            interval = self.app.settings.channel(name).poll_interval
            every(interval, self._poll_job, f"poll:{name}", name, now=True)
        drain_interval = self.app.settings.outbox.drain_interval
        every(drain_interval, self._drain_job, "outbox", now=True)
        if any(has_status_inbox(agency) for agency in self.app.settings.agencies):
            every(drain_interval, self._inbox_job, "status-inbox")
        every(SLA_INTERVAL, self._sla_job, "sla")
        if self.app.pipeline.deduper is not None:
            every(DEDUPE_REFRESH, self._dedupe_job, "dedupe")
        model = self.app.settings.routing.model
        if model.enabled:
            # another worker (or `dengar routing learn`) may store a newer one
            every(ROUTING_RELOAD, self._routing_reload_job, "routing-reload")
            if model.retrain_hours is not None:
                every(model.retrain_hours * 3600, self._retrain_job, "routing-retrain")
        if self.keeper is not None:
            await self._lease_job()
            every(max(0.5, self.keeper.ttl / 3), self._lease_job, "leases")
        scheduler.start()
        log.info(
            "dengar running: %d channel(s)%s",
            len(self.app.channels),
            " as a worker" if self.keeper else "",
        )
        try:
            await self._stopping.wait()
        finally:
            log.info("shutting down")
            # no new jobs; let the running ones finish first (shutting the
            # scheduler down would cancel them mid-batch)
            scheduler.pause()
            await self._wait_for_jobs()
            scheduler.shutdown(wait=False)
            if self.keeper is not None and not self.timed_out:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self.keeper.release_all)
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    def stop(self) -> None:
        """Ask ``run_forever`` to finish."""
        self._stopping.set()

    async def _wait_for_jobs(self) -> None:
        # a job mid-batch finishes its transaction; the poll loop checks
        # _stopping between batches, so waiting is bounded by one batch
        # (APScheduler wraps each job in its own coroutine, so the jobs
        # register their tasks themselves)
        pending = set(self._jobs)
        if not pending:
            return
        _, late = await asyncio.wait(
            pending, timeout=self.app.settings.shutdown_timeout
        )
        if late:
            log.error(
                "%d job(s) still running after shutdown_timeout (%.0f s): "
                "abandoning them; their uncommitted batch is rolled back",
                len(late),
                self.app.settings.shutdown_timeout,
            )
            self.timed_out = True
            for task in late:
                task.cancel()

    async def _lease_job(self) -> None:
        assert self.keeper is not None
        if self._stopping.is_set():
            return
        keeper = self.keeper
        held = before = set(keeper.held)
        try:
            with self._tracked(), self._watching_database():
                held = await asyncio.to_thread(keeper.beat, frozenset(self._busy))
        except Exception:
            log.exception("renewing channel leases failed")
            return
        for name in sorted(held - before):
            log.info("channel %s: lease taken by %s", name, keeper.holder)
        for name in sorted(before - held):
            log.info("channel %s: lease given up by %s", name, keeper.holder)

    @contextlib.contextmanager
    def _tracked(self) -> Iterator[None]:
        # shutdown waits for the tasks registered here
        task = asyncio.current_task()
        if task is not None:
            self._jobs.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._jobs.discard(task)

    @contextlib.contextmanager
    def _watching_database(self) -> Iterator[None]:
        # an outage is logged once by self.health, not per job and tick
        try:
            yield
        except Exception as exc:
            if not is_outage(exc):
                raise
            self.health.failed(exc)
        else:
            self.health.succeeded()

    def _idle(self) -> bool:
        return self._stopping.is_set() or self.health.paused

    async def _poll_job(self, name: str) -> None:
        if self._idle():
            return
        # failures are recorded in the channel's state and logged by poll()
        with (
            self._tracked(),
            contextlib.suppress(FatalChannelError, RetriableChannelError),
            self._watching_database(),
        ):
            summary = await self.poll(name)
            if summary.replies and not self._stopping.is_set():
                # acknowledge now rather than at the next drain interval
                await self._drain_job()

    async def _drain_job(self) -> None:
        if self._idle():
            return
        with self._tracked():
            try:
                # the watcher swallows a database outage: nothing was drained
                with self._watching_database():
                    drained = await self.app.worker.drain_once()
                    if drained.outcomes:
                        activity.info("outbox: %s", describe_drain(drained))
            except Exception:
                log.exception("draining the outbox failed")

    async def _inbox_job(self) -> None:
        """Apply the status messages agencies sent on their queue or stream."""
        for agency in self.app.settings.agencies:
            if self._stopping.is_set() or not has_status_inbox(agency):
                continue
            if self.health.paused:
                return
            with self._tracked():
                try:
                    with self._watching_database():
                        await consume_once(self.app, agency, wait_seconds=0.5)
                except Exception:
                    # the broker is down or a write failed: nothing was acked,
                    # the next round takes the same messages again
                    log.exception("reading %s's status messages failed", agency.code)

    async def _dedupe_job(self) -> None:
        deduper = self.app.pipeline.deduper
        if deduper is None or self._idle():
            return
        with self._tracked():
            try:
                with self._watching_database():
                    done = await asyncio.to_thread(self._refresh_dedupe, deduper)
            except Exception:
                log.exception("refreshing the duplicate index failed")
                return
        if done.closed or done.reopened or done.expired or done.compacted_from:
            log.info(
                "duplicate index: %d closed, %d reopened, %d out of the window%s",
                done.closed,
                done.reopened,
                done.expired,
                f"; rebuilt from {done.compacted_from} slots to {len(deduper.index)}"
                if done.compacted_from
                else "",
            )

    def _refresh_dedupe(self, deduper: RowDeduper) -> Refreshed:
        with self.app.sessions() as session:
            return deduper.refresh(session)

    async def _sla_job(self) -> None:
        if self._idle():
            return
        closed: list[str] = []
        with self._tracked():
            try:
                with self._watching_database():
                    closed = await asyncio.to_thread(self.auto_close)
            except Exception:
                log.exception("closing cases past their SLA failed")
                return
            if closed:
                log.info("auto-closed %d case(s): %s", len(closed), ", ".join(closed))

    def auto_close(self) -> list[str]:
        """Close resolved cases the citizen left unanswered past the SLA
        (one worker at a time); the citizens are told in the same commit."""
        if self.keeper is not None and not leases.acquire(
            self.app.engine, "job:sla", self.keeper.holder, SLA_INTERVAL
        ):
            return []  # another worker does it this round
        policy = SlaPolicy(self.app.settings.sla, self.app.settings.timezone)
        with self.app.sessions() as session:

            def notify(row: ComplaintRow, text: str) -> None:
                self.app.pipeline.notify(session, row, text)

            closed = sla.auto_close(session, policy, utcnow(), notify)
            session.commit()
        return closed

    async def _routing_reload_job(self) -> None:
        if self._idle():
            return
        with self._tracked():
            try:
                with self._watching_database():
                    await asyncio.to_thread(self.app.load_routing_model)
            except Exception:
                log.exception("loading the newest routing model failed")

    async def _retrain_job(self) -> None:
        if self._idle():
            return
        with self._tracked():
            try:
                with self._watching_database():
                    learnt = await asyncio.to_thread(self.retrain_routing)
            except Exception:
                log.exception("retraining the routing model failed")
                return
        if learnt is not None:
            log.info(
                "routing model v%d learnt from %d staff decision(s) in %.1f s",
                learnt.version,
                sum(learnt.per_agency.values()),
                learnt.seconds,
            )

    def retrain_routing(self) -> Learnt | None:
        """Retrain the routing model from staff decisions (one worker at a
        time); None when another worker does it or history is too short."""
        hours = self.app.settings.routing.model.retrain_hours or 1.0
        if self.keeper is not None and not leases.acquire(
            self.app.engine, "job:routing-retrain", self.keeper.holder, hours * 3600
        ):
            return None
        try:
            return retrain_if_enough(self.app)
        except TrainingError as exc:
            log.warning("routing model not retrained: %s", exc)
            return None


def describe_batch(summary: BatchSummary) -> str:
    """One batch's counts in a line: "3 new, 1 follow-up, 1 duplicate, …"."""
    counts = [
        (summary.new_cases, "new"),
        (summary.follow_ups, "follow-up(s)"),
        (summary.linked, "duplicate(s)"),
        (summary.ignored, "ignored"),
        (summary.already_stored, "seen before"),
        (summary.quarantined, "quarantined"),
        (summary.replies, "repl(ies) queued"),
    ]
    text = ", ".join(f"{n} {what}" for n, what in counts if n) or "nothing new"
    queued = ", ".join(f"{code} {n}" for code, n in sorted(summary.queued.items()))
    return text + (f"; to agencies: {queued}" if queued else "")


def describe_drain(drained: DrainSummary) -> str:
    """One drain's outcomes in a line: "delivered 3, retry 1"."""
    return ", ".join(f"{k} {n}" for k, n in sorted(drained.outcomes.items()))


def _quiet_scheduler_skips() -> None:
    scheduler_log = logging.getLogger("apscheduler.scheduler")
    if not any(isinstance(f, QuietSkips) for f in scheduler_log.filters):
        scheduler_log.addFilter(QuietSkips())
