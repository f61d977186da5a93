"""The redis sink against the real Redis server (streams)."""

from __future__ import annotations

import asyncio
import json

import pytest

from config.settings import AgencySettings
from dispatcher.sinks.base import SinkContext
from dispatcher.sinks.redis import RedisSink
from dispatcher.sinks.registry import build_sink
from tests.integration.sink_helpers import (
    deliver_and_close,
    pupr_agency,
    retriable_error,
)
from tests.services import free_port
from tests.unit.dispatcher.test_message_schema import (
    PHOTO,
    assert_valid,
    built_delivery,
    sqlite_sessions,
)

pytestmark = pytest.mark.redis


def _agency(url: str, stream: str | None, maxlen: int | None = 1000) -> AgencySettings:
    return pupr_agency(
        {"type": "redis", "url": url, "stream": stream, "maxlen": maxlen}
    )


@pytest.fixture
def sessions(tmp_path):
    return sqlite_sessions(tmp_path / "dengar.db")


async def test_delivers_the_schema_with_the_key(redis_stream, sessions):
    url, client, stream = redis_stream
    sink = build_sink(_agency(url, stream), SinkContext(sessions=sessions))
    delivery = built_delivery(sessions)
    await deliver_and_close(sink, delivery)

    [(_entry_id, fields)] = await client.xrange(stream)
    assert fields["idempotency_key"] == delivery.idempotency_key
    message = json.loads(fields["message"])
    assert_valid(message)
    assert message == delivery.message
    assert PHOTO.decode("latin-1") not in fields["message"]  # files by hash only


async def test_a_resend_after_a_crash_adds_nothing(redis_stream, sessions):
    url, client, stream = redis_stream
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


async def test_default_stream_is_per_agency_code(redis_stream, sessions):
    url, _client, _stream = redis_stream
    sink = RedisSink(_agency(url, None), SinkContext(sessions=sessions))
    assert sink.stream == "dengar:PUPR"
    await sink.close()


async def test_maxlen_trims_the_stream(redis_stream, sessions):
    url, client, stream = redis_stream
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


async def test_broker_down_is_retriable_then_delivers_when_up(redis_stream, sessions):
    url, client, stream = redis_stream
    down = f"redis://:topsecret@127.0.0.1:{free_port()}/15"
    sink = RedisSink(_agency(down, stream), SinkContext(sessions=sessions))
    delivery = built_delivery(sessions)
    error = await retriable_error(sink, delivery)
    assert "topsecret" not in str(error)
    assert "topsecret" not in repr(sink)
    assert stream in str(error)

    # the outbox retries later, against the server that is back
    up = RedisSink(_agency(url, stream), SinkContext(sessions=sessions))
    await deliver_and_close(up, delivery)
    assert await client.xlen(stream) == 1


async def test_a_whole_outbox_batch_at_once_is_delivered(redis_stream, sessions):
    # the outbox delivers a batch concurrently; more than the pool holds
    url, client, stream = redis_stream
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
