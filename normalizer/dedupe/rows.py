"""The pipeline's handle on the duplicate index, by complaint row, and how
the index of a running process follows the database: other workers'
cases (``catch_up``), cases closed or reopened anywhere and cases leaving
the window (``refresh``)."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select as sa_select
from sqlmodel import Session, func, select

from config.dedupe_settings import DedupeSettings
from normalizer.dedupe.database import (
    _indexed,
    _open_cases,
    case_from_row,
    rebuild_index,
    stored_key,
)
from normalizer.dedupe.index import DedupeCase, DuplicateIndex, Link, key_tokens
from storage.tables import ComplaintRow, StatusEvent

# how far below the highest id seen catch_up looks again for cases committed
# late (ids are taken at insert; a batch is at most a few hundred)
CATCH_UP_MARGIN = 2000
RECENT_ADDS = 10_000  # more than the cases of all batches in flight at once
REFRESH_OVERLAP = timedelta(minutes=5)  # status events committed out of order
COMPACT_FROM = 10_000  # slots below which a discarded half is not worth a rebuild


class RowDeduper:
    """The pipeline's handle on the index, by complaint row: ``find(session,
    row)`` before the case is committed, ``add(row)`` once its link is set.

    Built with :meth:`open` at start. If the transaction that stored a case
    rolls back after :meth:`add`, call :meth:`forget` with its id.

    Thread-safe: the channels of one process store their batches from
    several threads (at once on PostgreSQL). Processes sharing a database
    (``run --worker``) call :meth:`catch_up` at the start of each batch to
    index the cases the others stored since.
    """

    def __init__(self, index: DuplicateIndex, high_water: int = 0) -> None:
        self.index = index
        self._pending: dict[int, tuple[DedupeCase, list[str]]] = {}
        self._lock = threading.RLock()
        self._high_water = high_water  # the largest complaint id seen
        self._seen: set[int] = set()  # ids near the high-water mark looked at
        # the last cases added, committed or not: a compaction re-adds those
        # its rebuild from the database could not see yet
        self._added: deque[tuple[DedupeCase, int | None]] = deque(maxlen=RECENT_ADDS)
        self._refreshed_at: datetime | None = None

    @classmethod
    def open(
        cls,
        session: Session,
        settings: DedupeSettings,
        known_places: frozenset[str] = frozenset(),
    ) -> RowDeduper:
        """Rebuild the index from the database (``known_places``: the
        gazetteer's names, for links in other words)."""
        high = session.exec(select(func.max(ComplaintRow.id))).one() or 0
        index = rebuild_index(session, settings, known_places=known_places)
        return cls(index, int(high))

    def find(self, session: Session, row: ComplaintRow) -> Link | None:
        """The link for a new case row (flushed here if it has no id yet)."""
        if row.id is None:
            session.flush()
        case = case_from_row(row)
        # the key tokens once: stored, then read by find and add
        keys = key_tokens(case.text)
        row.dedupe_key = stored_key(keys)
        with self._lock:
            self._pending[case.id] = (case, keys)
            return self.index.find(case, keys)

    def add(self, row: ComplaintRow) -> None:
        """Index the case row with the link it got (``duplicate_of_id``)."""
        if row.id is None:
            raise ValueError("flush the complaint row before adding it")
        with self._lock:
            case, keys = self._pending.pop(row.id, None) or (case_from_row(row), None)
            self.index.add(case, row.duplicate_of_id, keys)
            self._added.append((case, row.duplicate_of_id))
            self._high_water = max(self._high_water, row.id)
            self._seen.add(row.id)
            self._trim_seen()

    def _trim_seen(self) -> None:
        # only ids near the high-water mark can still turn up in catch_up
        if len(self._seen) > 4 * CATCH_UP_MARGIN:
            low = self._high_water - CATCH_UP_MARGIN
            self._seen = {i for i in self._seen if i > low}

    def forget(self, case_id: int) -> None:
        """Drop a case whose transaction was rolled back."""
        with self._lock:
            self._pending.pop(case_id, None)
            self.index.discard(case_id)
            if any(case.id == case_id for case, _ in self._added):
                self._added = deque(
                    (a for a in self._added if a[0].id != case_id), maxlen=RECENT_ADDS
                )

    def catch_up(self, session: Session, now: datetime | None = None) -> int:
        """Index the open cases other processes committed since the last
        look; returns how many. Cheap when there are none: one index-only
        scan of the ids above the high-water mark (less a margin, because
        PostgreSQL hands out ids at insert, not in commit order)."""
        floor = max(0, self._high_water - CATCH_UP_MARGIN)
        t = ComplaintRow.__table__.c  # type: ignore[attr-defined]
        ids = [
            i
            for (i,) in session.execute(
                sa_select(t.id).where(t.id > floor, t.kind == "case")
            )
        ]
        with self._lock:
            unseen = [i for i in ids if i not in self._seen]
            self._seen.update(unseen)
            if ids:
                self._high_water = max(self._high_water, max(ids))
            self._trim_seen()
        if not unseen:
            return 0
        settings = self.index.settings
        since = (now or datetime.now(UTC)) - timedelta(days=settings.window_days)
        query = _open_cases(settings, since).where(t.id.in_(unseen)).order_by(t.id)
        rows = session.execute(query).all()
        with self._lock:
            self.index.add_many(_indexed(r) for r in rows)
        return len(rows)

    def refresh(self, session: Session, now: datetime | None = None) -> Refreshed:
        """Bring the index in line with the database, which other processes
        change too (staff close cases in the dashboard, the SLA job closes
        them): cases whose status left the open ones since the last refresh
        are discarded (reopened ones taken back), cases older than the
        window are discarded, and when most of the index is discarded it is
        rebuilt, the only way its memory is given back."""
        now = now or datetime.now(UTC)
        settings = self.index.settings
        since = (self._refreshed_at or now) - REFRESH_OVERLAP
        self._refreshed_at = now
        e = StatusEvent.__table__.c  # type: ignore[attr-defined]
        latest: dict[int, str] = {}
        for complaint_id, status in session.execute(
            sa_select(e.complaint_id, e.status)
            .where(e.created_at >= since)
            .order_by(e.id)
        ):
            latest[complaint_id] = status
        open_statuses = set(settings.open_statuses)
        done = Refreshed()
        with self._lock:
            for complaint_id, status in latest.items():
                if status not in open_statuses:
                    done.closed += complaint_id in self.index
                    self.index.discard(complaint_id)
                elif complaint_id not in self.index:
                    done.reopened += self.index.reopen(complaint_id)
            cutoff = now - timedelta(days=settings.window_days)
            done.expired = self.index.expire(cutoff.timestamp())
            slots = self.index.slots
            if slots >= COMPACT_FROM and len(self.index) < slots // 2:
                self._compact(session, now)
                done.compacted_from = slots
        return done

    def _compact(self, session: Session, now: datetime) -> None:
        # under the lock: no case is found or added meanwhile
        fresh = rebuild_index(
            session,
            self.index.settings,
            now=now,
            known_places=self.index.known_places,
        )
        # added here but not yet committed (PostgreSQL: a batch of another
        # thread in flight), so the rebuild could not read them
        t = ComplaintRow.__table__.c  # type: ignore[attr-defined]
        ids = [case.id for case, _ in self._added]
        committed: set[int] = set()
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            committed.update(session.scalars(sa_select(t.id).where(t.id.in_(chunk))))
        fresh.add_many(
            (case, primary, None)
            for case, primary in self._added
            if case.id not in committed
        )
        self.index = fresh  # cases found but not yet added: add() adds them


@dataclass
class Refreshed:
    """What :meth:`RowDeduper.refresh` changed."""

    closed: int = 0
    reopened: int = 0
    expired: int = 0
    compacted_from: int = 0  # slots before a rebuild, 0 when none
