"""The outbox under concurrent workers, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from contracts.backoff import backoff_seconds
from dengar.confidentiality import change_confidentiality
from dispatcher.outbox import queue as outbox
from storage.engine import make_engine, session_factory
from storage.migrate import upgrade
from storage.tables import ComplaintRow, OutboxRow

pytestmark = pytest.mark.postgres


def seed(url: str, rows: int):  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    with sessions() as session:
        case = ComplaintRow(
            kind="case",
            tracking_no="ADU-0000-0001",
            channel="surat",
            external_id="x",
            received_at=datetime.now(UTC),
            original_text="t",
            clean_text="t",
            raw_format="text",
        )
        session.add(case)
        session.flush()
        for i in range(rows):
            outbox.enqueue_agency(session, case, "PUPR", 5, f"key-{i}")
        session.commit()
    return engine, sessions


def test_concurrent_workers_never_claim_a_row_twice(database_url: str) -> None:
    engine, _ = seed(database_url, 600)
    claimed: list[int] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        while True:
            ids = outbox.claim(engine, name, 7, claim_timeout=300)
            if not ids:
                return
            with lock:
                claimed.extend(ids)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.dispose()
    duplicates = [i for i, n in Counter(claimed).items() if n > 1]
    assert duplicates == []
    assert len(claimed) == 600


def test_a_dead_workers_claim_is_retried_after_the_timeout(sqlite_url: str) -> None:
    engine, sessions = seed(sqlite_url, 1)
    now = datetime.now(UTC)
    assert outbox.claim(engine, "dies", 10, claim_timeout=60, now=now) == [1]
    assert outbox.claim(engine, "other", 10, claim_timeout=60, now=now) == []
    later = now + timedelta(seconds=61)
    assert outbox.claim(engine, "other", 10, claim_timeout=60, now=later) == [1]
    with sessions() as session:
        # the late worker's outcome is ignored: the row is no longer its own
        outbox.mark_delivered(session, 1, "dies")
        row = session.exec(select(OutboxRow)).one()
        assert row.status == "in_flight"
        assert row.claimed_by == "other"
        assert row.attempts == 2
    engine.dispose()


def test_failures_back_off_then_go_dead(sqlite_url: str) -> None:
    engine, sessions = seed(sqlite_url, 1)
    for attempt in range(1, 6):
        ids = outbox.claim(
            engine,
            "w",
            10,
            claim_timeout=60,
            now=datetime.now(UTC) + timedelta(days=attempt),
        )
        assert ids == [1]
        with sessions() as session:
            row = session.get(OutboxRow, 1)
            assert row is not None
            status = outbox.mark_failed(
                session,
                row,
                "w",
                "HTTP 503",
                permanent=False,
                retry_after=None,
                base=10,
                cap=60,
            )
        assert status == ("dead" if attempt == 5 else "pending")
    with sessions() as session:
        row = session.get(OutboxRow, 1)
        assert row is not None
        assert row.status == "dead"
        assert row.last_error == "HTTP 503"
        assert outbox.retry(session, dead=True) == 1
        row = session.get(OutboxRow, 1)
        assert row is not None
        assert row.status == "pending"
        assert row.attempts == 0
    engine.dispose()


def test_backoff_grows_and_is_capped() -> None:
    assert 5 <= backoff_seconds(1, 10, 3600) <= 10
    assert 20 <= backoff_seconds(3, 10, 3600) <= 40
    assert 1800 <= backoff_seconds(30, 10, 3600) <= 3600


def test_a_held_row_waits_for_its_window_or_the_release(database_url: str) -> None:
    """A chat case's agency row is held by its first ``next_attempt_at``: the
    claim query leaves it alone until then, on SQLite and PostgreSQL, and a
    citizen's choice releases it at once."""
    engine, sessions = seed(database_url, 0)
    now = datetime.now(UTC)
    with sessions() as session:
        case = session.exec(select(ComplaintRow)).one()
        held = outbox.enqueue_agency(
            session, case, "PUPR", 5, "held", not_before=now + timedelta(seconds=120)
        )
        outbox.enqueue_agency(
            session, case, "PUPR", 5, "other", not_before=now + timedelta(seconds=120)
        )
        session.commit()
        assert held is not None
        held_id = held.id
    assert outbox.claim(engine, "w", 10, claim_timeout=60, now=now) == []
    with sessions() as session:
        assert outbox.release_held(session, case.id) == 2
        session.commit()
    claimed = outbox.claim(engine, "w", 10, claim_timeout=60)
    assert held_id in claimed
    assert len(claimed) == 2
    engine.dispose()


def test_a_held_row_goes_when_its_window_ends(database_url: str) -> None:
    engine, sessions = seed(database_url, 0)
    now = datetime.now(UTC)
    with sessions() as session:
        case = session.exec(select(ComplaintRow)).one()
        outbox.enqueue_agency(
            session, case, "PUPR", 5, "held", not_before=now + timedelta(seconds=120)
        )
        session.commit()
    assert outbox.claim(engine, "w", 10, 60, now=now + timedelta(seconds=119)) == []
    assert len(outbox.claim(engine, "w", 10, 60, now=now + timedelta(seconds=121))) == 1
    engine.dispose()


def test_a_choice_after_a_claim_asks_for_a_redaction(database_url: str) -> None:
    """Made anonim while a worker holds the delivery (it may already have
    built the message with the identity): the agency is asked to redact. Made
    anonim while the row still waits: no redaction, the message will be
    built anonim."""
    engine, sessions = seed(database_url, 0)
    with sessions() as session:
        case = session.exec(select(ComplaintRow)).one()
        outbox.enqueue_agency(session, case, "PUPR", 5, "ADU-0000-0001/PUPR")
        session.commit()
    assert len(outbox.claim(engine, "w", 10, claim_timeout=60)) == 1
    with sessions() as session:
        case = session.exec(select(ComplaintRow)).one()
        change_confidentiality(session, case, "anonim", actor="t", via="test")
        session.commit()
        keys = sorted(r.idempotency_key for r in session.exec(select(OutboxRow)))
    assert keys == ["ADU-0000-0001/PUPR", "ADU-0000-0001/PUPR/redacted/1"]
    engine.dispose()


def test_a_choice_before_any_try_asks_for_nothing(database_url: str) -> None:
    engine, sessions = seed(database_url, 0)
    with sessions() as session:
        case = session.exec(select(ComplaintRow)).one()
        outbox.enqueue_agency(
            session,
            case,
            "PUPR",
            5,
            "ADU-0000-0001/PUPR",
            not_before=datetime.now(UTC) + timedelta(minutes=2),
        )
        session.flush()
        change_confidentiality(session, case, "rahasia", actor="t", via="test")
        session.commit()
        assert len(session.exec(select(OutboxRow)).all()) == 1
    engine.dispose()
