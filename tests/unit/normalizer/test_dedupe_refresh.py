"""A running process's duplicate index follows the database: cases closed
elsewhere (dashboard, SLA job, another worker) stop collecting duplicates,
reopened ones collect them again, old ones leave the window, and a mostly
dead index is rebuilt so its memory is given back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import SQLModel

from config.dedupe_settings import DedupeSettings
from normalizer.dedupe import rows as dedupe_rows
from normalizer.dedupe.rows import RowDeduper
from storage.engine import make_engine, session_factory
from storage.tables import StatusEvent
from tests.unit.normalizer.test_dedupe_workers import (
    BRIDGE,
    BRIDGE_2,
    LAMP,
    NOW,
    row,
    sessions,  # noqa: F401 - the fixture
    store,
)


def set_status(session, case, status):
    # as dispatcher.status.change_status records it, from any process
    case.status = status
    session.add(case)
    session.add(StatusEvent(complaint_id=case.id, status=status, actor="staf"))
    session.commit()


def test_a_case_closed_elsewhere_stops_collecting_duplicates(sessions):  # noqa: F811
    with sessions() as s:
        deduper = RowDeduper.open(s, DedupeSettings())
        bridge = store(s, deduper, 1, BRIDGE)
        deduper.refresh(s, NOW)  # the first look sets the starting point
        set_status(s, bridge, "closed")  # e.g. in the dashboard
        done = deduper.refresh(s, NOW + timedelta(minutes=5))
        assert done.closed == 1
        again = store(s, deduper, 2, BRIDGE_2)
        assert again.duplicate_of_id is None  # a new case, not a closed one's


def test_a_reopened_case_collects_duplicates_again(sessions):  # noqa: F811
    with sessions() as s:
        deduper = RowDeduper.open(s, DedupeSettings())
        bridge = store(s, deduper, 1, BRIDGE)
        deduper.refresh(s, NOW)
        set_status(s, bridge, "resolved")
        deduper.refresh(s, NOW + timedelta(minutes=5))
        set_status(s, bridge, "in_progress")  # the citizen says it is not fixed
        done = deduper.refresh(s, NOW + timedelta(minutes=10))
        assert done.reopened == 1
        assert store(s, deduper, 2, BRIDGE_2).duplicate_of_id == bridge.id


def test_cases_older_than_the_window_leave_it(sessions):  # noqa: F811
    with sessions() as s:
        deduper = RowDeduper.open(s, DedupeSettings(window_days=30))
        store(s, deduper, 1, BRIDGE)
        store(s, deduper, 2, LAMP)
        done = deduper.refresh(s, NOW + timedelta(days=31))
        assert done.expired == 2
        assert len(deduper.index) == 0


def test_a_mostly_closed_index_is_rebuilt_smaller(sessions, monkeypatch):  # noqa: F811
    monkeypatch.setattr(dedupe_rows, "COMPACT_FROM", 4)
    with sessions() as s:
        deduper = RowDeduper.open(s, DedupeSettings())
        cases = [store(s, deduper, n, f"{LAMP} nomor {n}") for n in range(1, 7)]
        bridge = store(s, deduper, 7, BRIDGE)
        deduper.refresh(s, NOW)
        for case in cases:
            set_status(s, case, "closed")
        done = deduper.refresh(s, NOW + timedelta(minutes=5))
        assert done.compacted_from == 7
        assert deduper.index.slots == 1  # only the bridge is held
        assert store(s, deduper, 8, BRIDGE_2).duplicate_of_id == bridge.id


@pytest.mark.postgres
def test_a_case_added_but_not_yet_committed_survives_a_rebuild(
    postgres_url, monkeypatch
):
    # only PostgreSQL lets a batch be in flight while the refresh reads
    monkeypatch.setattr(dedupe_rows, "COMPACT_FROM", 2)
    engine = make_engine(postgres_url)
    SQLModel.metadata.create_all(engine)
    pg_sessions = session_factory(engine)
    try:
        with pg_sessions() as s, pg_sessions() as batch:
            deduper = RowDeduper.open(s, DedupeSettings())
            lamps = [store(s, deduper, n, f"{LAMP} nomor {n}") for n in (1, 2, 3)]
            deduper.refresh(s, NOW)
            for lamp in lamps:
                set_status(s, lamp, "closed")
            bridge = row(4, BRIDGE)  # indexed, its transaction still open
            batch.add(bridge)
            assert deduper.find(batch, bridge) is None
            deduper.add(bridge)
            done = deduper.refresh(s, NOW + timedelta(minutes=5))
            batch.commit()
            assert done.compacted_from == 4
            assert bridge.id in deduper.index
            assert deduper.index.slots == 1  # the closed lamps are gone
    finally:
        engine.dispose()
