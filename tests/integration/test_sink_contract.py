"""The contract every agency sink keeps, run against each real backend.

Deliver a built message: it arrives intact (schema v1) and carries its
idempotency key where the consumer can see it; a re-send after a crash
carries the same key; confidential cases arrive without the reporter.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import uuid

import aio_pika
import pytest
import redis.asyncio as aioredis
from aiosmtpd.controller import Controller
from sqlmodel import select

from config.settings import AgencySettings
from dispatcher.sinks.base import SinkContext
from dispatcher.sinks.email import message_id_for
from dispatcher.sinks.registry import build_sink
from storage.tables import AgencyQueueRow
from tests.fakes.webhook_server import WebhookServer
from tests.services import free_port, need_amqp, need_redis
from tests.unit.dispatcher.test_message_schema import (
    assert_valid,
    built_delivery,
    sqlite_sessions,
)


def _agency(sink: dict) -> AgencySettings:
    return AgencySettings.model_validate(
        {"code": "PUPR", "name": "Dinas PUPR", "sink": sink}
    )


class _Inbox:
    def __init__(self):
        self.mails = []

    async def handle_DATA(self, server, session, envelope):
        self.mails.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"


@pytest.fixture
def sessions(tmp_path):
    return sqlite_sessions(tmp_path / "dengar.db")


@pytest.fixture(
    params=[
        "database",
        "webhook",
        "email",
        pytest.param("amqp", marks=pytest.mark.rabbitmq),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
async def backend(request, sessions):
    """(agency settings, async read() -> [(key, message)]) for one sink type."""
    kind = request.param
    if kind == "database":

        async def read():
            with sessions() as s:
                rows = s.exec(select(AgencyQueueRow)).all()
            return [(r.idempotency_key, json.loads(r.message)) for r in rows]

        yield _agency({"type": "database"}), read

    elif kind == "webhook":
        async with WebhookServer(secret="kunci") as server:

            async def read():
                return [(r.json()["id"], r.json()["data"]) for r in server.requests]

            yield (
                _agency({"type": "webhook", "url": server.url, "secret": "kunci"}),
                read,
            )

    elif kind == "email":
        inbox, port = _Inbox(), free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()

        async def read():
            found = []
            for mail in inbox.mails:
                [doc] = [
                    p
                    for p in mail.iter_attachments()
                    if p.get_content_type() == "application/json"
                ]
                found.append(
                    (mail["X-Dengar-Idempotency-Key"], json.loads(doc.get_content()))
                )
                assert mail["Message-ID"] == message_id_for(
                    mail["X-Dengar-Idempotency-Key"], "dengar@kotabarukab.go.id"
                )
            return found

        smtp = {
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "from_address": "dengar@kotabarukab.go.id",
        }
        yield (
            _agency({"type": "email", "to": ["pupr@example.go.id"], "smtp": smtp}),
            read,
        )
        controller.stop()

    elif kind == "amqp":
        url = need_amqp()
        connection = await aio_pika.connect(url)
        channel = await connection.channel()
        name = f"dengar-contract-{uuid.uuid4().hex[:12]}"
        exchange = await channel.declare_exchange(
            name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(name)
        await queue.bind(exchange, "pupr")

        async def read():
            await asyncio.sleep(0.2)  # let the broker route what it confirmed
            found = []
            while (message := await queue.get(fail=False)) is not None:
                await message.ack()
                found.append((message.message_id, json.loads(message.body)))
            return found

        yield _agency({"type": "amqp", "url": url, "exchange": name}), read
        await queue.delete(if_unused=False, if_empty=False)
        await exchange.delete()
        await connection.close()

    else:
        url = need_redis()
        client = aioredis.Redis.from_url(url, decode_responses=True)
        stream = f"dengar-contract:{uuid.uuid4().hex}"

        async def read():
            entries = await client.xrange(stream)
            return [
                (f["idempotency_key"], json.loads(f["message"])) for _, f in entries
            ]

        yield _agency({"type": "redis", "url": url, "stream": stream}), read
        keys = [k async for k in client.scan_iter(match=f"{stream}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_delivers_the_message_with_its_key(backend, sessions):
    agency, read = backend
    sink = build_sink(agency, SinkContext(sessions=sessions))
    delivery = built_delivery(sessions)
    try:
        await sink.deliver(delivery)
    finally:
        await sink.close()
    [(key, message)] = await read()
    assert key == delivery.idempotency_key
    assert message == delivery.message
    assert_valid(message)


async def test_a_resend_carries_the_same_key(backend, sessions):
    agency, read = backend
    sink = build_sink(agency, SinkContext(sessions=sessions))
    delivery = built_delivery(sessions)
    try:
        await sink.deliver(delivery)
        await sink.deliver(delivery)  # crash between send and record
    finally:
        await sink.close()
    arrived = await read()
    assert 1 <= len(arrived) <= 2
    assert {key for key, _ in arrived} == {delivery.idempotency_key}


@pytest.mark.parametrize("level", ["anonim", "rahasia"])
async def test_confidential_cases_arrive_without_the_reporter(backend, sessions, level):
    agency, read = backend
    sink = build_sink(agency, SinkContext(sessions=sessions))
    delivery = built_delivery(sessions, confidentiality=level)
    try:
        await sink.deliver(delivery)
    finally:
        await sink.close()
    [(_, message)] = await read()
    assert message["reporter"] is None
    assert "siti@warga.example" not in json.dumps(message)
