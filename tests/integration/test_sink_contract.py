"""Every agency sink runs the shared :class:`SinkContract` against its real
backend (SQLite, a local HTTP receiver, aiosmtpd, RabbitMQ, Redis, a local
agency system); see ``tests/integration/sink_contract.py``."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import uuid
from typing import get_args

import aio_pika
import pytest
import redis.asyncio as aioredis
from aiosmtpd.controller import Controller
from sqlmodel import select

from config.sink_settings import SinkSettings
from dispatcher.sinks.email import message_id_for
from dispatcher.sinks.registry import SINK_TYPES
from storage.tables import AgencyQueueRow
from tests.fakes.agency_http import AgencySystem
from tests.fakes.webhook_server import WebhookServer
from tests.integration.sink_contract import Backend, SinkContract, agency
from tests.services import free_port, need_amqp, need_redis


def test_the_registry_knows_exactly_the_sink_types_of_the_config():
    union = get_args(get_args(SinkSettings)[0])
    config_types = {
        get_args(model.model_fields["type"].annotation)[0] for model in union
    }
    assert set(SINK_TYPES) == config_types


def test_every_sink_type_runs_the_contract():
    tested = {cls.sink_type for cls in SinkContract.__subclasses__()}
    assert tested == set(SINK_TYPES)


class TestDatabaseSink(SinkContract):
    sink_type = "database"
    # the queue is Dengar's own database: there is no remote target to lose
    test_an_unreachable_target_is_retried_without_secrets = None  # type: ignore[assignment]

    @pytest.fixture
    def backend(self, sessions):
        async def read():
            with sessions() as s:
                rows = s.exec(select(AgencyQueueRow)).all()
            found = [(r.idempotency_key, json.loads(r.message)) for r in rows]
            read.meta = [m.get("event", "dispatched") for _k, m in found]
            return found

        return Backend(agency({"type": "database"}), read)


class TestWebhookSink(SinkContract):
    sink_type = "webhook"

    @pytest.fixture
    async def backend(self):
        secret = "kunci-webhook-rahasia"
        async with WebhookServer(secret=secret) as server:

            async def read():
                read.meta = [r.json()["type"] for r in server.requests]
                return [(r.json()["id"], r.json()["data"]) for r in server.requests]

            closed = f"http://127.0.0.1:{free_port()}/hooks?token=kunci-di-url"
            yield Backend(
                agency({"type": "webhook", "url": server.url, "secret": secret}),
                read,
                unreachable=agency(
                    {"type": "webhook", "url": closed, "secret": secret, "timeout": 2}
                ),
                secrets=[secret, "kunci-di-url"],
            )


class _Inbox:
    def __init__(self):
        self.mails = []

    async def handle_DATA(self, server, session, envelope):
        self.mails.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"


class TestEmailSink(SinkContract):
    sink_type = "email"

    @pytest.fixture
    def backend(self):
        inbox, port = _Inbox(), free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()

        async def read():
            found = []
            read.meta = [str(mail["Subject"]) for mail in inbox.mails]
            for mail in inbox.mails:
                [doc] = [
                    p
                    for p in mail.iter_attachments()
                    if p.get_content_type() == "application/json"
                ]
                key = mail["X-Dengar-Idempotency-Key"]
                found.append((key, json.loads(doc.get_content())))
                assert mail["Message-ID"] == message_id_for(
                    key, "dengar@kotabarukab.go.id"
                )
            return found

        def smtp(port: int) -> dict:
            return {
                "host": "127.0.0.1",
                "port": port,
                "security": "none",
                "from_address": "dengar@kotabarukab.go.id",
                "timeout": 2,
            }

        to = ["pupr@example.go.id"]
        yield Backend(
            agency({"type": "email", "to": to, "smtp": smtp(port)}),
            read,
            unreachable=agency({"type": "email", "to": to, "smtp": smtp(free_port())}),
        )
        controller.stop()

    def check_redaction_meta(self, meta):
        assert "Permintaan penghapusan identitas pelapor" in meta[-1]


@pytest.mark.rabbitmq
class TestAmqpSink(SinkContract):
    sink_type = "amqp"

    @pytest.fixture
    async def backend(self):
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
            read.meta = []
            while (message := await queue.get(fail=False)) is not None:
                await message.ack()
                found.append((message.message_id, json.loads(message.body)))
                read.meta.append(message.type)
            return found

        closed = f"amqp://guest:sandi-amqp-rahasia@127.0.0.1:{free_port()}/"
        yield Backend(
            agency({"type": "amqp", "url": url, "exchange": name}),
            read,
            unreachable=agency({"type": "amqp", "url": closed, "exchange": name}),
            secrets=["sandi-amqp-rahasia"],
        )
        await queue.delete(if_unused=False, if_empty=False)
        await exchange.delete()
        await connection.close()


@pytest.mark.redis
class TestRedisSink(SinkContract):
    sink_type = "redis"

    @pytest.fixture
    async def backend(self):
        url = need_redis()
        client = aioredis.Redis.from_url(url, decode_responses=True)
        stream = f"dengar-contract:{uuid.uuid4().hex}"

        async def read():
            entries = await client.xrange(stream)
            read.meta = [f["type"] for _, f in entries]
            return [
                (f["idempotency_key"], json.loads(f["message"])) for _, f in entries
            ]

        closed = f"redis://:sandi-redis-rahasia@127.0.0.1:{free_port()}/0"
        yield Backend(
            agency({"type": "redis", "url": url, "stream": stream}),
            read,
            unreachable=agency({"type": "redis", "url": closed, "stream": stream}),
            secrets=["sandi-redis-rahasia"],
        )
        keys = [k async for k in client.scan_iter(match=f"{stream}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


class TestHttpSink(SinkContract):
    sink_type = "http"

    @pytest.fixture
    async def backend(self):
        async with AgencySystem() as system:

            async def read():
                accepted = [r for r in system.requests if r.status in (200, 201)]
                read.meta = [f"{r.method} {r.path}" for r in accepted]
                return [
                    (r.headers["Idempotency-Key"], json.loads(r.body)) for r in accepted
                ]

            def sink(base: str) -> dict:
                # no body template: the message itself is the JSON body
                return {
                    "type": "http",
                    "url": f"{base}/api/v1/tiket",
                    "headers": {"Idempotency-Key": "{{ idempotency_key }}"},
                    "auth": {"type": "bearer", "token": system.token},
                    "response_id": {"json_path": "data.id"},
                    "redaction": {
                        "url": base + "/api/v1/tiket/{{ remote_id | urlencode }}",
                        "headers": {"Idempotency-Key": "{{ idempotency_key }}"},
                    },
                    "timeout": 2,
                }

            yield Backend(
                agency(sink(system.base)),
                read,
                unreachable=agency(sink(f"http://127.0.0.1:{free_port()}")),
                secrets=[system.token],
            )

    def check_redaction_meta(self, meta):
        # the redaction went to the ticket the first delivery created
        assert meta == ["POST /api/v1/tiket", "PATCH /api/v1/tiket/TKT-000001"]
