"""What the sink tests against real brokers share: the agency they deliver
for, and the clean-up of what a test left on the broker."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
import pytest
import redis.asyncio as aioredis

from config.settings import AgencySettings
from contracts.errors import RetriableDeliveryError
from dispatcher.sinks.base import BatchSink, Delivery, Sink

# the amqp_exchange fixture's: declares a queue bound with a routing key
Bind = Callable[..., Awaitable[aio_pika.abc.AbstractQueue]]


def pupr_agency(sink: dict[str, Any]) -> AgencySettings:
    """The PUPR agency delivering through ``sink`` (its config block)."""
    return AgencySettings.model_validate(
        {"code": "PUPR", "name": "Dinas PUPR", "sink": sink}
    )


async def deliver_and_close(sink: Sink, *deliveries: Delivery) -> None:
    """Deliver each of ``deliveries`` in turn; the sink is closed after,
    also when one fails."""
    try:
        for delivery in deliveries:
            await sink.deliver(delivery)
    finally:
        await sink.close()


async def retriable_error(sink: Sink, delivery: Delivery) -> RetriableDeliveryError:
    """The retriable error ``sink`` answers ``delivery`` with (it must fail
    so); the sink is closed after."""
    try:
        with pytest.raises(RetriableDeliveryError) as caught:
            await sink.deliver(delivery)
    finally:
        await sink.close()
    return caught.value


async def deliver_many_and_close(
    sink: BatchSink, batch: list[Delivery]
) -> list[Exception | str | None]:
    """Each delivery's outcome of handing ``sink`` the whole ``batch`` at
    once; the sink is closed after."""
    try:
        return list(await sink.deliver_many(batch))
    finally:
        await sink.close()


async def remove_stream(client: aioredis.Redis, stream: str) -> None:
    """Delete ``stream`` and every key named after it (markers, dead
    letters), then close ``client``."""
    keys = [k async for k in client.scan_iter(match=f"{stream}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def next_message(
    queue: aio_pika.abc.AbstractQueue, timeout: float = 5.0
) -> aio_pika.abc.AbstractIncomingMessage:
    """The next message of ``queue``, acked; fails after ``timeout`` seconds."""
    for _ in range(int(timeout / 0.05)):
        message = await queue.get(fail=False)
        if message is not None:
            await message.ack()
            return message
        await asyncio.sleep(0.05)
    raise AssertionError("no message arrived")
