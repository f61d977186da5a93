"""One outbox batch end to end, on SQLite and PostgreSQL: messages built for
the whole batch equal those built one by one, every row gets its own outcome
(a failing row or agency never marks or holds back the others), and the case
status moves once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from config.settings import Settings
from contracts.errors import PermanentDeliveryError, RetriableDeliveryError
from dispatcher.message import build_message
from dispatcher.outbox import queue as outbox
from dispatcher.sinks.base import Delivery
from dispatcher.wording import status_label
from dispatcher.worker import OutboxWorker
from storage.engine import make_engine, session_factory
from storage.migrate import upgrade
from storage.tables import ComplaintRow, OutboxRow, StatusEvent, utcnow
from tests.unit.dispatcher.test_message_schema import (
    PHOTO,
    add_case,
    add_photo,
    assert_valid,
)

pytestmark = pytest.mark.postgres


class RecordingSink:
    """Accepts every delivery except the keys it is told to refuse."""

    def __init__(self, refuse: dict[str, Exception] | None = None) -> None:
        self.refuse = refuse or {}
        self.received: list[Delivery] = []

    async def deliver(self, delivery: Delivery) -> None:
        if delivery.idempotency_key in self.refuse:
            raise self.refuse[delivery.idempotency_key]
        self.received.append(delivery)

    async def close(self) -> None:
        pass


class BatchRecordingSink(RecordingSink):
    """The same, through the batch interface the Redis and AMQP sinks offer."""

    def __init__(self, refuse: dict[str, Exception] | None = None) -> None:
        super().__init__(refuse)
        self.batches: list[int] = []

    async def deliver_many(
        self, deliveries: Sequence[Delivery]
    ) -> list[Exception | None]:
        self.batches.append(len(deliveries))
        outcomes: list[Exception | None] = []
        for delivery in deliveries:
            try:
                await self.deliver(delivery)
            except Exception as exc:  # noqa: BLE001 - handed back, as sinks do
                outcomes.append(exc)
            else:
                outcomes.append(None)
        return outcomes


class DownSink(RecordingSink):
    """An agency whose queue is unreachable."""

    async def deliver(self, delivery: Delivery) -> None:
        await asyncio.sleep(0.05)
        raise RetriableDeliveryError("connection refused")


def _settings(url: str) -> Settings:
    return Settings.model_validate(
        {
            "database_url": url,
            "agencies": [
                {"code": code, "name": f"Dinas {code}", "sink": {"type": "database"}}
                for code in ("PUPR", "DINKES", "DLH")
            ],
            "routing": {"default_agency": "PUPR"},
            "outbox": {"batch_size": 50, "backoff_base": 60, "backoff_max": 600},
        }
    )


def _queue(url: str) -> tuple[Engine, sessionmaker[Session]]:
    """Cases of every confidentiality, with photos, follow-ups and supporters,
    each queued for one agency or two."""
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    with sessions() as session:
        for n, confidentiality in enumerate(["biasa", "anonim", "rahasia"] * 4):
            case = add_case(session, confidentiality=confidentiality, status="received")
            assert case.id is not None
            if n % 3 == 0:
                add_photo(session, case)
            if n % 4 == 0:
                for i in range(2):
                    add_case(
                        session,
                        kind="follow_up",
                        tracking_no=None,
                        follow_up_of_id=case.id,
                        clean_text=f"tambahan {i}",
                        received_at=case.received_at + timedelta(hours=i + 1),
                    )
            if n % 5 == 0:
                add_case(session, duplicate_of_id=case.id, status="received")
            outbox.enqueue_agency(session, case, "PUPR", 3, f"{case.tracking_no}/PUPR")
            if n % 2 == 0:
                outbox.enqueue_agency(
                    session, case, "DINKES", 3, f"{case.tracking_no}/DINKES"
                )
        session.commit()
    return engine, sessions


async def test_a_batch_delivers_what_single_builds_would(database_url: str) -> None:
    engine, sessions = _queue(database_url)
    pupr, dinkes = BatchRecordingSink(), RecordingSink()
    worker = OutboxWorker(
        engine,
        sessions,
        _settings(database_url),
        {"PUPR": pupr, "DINKES": dinkes},
        {},
        worker="w1",
    )
    summary = await worker.drain_once()
    assert summary.outcomes == {"delivered": 18}
    assert pupr.batches == [12]  # the agency's share went as one hand-over
    with sessions() as session:
        for delivery in pupr.received + dinkes.received:
            case = session.get(ComplaintRow, delivery.message["dengar_id"])
            code = delivery.agency_code
            single = build_message(session, case, code, f"Dinas {code}")
            # as it was when the batch was built
            single["status"] = "received"
            single["status_text"] = status_label("received")
            assert delivery.message == single
            assert_valid(delivery.message)
            if delivery.message["attachments"]:
                assert list(delivery.attachments.values()) == [PHOTO]
            if case.confidentiality != "biasa":
                assert delivery.message["reporter"] is None
            if case.confidentiality == "rahasia":
                assert delivery.message["subject"] is None
        messages = [d.message for d in pupr.received]
        assert sum(len(m["follow_ups"]) == 2 for m in messages) == 3
        assert sum(m["supporters"] == 1 for m in messages) == 3
        assert sum(len(m["attachments"]) == 1 for m in messages) == 4
        rows = session.exec(select(OutboxRow)).all()
        assert {r.status for r in rows} == {outbox.DELIVERED}
        assert all(r.delivered_at is not None for r in rows)
        events = session.exec(select(StatusEvent)).all()
        # one event per case, even for a case sent to two agencies
        assert sorted(e.complaint_id for e in events) == sorted(
            {r.complaint_id for r in rows}
        )
    engine.dispose()


async def test_each_row_keeps_its_own_outcome(database_url: str) -> None:
    engine, sessions = _queue(database_url)
    with sessions() as session:
        rows = session.exec(
            select(OutboxRow).where(OutboxRow.target == "PUPR").order_by(OutboxRow.id)
        ).all()
        keys = [r.idempotency_key for r in rows]
    refused = {
        keys[0]: RetriableDeliveryError("busy", retry_after=120),
        keys[1]: PermanentDeliveryError("schema refused", detail="HTTP 422"),
        keys[2]: ValueError("a bug in the sink"),
    }
    pupr = BatchRecordingSink(refused)
    worker = OutboxWorker(
        engine,
        sessions,
        _settings(database_url),
        {"PUPR": pupr, "DINKES": DownSink()},
        {},
        worker="w1",
    )
    before = utcnow()
    summary = await worker.drain_once()
    assert summary.by_target == {
        "PUPR:delivered": 9,
        "PUPR:retry": 2,
        "PUPR:dead": 1,
        "DINKES:retry": 6,
    }
    with sessions() as session:
        state = {r.idempotency_key: r for r in session.exec(select(OutboxRow)).all()}
        busy = state[keys[0]]
        assert busy.status == outbox.PENDING
        assert busy.last_error == "busy"
        assert busy.claimed_by is None
        assert busy.next_attempt_at >= before + timedelta(seconds=119)
        assert state[keys[1]].status == outbox.DEAD
        assert state[keys[1]].last_error == "schema refused (HTTP 422)"
        assert state[keys[2]].status == outbox.PENDING
        assert state[keys[2]].last_error == "ValueError: a bug in the sink"
        for key in keys[3:]:
            assert state[key].status == outbox.DELIVERED
        down = [r for r in state.values() if r.target == "DINKES"]
        assert {r.status for r in down} == {outbox.PENDING}
        assert {r.last_error for r in down} == {"connection refused"}
        assert {r.attempts for r in state.values()} == {1}
        # only delivered cases moved on
        queued = {r.complaint_id for r in state.values()}
        moved = {
            c.id
            for c in session.exec(
                select(ComplaintRow).where(ComplaintRow.status == "dispatched")
            ).all()
        }
        assert moved & queued == {state[k].complaint_id for k in keys[3:]}
    assert all(key not in refused for key in (d.idempotency_key for d in pupr.received))
    engine.dispose()


async def test_out_of_attempts_goes_dead_and_a_retry_is_not_claimed_early(
    database_url: str,
) -> None:
    engine, sessions = _queue(database_url)
    worker = OutboxWorker(
        engine,
        sessions,
        _settings(database_url),
        {"PUPR": DownSink(), "DINKES": DownSink()},
        {},
        worker="w1",
    )
    first = await worker.drain_once()
    assert first.outcomes == {"retry": 18}
    assert (await worker.drain_once()).outcomes == {}  # backing off
    for attempt in (2, 3):
        with sessions() as session:
            for row in session.exec(select(OutboxRow)).all():
                row.next_attempt_at = utcnow() - timedelta(seconds=1)
                session.add(row)
            session.commit()
        summary = await worker.drain_once()
        assert summary.outcomes == ({"retry": 18} if attempt == 2 else {"dead": 18})
    with sessions() as session:
        rows = session.exec(select(OutboxRow)).all()
        assert {(r.status, r.attempts, r.last_error) for r in rows} == {
            (outbox.DEAD, 3, "connection refused")
        }
        assert session.exec(select(StatusEvent)).all() == []
    engine.dispose()


async def test_workers_finishing_the_same_cases_move_each_once(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = session_factory(engine)
    with sessions() as session:
        for _ in range(40):
            case = add_case(session, status="received")
            for code in ("PUPR", "DINKES", "DLH"):
                key = f"{case.tracking_no}/{code}"
                outbox.enqueue_agency(session, case, code, 3, key)
        session.commit()
    settings = _settings(database_url)
    sinks = {code: BatchRecordingSink() for code in ("PUPR", "DINKES", "DLH")}
    workers = [
        OutboxWorker(engine, sessions, settings, sinks, {}, worker=f"w{n}")
        for n in range(3)
    ]

    async def drain(worker: OutboxWorker) -> int:
        done = 0
        while summary := (await worker.drain_once(limit=7)).outcomes:
            done += summary["delivered"]
        return done

    counts = await asyncio.gather(*(drain(w) for w in workers))
    assert sum(counts) == 120
    with sessions() as session:
        rows = session.exec(select(OutboxRow)).all()
        assert {r.status for r in rows} == {outbox.DELIVERED}
        events = session.exec(select(StatusEvent)).all()
        assert len(events) == 40
        assert len({e.complaint_id for e in events}) == 40
    keys = [d.idempotency_key for s in sinks.values() for d in s.received]
    assert sorted(keys) == sorted(r.idempotency_key for r in rows)
    engine.dispose()


def test_a_stale_claim_is_taken_again_in_order_within_the_limit(
    database_url: str,
) -> None:
    engine, _sessions = _queue(database_url)  # 18 rows, due now
    now = utcnow()
    first = outbox.claim(engine, "dies", 5, claim_timeout=60, now=now)
    assert first == [1, 2, 3, 4, 5]
    # before the timeout: only rows nobody holds
    assert outbox.claim(engine, "w2", 5, 60, now=now) == [6, 7, 8, 9, 10]
    # after it: the dead worker's rows come back, oldest first, and the
    # batch still holds at most its limit
    later = now + timedelta(seconds=61)
    again = outbox.claim(engine, "w3", 12, 60, now=later)
    assert again == [*range(1, 11), 11, 12]
    assert outbox.claim(engine, "w4", 12, 60, now=later) == list(range(13, 19))
    engine.dispose()
