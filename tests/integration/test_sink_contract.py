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

from config.settings import AgencySettings, Settings
from dengar.confidentiality import change_confidentiality
from dispatcher import outbox
from dispatcher.message import idempotency_key
from dispatcher.sinks.base import SinkContext
from dispatcher.sinks.email import message_id_for
from dispatcher.sinks.registry import build_sink
from dispatcher.worker import OutboxWorker
from storage.tables import AgencyQueueRow
from tests.fakes.webhook_server import WebhookServer
from tests.services import free_port, need_amqp, need_redis
from tests.unit.dispatcher.test_message_schema import (
    add_case,
    add_photo,
    assert_valid,
    built_delivery,
    sqlite_sessions,
)


def _agency(sink: dict) -> AgencySettings:
    return AgencySettings.model_validate(
        {"code": "PUPR", "name": "Dinas PUPR", "sink": sink}
    )


def _redaction_settings(agency: AgencySettings) -> Settings:
    return Settings.model_validate(
        {
            "regency": "tanah-bumbu",
            "agencies": [agency],
            "routing": {"default_agency": agency.code},
        }
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
            found = [(r.idempotency_key, json.loads(r.message)) for r in rows]
            read.meta = [m.get("event", "dispatched") for _k, m in found]
            return found

        yield _agency({"type": "database"}), read

    elif kind == "webhook":
        async with WebhookServer(secret="kunci") as server:

            async def read():
                read.meta = [r.json()["type"] for r in server.requests]
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
            read.meta = [str(mail["Subject"]) for mail in inbox.mails]
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
            read.meta = []
            while (message := await queue.get(fail=False)) is not None:
                await message.ack()
                found.append((message.message_id, json.loads(message.body)))
                read.meta.append(message.type)
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
            read.meta = [f["type"] for _, f in entries]
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
    delivery = built_delivery(
        sessions,
        confidentiality=level,
        clean_text="Saya Siti Rahmawati, HP 0812-3456-7890, NIK 6302011203900004: "
        "jalan berlubang, sudah 3 bulan.",
    )
    try:
        await sink.deliver(delivery)
    finally:
        await sink.close()
    [(_, message)] = await read()
    assert message["reporter"] is None
    assert "siti@warga.example" not in json.dumps(message)
    # the text the agency reads names nobody: the reporter's own name and
    # every phone number and NIK in it are masked
    assert message["text"] == (
        "Saya [identitas disembunyikan], HP [telepon ***890], NIK [NIK ****0004]: "
        "jalan berlubang, sudah 3 bulan."
    )


async def test_a_case_made_anonim_after_delivery_is_redacted_at_the_agency(
    backend, sessions
):
    """The reporter asks for anonymity after the agency got the case: the
    agency gets the documented ``redacted`` event through its own sink (the
    database queue is rewritten in place), with the configured regency in
    its type, and no copy in the queue names the reporter any more."""
    agency, read = backend
    settings = _redaction_settings(agency)
    sink = build_sink(agency, SinkContext(sessions=sessions, regency="tanah-bumbu"))
    engine = sessions.kw["bind"]
    worker = OutboxWorker(engine, sessions, settings, {"PUPR": sink}, {})
    with sessions() as session:
        case = add_case(session)
        add_photo(session, case)
        key = idempotency_key(case, "PUPR")
        outbox.enqueue_agency(session, case, "PUPR", 5, key)
        session.commit()
        case_id = case.id
    try:
        first = await worker.drain_once()
        assert first.outcomes == {"delivered": 1}
        with sessions() as session:
            case = session.get(type(case), case_id)
            change_confidentiality(
                session, case, "anonim", actor="reporter:tg:42", via="/anonim"
            )
            session.commit()
        second = await worker.drain_once()
        assert second.outcomes == {"delivered": 1}
    finally:
        await sink.close()

    arrived = await read()
    for _key, message in arrived:
        assert_valid(message)
    *_, (_redaction_key, redacted) = arrived
    assert redacted["confidentiality"] == "anonim"
    assert redacted["reporter"] is None
    assert "siti@warga.example" not in json.dumps(redacted)
    assert redacted["redaction"]["replaces"] == key
    assert redacted["redaction"]["previous_confidentiality"] == "biasa"
    assert "hapus" in redacted["redaction"]["note"]
    if agency.sink.type == "database":
        # the queue holds the case once, rewritten without the identity
        assert [k for k, _m in arrived] == [key]
        assert read.meta == ["dispatched"]
        return
    assert [k for k, _m in arrived] == [key, f"{key}/redacted/1"]
    assert arrived[0][1]["reporter"]["email"] == "siti@warga.example"
    assert redacted["event"] == "redacted"
    if agency.sink.type == "email":
        assert "Permintaan penghapusan identitas pelapor" in read.meta[-1]
    else:
        assert read.meta == [
            "id.go.tanah-bumbu.dengar.complaint.dispatched",
            "id.go.tanah-bumbu.dengar.complaint.redacted",
        ]
