"""The redis sink against the real Redis server (streams)."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import redis.asyncio as aioredis

from config.settings import AgencySettings
from dispatcher.sinks.base import RetriableDeliveryError, SinkContext
from dispatcher.sinks.redis import RedisSink
from dispatcher.sinks.registry import build_sink
from tests.services import free_port, need_redis
from tests.unit.dispatcher.test_message_schema import (
    PHOTO,
    assert_valid,
    built_delivery,
    sqlite_sessions,
)

pytestmark = pytest.mark.redis


def _agency(url: str, stream: str | None, maxlen: int | None = 1000):
    return AgencySettings.model_validate(
        {
            "code": "PUPR",
            "name": "Dinas PUPR",
            "sink": {"type": "redis", "url": url, "stream": stream, "maxlen": maxlen},
        }
    )


@pytest.fixture
def sessions(tmp_path):
    return sqlite_sessions(tmp_path / "dengar.db")


@pytest.fixture
async def server():
    url = need_redis()
    client = aioredis.Redis.from_url(url, decode_responses=True)
    stream = f"dengar-test:{uuid.uuid4().hex}"
    yield url, client, stream
    keys = [k async for k in client.scan_iter(match=f"{stream}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_delivers_the_schema_with_the_key(server, sessions):
    url, client, stream = server
    sink = build_sink(_agency(url, stream), SinkContext(sessions=sessions))
    delivery = built_delivery(sessions)
    try:
        await sink.deliver(delivery)
    finally:
        await sink.close()

    [(_entry_id, fields)] = await client.xrange(stream)
    assert fields["idempotency_key"] == delivery.idempotency_key
    message = json.loads(fields["message"])
    assert_valid(message)
    assert message == delivery.message
    assert PHOTO.decode("latin-1") not in fields["message"]  # files by hash only


async def test_a_resend_after_a_crash_adds_nothing(server, sessions):
    url, client, stream = server
    sink = RedisSink(_agency(url, stream), SinkContext(sessions=sessions))
    first, second = built_delivery(sessions), built_delivery(sessions)
    try:
        entry = await sink.add(first)
        again = await sink.add(first)
        await sink.deliver(second)
    finally:
        await sink.close()
    assert again == entry
    keys = [f["idempotency_key"] for _, f in await client.xrange(stream)]
    assert keys == [first.idempotency_key, second.idempotency_key]


async def test_default_stream_is_per_agency_code(server, sessions):
    url, _client, _stream = server
    sink = RedisSink(_agency(url, None), SinkContext(sessions=sessions))
    assert sink.stream == "dengar:PUPR"
    await sink.close()


async def test_maxlen_trims_the_stream(server, sessions):
    url, client, stream = server
    sink = RedisSink(_agency(url, stream, maxlen=10), SinkContext(sessions=sessions))
    delivery = built_delivery(sessions)
    try:
        for i in range(300):
            await sink.deliver(
                type(delivery)(
                    idempotency_key=f"{delivery.idempotency_key}-{i}",
                    agency_code="PUPR",
                    message=delivery.message,
                )
            )
    finally:
        await sink.close()
    # "~" trims whole macro nodes, so the length is near, not at, the limit
    assert await client.xlen(stream) < 300


async def test_broker_down_is_retriable_then_delivers_when_up(server, sessions):
    url, client, stream = server
    down = f"redis://:topsecret@127.0.0.1:{free_port()}/15"
    sink = RedisSink(_agency(down, stream), SinkContext(sessions=sessions))
    delivery = built_delivery(sessions)
    try:
        with pytest.raises(RetriableDeliveryError) as caught:
            await sink.deliver(delivery)
    finally:
        await sink.close()
    assert "topsecret" not in str(caught.value)
    assert "topsecret" not in repr(sink)
    assert stream in str(caught.value)

    # the outbox retries later, against the server that is back
    up = RedisSink(_agency(url, stream), SinkContext(sessions=sessions))
    try:
        await up.deliver(delivery)
    finally:
        await up.close()
    assert await client.xlen(stream) == 1


async def test_a_whole_outbox_batch_at_once_is_delivered(server, sessions):
    # the outbox delivers a batch concurrently; more than the pool holds
    url, client, stream = server
    sink = RedisSink(_agency(url, stream, maxlen=None), SinkContext(sessions=sessions))
    delivery = built_delivery(sessions)
    try:
        await asyncio.gather(
            *(
                sink.deliver(
                    type(delivery)(
                        idempotency_key=f"{delivery.idempotency_key}-{i}",
                        agency_code="PUPR",
                        message=delivery.message,
                    )
                )
                for i in range(250)
            )
        )
    finally:
        await sink.close()
    assert await client.xlen(stream) == 250
