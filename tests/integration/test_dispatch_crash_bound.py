"""What a crash can re-send, on SQLite and PostgreSQL: outcomes are committed
as sends return, so at any instant an agency has at most its sink's
``concurrency`` deliveries accepted but unrecorded, a citizen at most one
message, and a citizen message cut off by two crashes is not sent a third
time."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import select

from config.settings import Settings
from contracts.records import OutgoingReply
from dispatcher.outbox import queue as outbox
from dispatcher.sinks.base import Delivery
from dispatcher.worker import REPLIES_IN_FLIGHT, OutboxWorker
from storage.engine import make_engine, session_factory
from storage.migrate import upgrade
from storage.tables import OutboxRow
from tests.unit.dispatcher.test_message_schema import add_case

pytestmark = pytest.mark.postgres


def _settings(url: str, concurrency: int = 3) -> Settings:
    return Settings.model_validate(
        {
            "database_url": url,
            "agencies": [
                {
                    "code": "PUPR",
                    "name": "Dinas PUPR",
                    "sink": {
                        "type": "webhook",
                        "url": "http://127.0.0.1:9/hook",
                        "secret": "s3cret",
                        "concurrency": concurrency,
                    },
                }
            ],
            "routing": {"default_agency": "PUPR"},
            "outbox": {"batch_size": 100, "claim_timeout": 0.2},
        }
    )


def _unrecorded(engine: Engine, keys: Sequence[str]) -> int:
    """How many of ``keys`` were accepted but are not marked delivered."""
    if not keys:
        return 0
    with engine.connect() as connection:
        marked = {
            k
            for (k,) in connection.execute(
                text("SELECT idempotency_key FROM outbox WHERE status = 'delivered'")
            )
        }
    return sum(1 for k in keys if k not in marked)


class WatchingSink:
    """An agency that notes, at each hand-over, how many deliveries it had
    accepted whose outcome the outbox had not recorded yet: what a SIGKILL
    at that instant would make Dengar send again."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.accepted: list[str] = []
        self.exposed: list[int] = []

    async def deliver(self, delivery: Delivery) -> None:
        await self.deliver_many([delivery])

    async def deliver_many(
        self, deliveries: Sequence[Delivery]
    ) -> list[Exception | None]:
        await asyncio.sleep(0.005)
        self.accepted.extend(d.idempotency_key for d in deliveries)
        self.exposed.append(_unrecorded(self.engine, self.accepted))
        return [None] * len(deliveries)

    async def close(self) -> None:
        pass


async def test_a_crash_can_resend_at_most_the_sinks_concurrency(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = session_factory(engine)
    with sessions() as session:
        for n in range(40):
            case = add_case(session, status="received")
            outbox.enqueue_agency(session, case, "PUPR", 5, f"K{n}/PUPR")
        session.commit()
    sink = WatchingSink(engine)
    worker = OutboxWorker(engine, sessions, _settings(database_url), {"PUPR": sink}, {})
    summary = await worker.drain_once()
    assert summary.outcomes["delivered"] == 40
    assert len(sink.accepted) == 40
    # a kill during any hand-over would have repeated at most 3 deliveries
    assert max(sink.exposed) <= 3
    engine.dispose()


class WatchingReplier:
    """A chat channel that notes, at each send, whether an earlier message to
    the same citizen was sent (or is being sent) but not yet recorded."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sent: list[OutgoingReply] = []
        self.exposed: list[int] = []

    async def send_reply(self, reply: OutgoingReply) -> str | None:
        earlier = [
            r.idempotency_key for r in self.sent if r.recipient == reply.recipient
        ]
        self.exposed.append(_unrecorded(self.engine, earlier))
        self.sent.append(reply)
        await asyncio.sleep(0.005)
        return None


def _queue_replies(sessions, chats: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
    with sessions() as session:
        case = add_case(session)
        for chat, count in chats.items():
            for n in range(count):
                reply = OutgoingReply(
                    channel="tg",
                    recipient=chat,
                    text=f"pesan {n}",
                    idempotency_key=f"{chat}:{n}",
                )
                outbox.enqueue_reply(session, case, reply)
        session.commit()


async def test_a_crash_can_resend_at_most_one_message_per_citizen(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = session_factory(engine)
    _queue_replies(sessions, {"111": 4, "222": 3, "333": 1})
    replier = WatchingReplier(engine)
    worker = OutboxWorker(
        engine, sessions, _settings(database_url), {}, {"tg": replier}
    )
    summary = await worker.drain_once()
    assert summary.outcomes["delivered"] == 8
    assert replier.exposed == [0] * 8
    # and each citizen hears its messages in the order they were queued
    for chat in ("111", "222"):
        texts = [r.text for r in replier.sent if r.recipient == chat]
        assert texts == sorted(texts)
    engine.dispose()


class CountingReplier(WatchingReplier):
    """Notes, at each send, how many of the channel's messages were sent (or
    are being sent) and not yet recorded, this one included."""

    async def send_reply(self, reply: OutgoingReply) -> str | None:
        self.sent.append(reply)
        keys = [r.idempotency_key for r in self.sent]
        self.exposed.append(_unrecorded(self.engine, keys))
        await asyncio.sleep(0.005)
        return None


async def test_a_crash_can_resend_at_most_32_messages_of_a_channel(
    sqlite_url: str,
) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    sessions = session_factory(engine)
    _queue_replies(sessions, {str(chat): 1 for chat in range(100, 180)})
    replier = CountingReplier(engine)
    worker = OutboxWorker(engine, sessions, _settings(sqlite_url), {}, {"tg": replier})
    summary = await worker.drain_once()
    assert summary.outcomes["delivered"] == 80
    assert REPLIES_IN_FLIGHT == 32  # as README states
    assert max(replier.exposed) <= 32
    engine.dispose()


class HangingReplier:
    """Telegram accepts the message, then the process dies before the answer
    is recorded: the send never returns."""

    def __init__(self) -> None:
        self.calls = 0
        self.called = asyncio.Event()

    async def send_reply(self, reply: OutgoingReply) -> str | None:
        self.calls += 1
        self.called.set()
        await asyncio.Event().wait()
        return None


async def _drain_killed_mid_send(worker: OutboxWorker, replier: HangingReplier) -> None:
    replier.called.clear()
    drain = asyncio.create_task(worker.drain_once())
    await asyncio.wait_for(replier.called.wait(), 10)
    drain.cancel()  # nothing after this instant is recorded, as with SIGKILL
    with pytest.raises(asyncio.CancelledError):
        await drain


async def test_a_citizen_never_gets_one_message_three_times(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = session_factory(engine)
    _queue_replies(sessions, {"111": 1})
    settings = _settings(database_url)
    replier = HangingReplier()
    for life in range(2):
        worker = OutboxWorker(
            engine, sessions, settings, {}, {"tg": replier}, worker=f"life{life}"
        )
        await _drain_killed_mid_send(worker, replier)
        await asyncio.sleep(0.3)  # the dead worker's claim times out
    assert replier.calls == 2  # the second life sent it once more
    worker = OutboxWorker(engine, sessions, settings, {}, {"tg": replier}, "life2")
    summary = await asyncio.wait_for(worker.drain_once(), 10)
    assert replier.calls == 2  # not a third time
    assert summary.outcomes["skipped"] == 1
    with sessions() as session:
        row = session.exec(select(OutboxRow)).one()
    assert row.status == "skipped"
    assert row.last_error is not None
    assert "not sent again" in row.last_error
    engine.dispose()


class FlakyReplier:
    """Sends after the first call hung (a crash cut the first send off)."""

    def __init__(self) -> None:
        self.calls = 0
        self.called = asyncio.Event()

    async def send_reply(self, reply: OutgoingReply) -> str | None:
        self.calls += 1
        self.called.set()
        if self.calls == 1:
            await asyncio.Event().wait()
        return "tg:111:9"


async def test_a_message_cut_off_once_is_sent_once_more(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    sessions = session_factory(engine)
    _queue_replies(sessions, {"111": 1})
    settings = _settings(sqlite_url)
    replier = FlakyReplier()
    first = OutboxWorker(engine, sessions, settings, {}, {"tg": replier}, "first")
    await _drain_killed_mid_send(first, replier)  # type: ignore[arg-type]
    await asyncio.sleep(0.3)
    second = OutboxWorker(engine, sessions, settings, {}, {"tg": replier}, "second")
    summary = await second.drain_once()
    assert summary.outcomes["delivered"] == 1
    with sessions() as session:
        row = session.exec(select(OutboxRow)).one()
    assert (row.status, row.unconfirmed_sends, row.remote_id) == (
        "delivered",
        1,  # the first send: it may have arrived too
        "tg:111:9",
    )
    engine.dispose()


class SlowSink:
    """An agency that takes its time over each hand-over."""

    def __init__(self) -> None:
        self.accepted: list[str] = []

    async def deliver(self, delivery: Delivery) -> None:
        await self.deliver_many([delivery])

    async def deliver_many(
        self, deliveries: Sequence[Delivery]
    ) -> list[Exception | None]:
        await asyncio.sleep(0.1)
        self.accepted.extend(d.idempotency_key for d in deliveries)
        return [None] * len(deliveries)

    async def close(self) -> None:
        pass


async def test_a_batch_in_many_hand_overs_keeps_its_claim(database_url: str) -> None:
    # 12 rows in hand-overs of 3, 0.1 s each: the batch takes twice the claim
    # timeout, and a second worker draining meanwhile must not take its rows
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = session_factory(engine)
    with sessions() as session:
        for n in range(12):
            case = add_case(session, status="received")
            outbox.enqueue_agency(session, case, "PUPR", 5, f"K{n}/PUPR")
        session.commit()
    sink = SlowSink()
    settings = _settings(database_url)
    first = OutboxWorker(engine, sessions, settings, {"PUPR": sink}, {}, "first")
    second = OutboxWorker(engine, sessions, settings, {"PUPR": sink}, {}, "second")

    async def later() -> None:
        for _ in range(4):
            await asyncio.sleep(0.12)
            await second.drain_once()

    await asyncio.gather(first.drain_once(), later())
    assert sorted(sink.accepted) == sorted(f"K{n}/PUPR" for n in range(12))
    engine.dispose()


class StallingSink(SlowSink):
    """While its first hand-over is on its way, the drain's other claims go
    stale (the database was locked past ``claim_timeout``) and a second
    drain of the same process takes them over."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.worker: OutboxWorker | None = None

    async def deliver_many(
        self, deliveries: Sequence[Delivery]
    ) -> list[Exception | None]:
        if self.worker is not None:
            worker, self.worker = self.worker, None
            with self.engine.begin() as connection:
                connection.execute(
                    text("UPDATE outbox SET claimed_at = '2000-01-01 00:00:00'")
                )
            await worker.drain_once()
        return await super().deliver_many(deliveries)


async def test_two_drains_of_one_process_never_send_one_row_twice(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = session_factory(engine)
    with sessions() as session:
        for n in range(12):
            case = add_case(session, status="received")
            outbox.enqueue_agency(session, case, "PUPR", 5, f"K{n}/PUPR")
        session.commit()
    sink = StallingSink(engine)
    worker = OutboxWorker(
        engine, sessions, _settings(database_url, concurrency=3), {"PUPR": sink}, {}
    )
    sink.worker = worker
    await worker.drain_once()
    assert set(sink.accepted) == {f"K{n}/PUPR" for n in range(12)}
    # only the hand-over under way when its claim was lost went twice; the
    # first drain sent none of the rows the second one had taken over
    assert len(sink.accepted) - 12 <= 3
    engine.dispose()
