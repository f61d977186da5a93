"""Several workers on one database each keep a duplicate index in memory;
``RowDeduper.catch_up`` indexes what the others committed, so a report that
reaches worker B links to the case worker A stored after B started."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import SQLModel

from config.dedupe_settings import DedupeSettings
from normalizer.dedupe.database import apply_link
from normalizer.dedupe.rows import CATCH_UP_MARGIN, RowDeduper
from storage.engine import make_engine, session_factory
from storage.tables import ComplaintRow

NOW = datetime.now(UTC)
BRIDGE = "Jembatan di Desa Semayap ambruk, warga tidak bisa lewat ke pasar"
BRIDGE_2 = "jembatan desa semayap ambruk!! warga gk bisa lewat ke pasar tlg"
LAMP = "Lampu jalan di depan SDN 3 Sigam mati sejak seminggu"


@pytest.fixture
def sessions(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    SQLModel.metadata.create_all(engine)
    yield session_factory(engine)
    engine.dispose()


def row(n, text, status="received"):
    return ComplaintRow(
        kind="case",
        status=status,
        tracking_no=f"ADU-0000-{n:04d}",
        channel="tg",
        external_id=str(n),
        received_at=NOW - timedelta(minutes=10) + timedelta(seconds=n),
        reporter_chat_id=str(n),
        original_text=text,
        clean_text=text,
        raw_format="json",
    )


def store(session, deduper, n, text):
    new = row(n, text)
    session.add(new)
    link = deduper.find(session, new)
    if link is not None:
        apply_link(new, link)
    deduper.add(new)
    session.commit()
    return new


def test_a_case_stored_by_another_worker_is_linked_after_catch_up(sessions):
    with sessions() as s:
        a = RowDeduper.open(s, DedupeSettings())
        b = RowDeduper.open(s, DedupeSettings())
    with sessions() as s:
        first = store(s, a, 1, BRIDGE)  # worker A
    with sessions() as s:
        assert b.catch_up(s) == 1
        assert b.catch_up(s) == 0  # nothing new: nothing fetched again
        second = store(s, b, 2, BRIDGE_2)  # worker B
    assert second.duplicate_of_id == first.id


def test_without_catch_up_the_other_workers_case_is_unknown(sessions):
    # the behaviour catch_up exists to fix, shown once
    with sessions() as s:
        a = RowDeduper.open(s, DedupeSettings())
        b = RowDeduper.open(s, DedupeSettings())
    with sessions() as s:
        store(s, a, 1, BRIDGE)
        assert store(s, b, 2, BRIDGE_2).duplicate_of_id is None


def test_catch_up_skips_closed_cases_and_sees_late_commits(sessions):
    with sessions() as s:
        b = RowDeduper.open(s, DedupeSettings())
        s.add(row(1, LAMP, status="closed"))
        s.commit()
        assert b.catch_up(s) == 0  # closed: not a duplicate target
        # an id below the high-water mark whose transaction committed late
        for n in range(2, 6):
            s.add(row(n, f"{LAMP} nomor {n}"))
        s.commit()
        late = row(1 + CATCH_UP_MARGIN // 2, BRIDGE)
        late.id = 7
        s.add(late)
        s.commit()
        assert b.catch_up(s) == 5
        assert 7 in b.index


def test_threads_storing_at_once_keep_the_index_whole(sessions):
    # a process's channels store from several threads (at once on PostgreSQL)
    with sessions() as s:
        deduper = RowDeduper.open(s, DedupeSettings())
    todo = iter(range(1, 201))
    errors = []

    def channel():
        try:
            for n in todo:  # the iterator is shared: each n goes to one thread
                case = row(n, f"{BRIDGE} {n}" if n % 2 else f"{LAMP} {n}")
                case.id = n  # as after the flush (no session needed then)
                link = deduper.find(None, case)
                if link is not None:
                    apply_link(case, link)
                deduper.add(case)
        except Exception as exc:  # noqa: BLE001 - reported by the assert
            errors.append(exc)

    threads = [threading.Thread(target=channel) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(deduper.index) == 200
    assert all(n in deduper.index for n in range(1, 201))
