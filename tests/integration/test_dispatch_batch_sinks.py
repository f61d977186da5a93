"""The Redis, AMQP and database sinks take a whole outbox batch at once (a
pipeline; publishes sharing one wait for confirms; one transaction) and still
answer per message: one refused message never fails, or passes, the others."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import redis.asyncio as aioredis
from sqlmodel import select

from contracts.errors import RetriableDeliveryError
from dispatcher.sinks.amqp import AmqpSink
from dispatcher.sinks.base import Delivery, SinkContext
from dispatcher.sinks.database import DatabaseSink
from dispatcher.sinks.redis import RedisSink
from storage.engine import make_engine, session_factory
from storage.tables import AgencyQueueRow
from tests.integration.sink_helpers import Bind, deliver_many_and_close, pupr_agency
from tests.services import free_port
from tests.unit.dispatcher.test_message_schema import built_delivery, sqlite_sessions


@pytest.fixture
def batch(tmp_path: Any) -> list[Delivery]:
    """Five deliveries of one real message, each with its own key."""
    sessions = sqlite_sessions(tmp_path / "dengar.db")
    delivery = built_delivery(sessions)
    return [
        replace(delivery, idempotency_key=f"{delivery.idempotency_key}-{i}")
        for i in range(5)
    ]


@pytest.mark.redis
async def test_redis_one_failing_add_leaves_the_rest_of_the_batch_delivered(
    redis_stream: tuple[str, aioredis.Redis, str], batch: list[Delivery]
) -> None:
    url, client, stream = redis_stream
    # a marker of the wrong type makes Redis refuse that one add
    await client.rpush(f"{stream}:sent:{batch[2].idempotency_key}", "x")
    sink = RedisSink(
        pupr_agency({"type": "redis", "url": url, "stream": stream, "maxlen": None}),
        SinkContext(sessions=None),  # type: ignore[arg-type]
    )
    try:
        outcomes = await sink.deliver_many(batch)
        again = await sink.deliver_many(batch)  # a re-send after a crash
    finally:
        await sink.close()
    assert [o is None for o in outcomes] == [True, True, False, True, True]
    assert isinstance(outcomes[2], RetriableDeliveryError)
    assert "WRONGTYPE" in str(outcomes[2])
    assert [o is None for o in again] == [True, True, False, True, True]
    keys = [f["idempotency_key"] for _, f in await client.xrange(stream)]
    assert keys == [d.idempotency_key for i, d in enumerate(batch) if i != 2]


@pytest.mark.redis
async def test_redis_down_fails_the_whole_batch_retriably(
    batch: list[Delivery],
) -> None:
    down = f"redis://:topsecret@127.0.0.1:{free_port()}/15"
    sink = RedisSink(
        pupr_agency({"type": "redis", "url": down, "stream": "s", "maxlen": None}),
        SinkContext(sessions=None),  # type: ignore[arg-type]
    )
    outcomes = await deliver_many_and_close(sink, batch)
    assert all(isinstance(o, RetriableDeliveryError) for o in outcomes)
    assert all("topsecret" not in str(o) for o in outcomes)


@pytest.mark.rabbitmq
async def test_amqp_only_confirmed_messages_of_a_batch_count(
    amqp_exchange: tuple[str, str, Bind],
    batch: list[Delivery],
) -> None:
    url, name, bind = amqp_exchange
    # room for three: RabbitMQ confirms those and nacks the last two
    queue = await bind("pupr", **{"x-max-length": 3, "x-overflow": "reject-publish"})
    sink = AmqpSink(
        pupr_agency({"type": "amqp", "url": url, "exchange": name}),
        SinkContext(sessions=None),  # type: ignore[arg-type]
    )
    try:
        outcomes = await sink.deliver_many(batch)
        # the agency drains its queue; the outbox re-sends only the refused
        taken = []
        while (message := await queue.get(fail=False)) is not None:
            await message.ack()
            taken.append(message.message_id)
        again = await sink.deliver_many(batch[3:])
    finally:
        await sink.close()
    assert [o is None for o in outcomes] == [True, True, True, False, False]
    assert all("refused the message (nack)" in str(o) for o in outcomes[3:])
    assert taken == [d.idempotency_key for d in batch[:3]]
    assert again == [None, None]


@pytest.mark.rabbitmq
async def test_amqp_unroutable_batch_is_not_delivered(
    amqp_exchange: tuple[str, str, Bind],
    batch: list[Delivery],
) -> None:
    url, name, _bind = amqp_exchange  # nothing bound: the broker returns each
    sink = AmqpSink(
        pupr_agency({"type": "amqp", "url": url, "exchange": name}),
        SinkContext(sessions=None),  # type: ignore[arg-type]
    )
    outcomes = await deliver_many_and_close(sink, batch)
    assert all(isinstance(o, RetriableDeliveryError) for o in outcomes)
    assert all("no queue is bound" in str(o) for o in outcomes)


async def test_database_batch_queues_each_key_once(tmp_path: Any) -> None:
    sessions = sqlite_sessions(tmp_path / "dengar.db")
    delivery = built_delivery(sessions)
    batch = [
        replace(delivery, idempotency_key=f"{delivery.idempotency_key}-{i}")
        for i in range(5)
    ]
    sink = DatabaseSink(
        pupr_agency({"type": "database"}), SinkContext(sessions=sessions)
    )
    await sink.deliver(batch[1])  # queued before a crash, re-sent with the rest
    assert await sink.deliver_many(batch) == [None] * 5
    assert await sink.deliver_many(batch) == [None] * 5
    with sessions() as session:
        keys = session.exec(select(AgencyQueueRow.idempotency_key)).all()
    assert sorted(keys) == sorted(d.idempotency_key for d in batch)


async def test_database_gone_fails_the_batch_retriably(tmp_path: Any) -> None:
    sessions = sqlite_sessions(tmp_path / "dengar.db")
    delivery = built_delivery(sessions)
    # a database that cannot be reached: the first read already fails
    gone = session_factory(make_engine(f"sqlite:///{tmp_path}/gone/dengar.db"))
    sink = DatabaseSink(pupr_agency({"type": "database"}), SinkContext(sessions=gone))
    answers = await sink.deliver_many([delivery, delivery])
    assert all(isinstance(a, RetriableDeliveryError) for a in answers), answers
    assert "database unavailable" in str(answers[0])
    with pytest.raises(RetriableDeliveryError, match="database unavailable"):
        await sink.deliver(delivery)
