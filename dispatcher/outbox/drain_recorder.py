"""Recording a drain's outcomes while it runs: each send's outcome is
committed as soon as it returns, so a crash can re-send only what was in
flight, never a whole batch.

Outcomes (and citizen sends about to begin) that arrive while a commit is
under way wait for the next one and go together (a group commit): the
number of commits follows the number of rounds of sends, not of rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from dispatcher.outbox.drain_types import Outcome
from dispatcher.outbox.drain_write import begin_sends, renew_claims, write_outcomes


@dataclass
class _Round:
    """What the next commit writes, and the callers waiting for it."""

    done: asyncio.Future[set[int]]
    outcomes: list[Outcome] = field(default_factory=list)
    begins: list[int] = field(default_factory=list)


class OutcomeRecorder:
    """Commits outcomes and begun sends for one worker, in group commits.

    Once a commit failed (the database is gone) every later call raises the
    same error, so nothing more is sent that could not be recorded."""

    def __init__(
        self,
        engine: Engine,
        sessions: sessionmaker[Session],
        worker: str,
        claimed: Iterable[int] = (),
    ) -> None:
        self.engine = engine
        self.sessions = sessions
        self.worker = worker
        # the drain's claimed rows without a recorded outcome: every commit
        # renews their claim, so that a batch sent in many hand-overs is not
        # taken for a dead worker's and sent again by another drain
        self._open = set(claimed)
        self._next: _Round | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._failed: BaseException | None = None

    async def record(self, outcomes: list[Outcome]) -> set[int]:
        """Return once ``outcomes`` are committed: the claimed rows still
        without an outcome that this drain still holds (a claim another
        worker took over is not its to send)."""
        if not outcomes:
            return set(self._open)
        held = await self._submit(outcomes, [])
        return held & self._open

    async def begin(self, row_ids: list[int]) -> set[int]:
        """Count a send begun on each row and return once that is committed;
        the rows this worker still holds, which it may now send."""
        if not row_ids:
            return set()
        held = await self._submit([], row_ids)
        return held & set(row_ids)

    async def _submit(self, outcomes: list[Outcome], begins: list[int]) -> set[int]:
        if self._failed is not None:
            raise self._failed
        if self._next is None:
            self._next = _Round(asyncio.get_running_loop().create_future())
        pending = self._next
        self._open.difference_update(o.row.id for o in outcomes)
        pending.outcomes.extend(outcomes)
        pending.begins.extend(begins)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await asyncio.shield(pending.done)

    async def _flush(self) -> None:
        while self._next is not None:
            current, self._next = self._next, None
            try:
                begun = await asyncio.to_thread(self._write, current)
            except Exception as exc:  # noqa: BLE001 - handed to every waiter
                self._failed = exc
                current.done.set_exception(exc)
                if self._next is not None:
                    self._next.done.set_exception(exc)
                    self._next = None
                return
            current.done.set_result(begun)

    def _write(self, current: _Round) -> set[int]:
        # the rows begun are counted first: they are no longer held after it
        with self.sessions() as session:
            write_outcomes(self.engine, session, self.worker, current.outcomes)
            begun = begin_sends(self.engine, session, self.worker, current.begins)
            held = renew_claims(self.engine, session, self.worker, sorted(self._open))
            session.commit()
        return set(begun) | set(held)
