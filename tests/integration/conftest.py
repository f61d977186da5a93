"""Fixtures of the tests against real brokers: a Redis stream and a RabbitMQ
exchange of the test's own, removed afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import pytest
import redis.asyncio as aioredis

from tests.integration.sink_helpers import Bind, remove_stream
from tests.services import need_amqp, need_redis


@pytest.fixture
async def redis_stream() -> AsyncIterator[tuple[str, aioredis.Redis, str]]:
    """(url, client, stream name); every key of the stream removed after."""
    url = need_redis()
    client = aioredis.Redis.from_url(url, decode_responses=True)
    stream = f"dengar-test:{uuid.uuid4().hex}"
    yield url, client, stream
    await remove_stream(client, stream)


@pytest.fixture
async def amqp_exchange() -> AsyncIterator[tuple[str, str, Bind]]:
    """(url, exchange name, bind): ``await bind(routing_key, **arguments)``
    declares a queue bound to the exchange; exchange and queues are removed
    after."""
    url = need_amqp()
    connection = await aio_pika.connect(url)
    channel = await connection.channel()
    name = f"dengar-test-{uuid.uuid4().hex[:12]}"
    exchange = await channel.declare_exchange(
        name, aio_pika.ExchangeType.TOPIC, durable=True
    )
    queues: list[aio_pika.abc.AbstractQueue] = []

    async def bind(routing_key: str, **arguments: Any) -> aio_pika.abc.AbstractQueue:
        queue = await channel.declare_queue(
            f"{name}-{len(queues)}", arguments=arguments or None
        )
        await queue.bind(exchange, routing_key)
        queues.append(queue)
        return queue

    yield url, name, bind
    for queue in queues:
        await queue.delete(if_unused=False, if_empty=False)
    await exchange.delete()
    await connection.close()
