"""The amqp sink against the real RabbitMQ server (publisher confirms)."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlparse

import aio_pika
import pytest

from config.settings import AgencySettings
from contracts.errors import RetriableDeliveryError
from dispatcher.sinks.amqp import AmqpSink
from dispatcher.sinks.base import SinkContext
from dispatcher.sinks.registry import build_sink
from tests.integration.sink_helpers import (
    deliver_and_close,
    next_message,
    pupr_agency,
    retriable_error,
)
from tests.services import free_port
from tests.unit.dispatcher.test_message_schema import (
    assert_valid,
    built_delivery,
    sqlite_sessions,
)

pytestmark = pytest.mark.rabbitmq


def _agency(url: str, exchange: str, routing_key: str | None = None) -> AgencySettings:
    sink = {"type": "amqp", "url": url, "exchange": exchange}
    return pupr_agency(sink | {"routing_key": routing_key})


@pytest.fixture
def sessions(tmp_path):
    return sqlite_sessions(tmp_path / "dengar.db")


async def test_delivers_the_schema_persistent_with_the_key(amqp_exchange, sessions):
    url, exchange, bind = amqp_exchange
    queue = await bind("pupr")
    sink = build_sink(_agency(url, exchange), SinkContext(sessions=sessions))
    delivery = built_delivery(sessions)
    await deliver_and_close(sink, delivery)

    message = await next_message(queue)
    assert message.message_id == delivery.idempotency_key
    assert message.content_type == "application/json"
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    body = json.loads(message.body)
    assert_valid(body)
    assert body == delivery.message


async def test_configured_routing_key(amqp_exchange, sessions):
    url, exchange, bind = amqp_exchange
    queue = await bind("provinsi.pupr.#")
    sink = AmqpSink(
        _agency(url, exchange, routing_key="provinsi.pupr.kotabaru"),
        SinkContext(sessions=sessions),
    )
    await deliver_and_close(sink, built_delivery(sessions))
    assert (await next_message(queue)).routing_key == "provinsi.pupr.kotabaru"


async def test_unroutable_case_is_not_marked_delivered(amqp_exchange, sessions):
    url, exchange, _bind = amqp_exchange  # nothing bound: the broker returns it
    sink = AmqpSink(_agency(url, exchange), SinkContext(sessions=sessions))
    error = await retriable_error(sink, built_delivery(sessions))
    assert "no queue is bound" in str(error)


async def test_broker_nack_is_not_marked_delivered(amqp_exchange, sessions):
    url, exchange, bind = amqp_exchange
    # a full queue that rejects publishes makes RabbitMQ answer basic.nack
    queue = await bind("pupr", **{"x-max-length": 1, "x-overflow": "reject-publish"})
    sink = AmqpSink(_agency(url, exchange), SinkContext(sessions=sessions))
    first, second = built_delivery(sessions), built_delivery(sessions)
    try:
        await sink.deliver(first)
        with pytest.raises(RetriableDeliveryError, match="refused the message"):
            await sink.deliver(second)
        # the agency drains its queue; the outbox's retry now goes through
        assert (await next_message(queue)).message_id == first.idempotency_key
        await sink.deliver(second)
    finally:
        await sink.close()
    assert (await next_message(queue)).message_id == second.idempotency_key


async def test_broker_unreachable_is_retriable_and_hides_the_password(
    amqp_exchange, sessions
):
    url, exchange, bind = amqp_exchange
    queue = await bind("pupr")
    down = f"amqp://guest:topsecret@127.0.0.1:{free_port()}/"
    sink = AmqpSink(_agency(down, exchange), SinkContext(sessions=sessions))
    delivery = built_delivery(sessions)
    error = await retriable_error(sink, delivery)
    assert "topsecret" not in str(error)
    assert "topsecret" not in repr(sink)

    # broker back (the right address): the retry delivers the same message id
    up = AmqpSink(_agency(url, exchange), SinkContext(sessions=sessions))
    await deliver_and_close(up, delivery)
    assert (await next_message(queue)).message_id == delivery.idempotency_key


class FreezingProxy:
    """A TCP proxy to the broker that can stop passing the broker's answers,
    as a network partition does after a publish went out."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.frozen = asyncio.Event()
        self.server = None
        self.port = None
        self.tasks = set()

    async def start(self):
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _client(self, reader, writer):
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        for task in (
            asyncio.create_task(self._pipe(reader, up_writer, freezes=False)),
            asyncio.create_task(self._pipe(up_reader, writer, freezes=True)),
        ):
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _pipe(self, reader, writer, freezes):
        try:
            while data := await reader.read(65536):
                if freezes and self.frozen.is_set():
                    continue  # swallowed: the confirm never arrives
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def drop(self):
        """Cut every open connection (the broker restarts, a NAT forgets)."""
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def stop(self):
        self.server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.server.wait_closed()


async def _through_proxy(url: str) -> tuple[FreezingProxy, str]:
    """A started proxy to the broker at ``url``, and the url through it."""
    parsed = urlparse(url)
    proxy = FreezingProxy(parsed.hostname or "127.0.0.1", parsed.port or 5672)
    await proxy.start()
    via_proxy = parsed._replace(netloc=f"guest:guest@127.0.0.1:{proxy.port}")
    return proxy, via_proxy.geturl()


async def test_missing_confirm_is_not_marked_delivered(amqp_exchange, sessions):
    url, exchange, bind = amqp_exchange
    queue = await bind("pupr")
    proxy, via_proxy = await _through_proxy(url)
    sink = AmqpSink(
        _agency(via_proxy, exchange),
        SinkContext(sessions=sessions),
        confirm_timeout=0.5,
    )
    delivery = built_delivery(sessions)
    try:
        await sink.deliver(built_delivery(sessions))  # the path works
        await next_message(queue)
        proxy.frozen.set()
        with pytest.raises(RetriableDeliveryError, match=r"no confirm within 0\.5s"):
            await sink.deliver(delivery)
    finally:
        await sink.close()
        await proxy.stop()
    # the broker may well have the message: the outbox re-sends it with the
    # same message_id, and the consumer drops the repeat
    again = AmqpSink(_agency(url, exchange), SinkContext(sessions=sessions))
    await deliver_and_close(again, delivery)
    ids = {(await next_message(queue)).message_id}
    while (extra := await queue.get(fail=False)) is not None:
        await extra.ack()
        ids.add(extra.message_id)
    assert ids == {delivery.idempotency_key}


async def test_connection_lost_then_back_delivers_again(amqp_exchange, sessions):
    url, exchange, bind = amqp_exchange
    queue = await bind("pupr")
    proxy, via_proxy = await _through_proxy(url)
    sink = AmqpSink(_agency(via_proxy, exchange), SinkContext(sessions=sessions))
    first, second = built_delivery(sessions), built_delivery(sessions)
    outcomes = []
    try:
        await sink.deliver(first)
        await proxy.drop()
        for _ in range(50):  # what the outbox does, with a short backoff
            try:
                await sink.deliver(second)
            except RetriableDeliveryError as exc:
                outcomes.append(str(exc))
                await asyncio.sleep(0.2)
                continue
            outcomes.append("delivered")
            break
    finally:
        await sink.close()
        await proxy.stop()
    assert outcomes[-1] == "delivered", outcomes
    ids = [
        (await next_message(queue)).message_id,
        (await next_message(queue)).message_id,
    ]
    assert ids == [first.idempotency_key, second.idempotency_key]
