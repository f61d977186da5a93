"""Polls channels and drains the outbox: once (``run --once``) or on a
schedule (APScheduler ``AsyncIOScheduler``) until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from dataclasses import dataclass, field
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from channels.base import Channel, FetchResult
from channels.errors import FatalChannelError, RetriableChannelError
from dengar.app import App
from dengar.pipeline import BatchSummary
from dispatcher.worker import DrainSummary
from storage.tables import ChannelState, utcnow

log = logging.getLogger(__name__)

BACKOFF_BASE = 5.0
BACKOFF_MAX = 900.0
MAX_BATCHES_PER_POLL = 50  # on a schedule, yield to other jobs after this many


@dataclass
class RunSummary:
    """What a run did, per channel and in the outbox."""

    channels: dict[str, BatchSummary] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    outbox: DrainSummary = field(default_factory=DrainSummary)


class Runner:
    """Runs an ``App``'s channels and outbox."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._stopping = asyncio.Event()

    # -- polling -----------------------------------------------------------

    async def poll(
        self, name: str, max_batches: int = MAX_BATCHES_PER_POLL
    ) -> BatchSummary:
        """Fetch and store batches from one channel until it has nothing more
        (or ``max_batches``). Errors are recorded in its state, not raised."""
        channel = self.app.channels[name]
        total = BatchSummary()
        state = await asyncio.to_thread(self._state, name)
        if state.disabled_reason:
            return total
        if state.next_poll_at is not None and state.next_poll_at > utcnow():
            return total
        cursor = state.cursor
        limit = self.app.settings.channel(name).batch_size
        for _ in range(max_batches):
            if self._stopping.is_set():
                break
            try:
                result = await channel.fetch(cursor, limit)
                summary = await asyncio.to_thread(self._store, name, result)
            except FatalChannelError as exc:
                await asyncio.to_thread(self._disable, name, str(exc))
                raise
            except RetriableChannelError as exc:
                await asyncio.to_thread(self._failed, name, str(exc), exc.retry_after)
                raise
            except Exception as exc:
                log.exception("channel %s failed", name)
                message = short_error(exc)
                await asyncio.to_thread(self._failed, name, message, None)
                raise RetriableChannelError(message) from exc
            total.add(summary)
            await self._after_commit(channel, result)
            cursor = result.cursor
            if not result.more:
                break
        return total

    def _state(self, name: str) -> ChannelState:
        with self.app.sessions() as session:
            return session.get(ChannelState, name) or ChannelState(name=name)

    def _store(self, name: str, result: FetchResult) -> BatchSummary:
        with self.app.sessions() as session:
            summary = self.app.pipeline.ingest(session, name, result)
            session.commit()
        return summary

    async def _after_commit(self, channel: Channel, result: FetchResult) -> None:
        try:
            await channel.after_commit(result)
        except Exception:
            log.exception(
                "%s: marking items done at the source failed; they will be "
                "fetched again and recognised as already stored",
                channel.name,
            )

    def _disable(self, name: str, reason: str) -> None:
        log.error("channel %s disabled: %s", name, reason)
        self._update_state(name, reason, disabled=True, retry_after=None)

    def _failed(self, name: str, reason: str, retry_after: float | None) -> None:
        self._update_state(name, reason, disabled=False, retry_after=retry_after)

    def _update_state(
        self, name: str, reason: str, *, disabled: bool, retry_after: float | None
    ) -> None:
        with self.app.sessions() as session:
            state = session.get(ChannelState, name) or ChannelState(name=name)
            now = utcnow()
            state.last_poll_at = now
            state.last_error = reason
            state.last_error_at = now
            state.consecutive_failures += 1
            if disabled:
                state.disabled_reason = reason
            else:
                delay = (
                    retry_after
                    if retry_after is not None
                    else _backoff(state.consecutive_failures)
                )
                state.next_poll_at = now + timedelta(seconds=delay)
                log.warning(
                    "channel %s failed (%s); next try in %.0f s", name, reason, delay
                )
            session.add(state)
            session.commit()

    # -- once --------------------------------------------------------------

    async def run_once(self) -> RunSummary:
        """Poll every enabled channel until drained, then drain the outbox."""
        summary = RunSummary()
        for name in self.app.channels:
            try:
                summary.channels[name] = await self.poll(name, max_batches=100_000)
            except (FatalChannelError, RetriableChannelError) as exc:
                summary.errors[name] = str(exc)
                summary.channels.setdefault(name, BatchSummary())
        summary.outbox = await self.app.worker.drain_all()
        return summary

    # -- forever -----------------------------------------------------------

    async def run_forever(self) -> None:
        """Poll and drain on a schedule until SIGINT or SIGTERM."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stopping.set)
        scheduler = AsyncIOScheduler(timezone="UTC")
        for name in self.app.channels:
            interval = self.app.settings.channel(name).poll_interval
            scheduler.add_job(
                self._poll_job,
                "interval",
                seconds=interval,
                args=[name],
                id=f"poll:{name}",
                replace_existing=True,
                max_instances=1,
                coalesce=True,
                next_run_time=utcnow(),
            )
        scheduler.add_job(
            self._drain_job,
            "interval",
            seconds=self.app.settings.outbox.drain_interval,
            id="outbox",
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            next_run_time=utcnow(),
        )
        scheduler.start()
        log.info("dengar running: %d channel(s)", len(self.app.channels))
        try:
            await self._stopping.wait()
        finally:
            log.info("shutting down")
            scheduler.shutdown(wait=False)
            await self._wait_for_jobs()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    def stop(self) -> None:
        """Ask ``run_forever`` to finish."""
        self._stopping.set()

    async def _wait_for_jobs(self) -> None:
        # a job mid-batch finishes its transaction; the poll loop checks
        # _stopping between batches, so waiting is bounded by one batch
        current = asyncio.current_task()
        pending = [
            t
            for t in asyncio.all_tasks()
            if t is not current
            and getattr(t.get_coro(), "__qualname__", "").startswith(
                ("Runner._poll_job", "Runner._drain_job")
            )
        ]
        if pending:
            await asyncio.wait(pending, timeout=self.app.settings.shutdown_timeout)

    async def _poll_job(self, name: str) -> None:
        # failures are recorded in the channel's state and logged by poll()
        with contextlib.suppress(FatalChannelError, RetriableChannelError):
            summary = await self.poll(name)
            if summary.replies:
                # acknowledge now rather than at the next drain interval
                await self._drain_job()

    async def _drain_job(self) -> None:
        try:
            await self.app.worker.drain_once()
        except Exception:
            log.exception("draining the outbox failed")


def short_error(exc: BaseException, limit: int = 300) -> str:
    """One line about an unexpected error, for status and summaries."""
    first = (str(exc).strip().splitlines() or [""])[0]
    text = f"{type(exc).__name__}: {first}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _backoff(failures: int) -> float:
    ceiling = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** max(0, failures - 1))
    return random.uniform(ceiling / 2, ceiling)
