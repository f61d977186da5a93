"""The pipeline's handle on the duplicate index, by complaint row, and how
the index of a running process follows the database: other workers'
cases (``catch_up``), cases closed or reopened anywhere and cases leaving
the window (``refresh``)."""

from __future__ import annotations

import threading
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
from normalizer.dedupe.index import DuplicateIndex, Link, key_tokens
from normalizer.dedupe.pending import PendingCases
from storage.tables import ComplaintRow, StatusEvent

# how far below the highest id seen catch_up looks again for cases committed
# late (ids are taken at insert; a batch is at most a few hundred)
CATCH_UP_MARGIN = 2000
REFRESH_OVERLAP = timedelta(minutes=5)  # status events committed out of order
COMPACT_FROM = 10_000  # slots below which a discarded half is not worth a rebuild


class RowDeduper:
    """The pipeline's handle on the index, by complaint row.

    Built with :meth:`open` at start. Per batch: :meth:`pending`, then per
    new case ``find(session, row, pending)`` before it is committed and
    ``add(row, pending)`` once its link is set, and :meth:`publish` once the
    batch's transaction committed. The index holds committed cases only: a
    batch that rolls back is simply not published.

    Thread-safe: the channels of one process store their batches from
    several threads (at once on PostgreSQL). Processes sharing a database
    (``run --worker``) call :meth:`catch_up` at the start of each batch to
    index the cases the others stored since.
    """

    def __init__(self, index: DuplicateIndex, high_water: int = 0) -> None:
        self.index = index
        self._lock = threading.RLock()
        self._high_water = high_water  # the largest complaint id seen
        self._seen: set[int] = set()  # ids near the high-water mark looked at
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

    def pending(self) -> PendingCases:
        """A new batch's cases, for the batch alone until :meth:`publish`."""
        with self._lock:
            return PendingCases(self.index)

    def find(
        self, session: Session, row: ComplaintRow, pending: PendingCases
    ) -> Link | None:
        """The link for a new case row (flushed here if it has no id yet):
        to a committed case or to one of its own batch's."""
        if row.id is None:
            session.flush()
        case = case_from_row(row)
        # the key tokens once: stored, then read by find and add
        keys = key_tokens(case.text)
        row.dedupe_key = stored_key(keys)
        with self._lock:
            link = self.index.find(case, keys)
            return pending.find(case, keys, self.index, link)

    def add(self, row: ComplaintRow, pending: PendingCases) -> None:
        """Take the case row into its batch with the link it got
        (``duplicate_of_id``)."""
        if row.id is None:
            raise ValueError("flush the complaint row before adding it")
        case = case_from_row(row)
        with self._lock:  # its word counts read the shared index's
            pending.add(case, row.duplicate_of_id)

    def publish(self, pending: PendingCases) -> None:
        """Index the cases of a batch whose transaction committed."""
        with self._lock:
            for case, primary, keys in pending.cases:
                self.index.add(case, primary, keys)
                self._high_water = max(self._high_water, case.id)
                self._seen.add(case.id)
            for case_id, point in pending.located:
                self.index.locate(case_id, point)
            for case_id, primary in pending.relinked:
                self.index.set_primary(case_id, primary)
            self._trim_seen()

    def _trim_seen(self) -> None:
        # only ids near the high-water mark can still turn up in catch_up
        if len(self._seen) > 4 * CATCH_UP_MARGIN:
            low = self._high_water - CATCH_UP_MARGIN
            self._seen = {i for i in self._seen if i > low}

    def locate(self, row: ComplaintRow, pending: PendingCases) -> Link | None:
        """The case row got its coordinates after it was indexed (a
        follow-up carried them): known to its batch now, to the shared
        index once the batch committed. A case still unlinked and that no
        case links to is decided again with them (a chat citizen sends the
        words first and the location pin afterwards): the link it gets now,
        which the caller applies, or None."""
        lat, lon = row.location_lat, row.location_lon
        if row.id is None or lat is None or lon is None:
            return None
        pending.locate(row.id, (lat, lon))
        if row.duplicate_of_id is not None or row.kind != "case":
            return None
        case = case_from_row(row)
        keys = key_tokens(case.text)
        with self._lock:
            if self.index.has_duplicates(row.id) or pending.has_duplicates(row.id):
                return None  # a primary: its duplicates would have to move
            link = pending.find_again(case, keys, self.index)
        if link is not None:
            pending.relink(row.id, link.target_id)
        return link

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
        # a batch committed but not yet published is in the rebuild, and
        # publishing it adds nothing twice
        self.index = fresh


@dataclass
class Refreshed:
    """What :meth:`RowDeduper.refresh` changed."""

    closed: int = 0
    reopened: int = 0
    expired: int = 0
    compacted_from: int = 0  # slots before a rebuild, 0 when none
