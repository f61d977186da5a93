"""The Redis, AMQP and database sinks take a whole outbox batch at once (a
pipeline; publishes sharing one wait for confirms; one transaction) and still
answer per message: one refused message never fails, or passes, the others."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import aio_pika
import pytest
import redis.asyncio as aioredis
from sqlmodel import select

from config.settings import AgencySettings
from dispatcher.sinks.amqp import AmqpSink
from dispatcher.sinks.base import Delivery, RetriableDeliveryError, SinkContext
from dispatcher.sinks.database import DatabaseSink
from dispatcher.sinks.redis import RedisSink
from storage.tables import AgencyQueueRow
from tests.services import free_port, need_amqp, need_redis
from tests.unit.dispatcher.test_message_schema import built_delivery, sqlite_sessions


def _agency(sink: dict[str, Any]) -> AgencySettings:
    return AgencySettings.model_validate(
        {"code": "PUPR", "name": "Dinas PUPR", "sink": sink}
    )


@pytest.fixture
def batch(tmp_path: Any) -> list[Delivery]:
    """Five deliveries of one real message, each with its own key."""
    sessions = sqlite_sessions(tmp_path / "dengar.db")
    delivery = built_delivery(sessions)
    return [
        replace(delivery, idempotency_key=f"{delivery.idempotency_key}-{i}")
        for i in range(5)
    ]


@pytest.fixture
async def redis_stream() -> AsyncIterator[tuple[str, aioredis.Redis, str]]:
    url = need_redis()
    client = aioredis.Redis.from_url(url, decode_responses=True)
    stream = f"dengar-test:{uuid.uuid4().hex}"
    yield url, client, stream
    keys = [k async for k in client.scan_iter(match=f"{stream}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.mark.redis
async def test_redis_one_failing_add_leaves_the_rest_of_the_batch_delivered(
    redis_stream: tuple[str, aioredis.Redis, str], batch: list[Delivery]
) -> None:
    url, client, stream = redis_stream
    # a marker of the wrong type makes Redis refuse that one add
    await client.rpush(f"{stream}:sent:{batch[2].idempotency_key}", "x")
    sink = RedisSink(
        _agency({"type": "redis", "url": url, "stream": stream, "maxlen": None}),
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
        _agency({"type": "redis", "url": down, "stream": "s", "maxlen": None}),
        SinkContext(sessions=None),  # type: ignore[arg-type]
    )
    try:
        outcomes = await sink.deliver_many(batch)
    finally:
        await sink.close()
    assert all(isinstance(o, RetriableDeliveryError) for o in outcomes)
    assert all("topsecret" not in str(o) for o in outcomes)


@pytest.fixture
async def exchange() -> AsyncIterator[
    tuple[str, str, Callable[..., Awaitable[aio_pika.abc.AbstractQueue]]]
]:
    url = need_amqp()
    connection = await aio_pika.connect(url)
    channel = await connection.channel()
    name = f"dengar-test-{uuid.uuid4().hex[:12]}"
    declared = await channel.declare_exchange(
        name, aio_pika.ExchangeType.TOPIC, durable=True
    )
    queues: list[aio_pika.abc.AbstractQueue] = []

    async def bind(routing_key: str, **arguments: Any) -> aio_pika.abc.AbstractQueue:
        queue = await channel.declare_queue(
            f"{name}-{len(queues)}", arguments=arguments or None
        )
        await queue.bind(declared, routing_key)
        queues.append(queue)
        return queue

    yield url, name, bind
    for queue in queues:
        await queue.delete(if_unused=False, if_empty=False)
    await declared.delete()
    await connection.close()


@pytest.mark.rabbitmq
async def test_amqp_only_confirmed_messages_of_a_batch_count(
    exchange: tuple[str, str, Callable[..., Awaitable[aio_pika.abc.AbstractQueue]]],
    batch: list[Delivery],
) -> None:
    url, name, bind = exchange
    # room for three: RabbitMQ confirms those and nacks the last two
    queue = await bind("pupr", **{"x-max-length": 3, "x-overflow": "reject-publish"})
    sink = AmqpSink(
        _agency({"type": "amqp", "url": url, "exchange": name}),
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
    exchange: tuple[str, str, Callable[..., Awaitable[aio_pika.abc.AbstractQueue]]],
    batch: list[Delivery],
) -> None:
    url, name, _bind = exchange  # nothing bound: the broker returns each
    sink = AmqpSink(
        _agency({"type": "amqp", "url": url, "exchange": name}),
        SinkContext(sessions=None),  # type: ignore[arg-type]
    )
    try:
        outcomes = await sink.deliver_many(batch)
    finally:
        await sink.close()
    assert all(isinstance(o, RetriableDeliveryError) for o in outcomes)
    assert all("no queue is bound" in str(o) for o in outcomes)


async def test_database_batch_queues_each_key_once(tmp_path: Any) -> None:
    sessions = sqlite_sessions(tmp_path / "dengar.db")
    delivery = built_delivery(sessions)
    batch = [
        replace(delivery, idempotency_key=f"{delivery.idempotency_key}-{i}")
        for i in range(5)
    ]
    sink = DatabaseSink(_agency({"type": "database"}), SinkContext(sessions=sessions))
    await sink.deliver(batch[1])  # queued before a crash, re-sent with the rest
    assert await sink.deliver_many(batch) == [None] * 5
    assert await sink.deliver_many(batch) == [None] * 5
    with sessions() as session:
        keys = session.exec(select(AgencyQueueRow.idempotency_key)).all()
    assert sorted(keys) == sorted(d.idempotency_key for d in batch)
