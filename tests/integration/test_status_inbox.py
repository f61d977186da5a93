"""Status messages an agency sends back, read from real RabbitMQ and Redis:
applied and committed before the ack, bad ones set aside, repeats no-ops."""

from __future__ import annotations

import json
import uuid

import aio_pika
import pytest
import redis.asyncio as aioredis
from sqlmodel import select

from config.settings import Settings
from dengar.app import App
from dispatcher.status_inbox import (
    InboxSummary,
    StatusInboxError,
    consume_once,
    has_status_inbox,
)
from storage.tables import AuditEvent, ComplaintRow, OutboxRow, StatusEvent
from tests.integration.sink_helpers import remove_stream
from tests.services import free_port, need_amqp, need_redis
from tests.unit.dispatcher.test_message_schema import add_case

MESSAGE = "Tim sudah ke lokasi"  # for the reporter
NOTE = "regu 2, alat berat besok"  # internal: never reaches the reporter


def _settings(tmp_path, sink: dict) -> Settings:
    return Settings.model_validate(
        {
            "database_url": f"sqlite:///{tmp_path / 'dengar.db'}",
            "tracking_prefix": "ADU",
            "agencies": [{"code": "PUPR", "name": "Dinas PUPR", "sink": sink}],
            "routing": {"default_agency": "PUPR"},
            # a channel that can reply (never contacted: nothing is sent here)
            "channels": [
                {
                    "type": "telegram",
                    "name": "bot",
                    "token": "123456:TEST-token_for-the-emulator",
                    "api_base_url": f"http://127.0.0.1:{free_port()}",
                }
            ],
        }
    )


def _open(settings: Settings) -> tuple[App, list[str]]:
    """The app and two dispatched PUPR cases reported on the bot."""
    app = App.open(settings)
    numbers = []
    with app.sessions() as session:
        for chat in ("5550001", "5550002"):
            case = add_case(
                session,
                channel="bot",
                reporter_chat_id=chat,
                reporter_email=None,
                raw_format="json",
            )
            numbers.append(case.tracking_no or "")
        session.commit()
    return app, numbers


def _message(number: str, status: str = "in_progress", note: str | None = NOTE):
    return json.dumps(
        {"tracking_no": number, "status": status, "message": MESSAGE, "note": note}
    )


def _state(app: App, number: str) -> tuple[str, int, int]:
    """(status, status events, queued replies) of the case ``number``."""
    with app.sessions() as session:
        case = session.exec(
            select(ComplaintRow).where(ComplaintRow.tracking_no == number)
        ).one()
        events = session.exec(
            select(StatusEvent).where(StatusEvent.complaint_id == case.id)
        ).all()
        replies = session.exec(
            select(OutboxRow).where(
                OutboxRow.complaint_id == case.id, OutboxRow.kind == "reply"
            )
        ).all()
        if events:
            assert (events[-1].status, events[-1].note) == (case.status, NOTE)
            assert events[-1].actor == "agency:PUPR"
        for reply in replies:
            assert reply.target == "bot"
            assert reply.recipient == case.reporter_chat_id
            assert MESSAGE in (reply.payload or "")
            assert NOTE not in (reply.payload or "")
        return case.status, len(events), len(replies)


def _audited(app: App) -> list[tuple[str, str, str | None, str | None]]:
    """The audit log admins read at /audit: (actor, action, case, change)."""
    with app.sessions() as session:
        return [
            (e.actor, e.action, e.target, e.detail)
            for e in session.exec(select(AuditEvent)).all()
        ]


# --- RabbitMQ -------------------------------------------------------------------


@pytest.fixture
async def amqp(tmp_path):
    """(app, case numbers, publish, channel, queue name); queues removed after."""
    url = need_amqp()
    name = f"dengar-test-status-{uuid.uuid4().hex[:12]}"
    settings = _settings(
        tmp_path, {"type": "amqp", "url": url, "exchange": name, "status_queue": name}
    )
    app, numbers = _open(settings)
    connection = await aio_pika.connect(url)
    channel = await connection.channel()

    async def publish(body: str | bytes) -> None:
        data = body.encode() if isinstance(body, str) else body
        await channel.default_exchange.publish(aio_pika.Message(data), routing_key=name)

    # the queue is Dengar's to declare: a first empty run does it
    assert await consume_once(app, settings.agencies[0], wait_seconds=0.1) == (
        InboxSummary()
    )
    yield app, numbers, publish, channel, name
    for queue in (name, f"{name}.dead"):
        await channel.queue_delete(queue)
    await connection.close()
    await app.close()


async def _depth(channel, name: str) -> int:
    queue = await channel.declare_queue(name, passive=True)
    return queue.declaration_result.message_count or 0


@pytest.mark.rabbitmq
async def test_amqp_status_is_applied_then_acked(amqp):
    app, [number, _], publish, channel, name = amqp
    agency = app.settings.agencies[0]
    assert has_status_inbox(agency)
    await publish(_message(number))
    summary = await consume_once(app, agency, wait_seconds=0.5)
    assert (summary.applied, summary.repeated, summary.dead) == (1, 0, 0)
    assert _state(app, number) == ("in_progress", 1, 1)
    assert _audited(app) == [
        ("agency:PUPR", "case_status", number, "dispatched -> in_progress")
    ]
    assert await _depth(channel, name) == 0
    assert await _depth(channel, f"{name}.dead") == 0


@pytest.mark.rabbitmq
async def test_amqp_bad_message_is_dead_lettered_and_the_rest_applied(amqp):
    app, [first, second], publish, channel, name = amqp
    agency = app.settings.agencies[0]
    await publish(b"\xff not json")
    await publish(_message("ADU-0000-0000"))  # no such case
    await publish(_message(first))
    await publish(_message(second))
    summary = await consume_once(app, agency, wait_seconds=0.5)
    assert (summary.applied, summary.dead) == (2, 2)
    assert _state(app, first) == ("in_progress", 1, 1)
    assert _state(app, second) == ("in_progress", 1, 1)
    assert await _depth(channel, name) == 0
    dead = await channel.declare_queue(f"{name}.dead", passive=True)
    bodies = []
    while (message := await dead.get(fail=False)) is not None:
        bodies.append(message.body)
        await message.ack()
    assert bodies == [b"\xff not json", _message("ADU-0000-0000").encode()]


@pytest.mark.rabbitmq
async def test_amqp_redelivery_changes_nothing(amqp):
    app, [number, _], publish, channel, name = amqp
    agency = app.settings.agencies[0]
    await publish(_message(number))
    await publish(_message(number))  # what a crash between commit and ack gives
    summary = await consume_once(app, agency, wait_seconds=0.5)
    assert (summary.applied, summary.repeated, summary.dead) == (1, 1, 0)
    assert _state(app, number) == ("in_progress", 1, 1)
    assert await _depth(channel, name) == 0


@pytest.mark.rabbitmq
async def test_amqp_crash_between_commit_and_ack_redelivers_as_a_no_op(
    amqp, monkeypatch
):
    app, [number, _], publish, channel, name = amqp
    agency = app.settings.agencies[0]
    await publish(_message(number))

    async def lost(self, multiple=False):
        raise ConnectionResetError("connection lost before the ack")

    with monkeypatch.context() as patch:
        patch.setattr(aio_pika.IncomingMessage, "ack", lost)
        with pytest.raises(StatusInboxError, match="ConnectionResetError"):
            await consume_once(app, agency, wait_seconds=0.5)
    assert _state(app, number) == ("in_progress", 1, 1)  # committed
    summary = await consume_once(app, agency, wait_seconds=0.5)  # redelivered
    assert (summary.applied, summary.repeated) == (0, 1)
    assert _state(app, number) == ("in_progress", 1, 1)
    assert await _depth(channel, name) == 0


@pytest.mark.rabbitmq
async def test_amqp_max_messages_leaves_the_rest_queued(amqp):
    app, [first, second], publish, channel, name = amqp
    agency = app.settings.agencies[0]
    await publish(_message(first))
    await publish(_message(second))
    summary = await consume_once(app, agency, max_messages=1, wait_seconds=0.5)
    assert summary.handled == 1
    assert _state(app, first)[0] == "in_progress"
    assert _state(app, second)[0] == "dispatched"
    assert await _depth(channel, name) == 1
    assert (await consume_once(app, agency, wait_seconds=0.5)).applied == 1
    assert _state(app, second)[0] == "in_progress"


@pytest.mark.rabbitmq
async def test_amqp_queue_declared_without_dead_letters_is_a_clear_error(tmp_path):
    url = need_amqp()
    name = f"dengar-test-status-{uuid.uuid4().hex[:12]}"
    settings = _settings(tmp_path, {"type": "amqp", "url": url, "status_queue": name})
    app = App.open(settings)
    connection = await aio_pika.connect(url)
    channel = await connection.channel()
    await channel.declare_queue(name, durable=True)  # the agency made it itself
    try:
        with pytest.raises(StatusInboxError, match="PRECONDITION_FAILED"):
            await consume_once(app, settings.agencies[0], wait_seconds=0.1)
    finally:
        for queue in (name, f"{name}.dead"):
            await channel.queue_delete(queue)
        await connection.close()
        await app.close()


# --- Redis ----------------------------------------------------------------------


@pytest.fixture
async def redis_inbox(tmp_path):
    """(app, case numbers, client, stream); every key of the stream removed after."""
    url = need_redis()
    stream = f"dengar-test:status:{uuid.uuid4().hex}"
    settings = _settings(
        tmp_path,
        {"type": "redis", "url": url, "stream": f"{stream}:o", "status_stream": stream},
    )
    app, numbers = _open(settings)
    client = aioredis.Redis.from_url(url, decode_responses=True)
    yield app, numbers, client, stream
    await remove_stream(client, stream)
    await app.close()


async def _pending(client, stream: str) -> int:
    info = await client.xpending(stream, "dengar")
    return int(info["pending"])


@pytest.mark.redis
async def test_redis_status_is_applied_then_acked(redis_inbox):
    app, [number, _], client, stream = redis_inbox
    agency = app.settings.agencies[0]
    assert has_status_inbox(agency)
    await client.xadd(stream, {"message": _message(number)})
    summary = await consume_once(app, agency, wait_seconds=0.2)
    assert (summary.applied, summary.repeated, summary.dead) == (1, 0, 0)
    assert _state(app, number) == ("in_progress", 1, 1)
    assert _audited(app) == [
        ("agency:PUPR", "case_status", number, "dispatched -> in_progress")
    ]
    assert await _pending(client, stream) == 0
    assert await client.exists(f"{stream}:dead") == 0


@pytest.mark.redis
async def test_redis_bad_entries_go_to_the_dead_stream_and_the_rest_apply(
    redis_inbox,
):
    app, [first, second], client, stream = redis_inbox
    agency = app.settings.agencies[0]
    await client.xadd(stream, {"message": "not json"})
    await client.xadd(stream, {"body": _message(first)})  # wrong field
    await client.xadd(stream, {"message": _message(first)})
    await client.xadd(stream, {"message": _message(second, status="closed")})
    await client.xadd(stream, {"message": _message(second)})
    summary = await consume_once(app, agency, wait_seconds=0.2)
    assert (summary.applied, summary.dead) == (2, 3)
    assert _state(app, first) == ("in_progress", 1, 1)
    assert _state(app, second) == ("in_progress", 1, 1)
    assert await _pending(client, stream) == 0
    dead = [fields for _id, fields in await client.xrange(f"{stream}:dead")]
    assert len(dead) == 3
    assert dead[0]["reason"].startswith("the status message is not JSON")
    assert dead[0]["message"] == "not json"
    assert dead[1]["reason"] == "the entry has no 'message' field"
    assert "cannot set 'closed'" in dead[2]["reason"]
    assert all(d["entry_id"] for d in dead)


@pytest.mark.redis
async def test_redis_redelivery_changes_nothing(redis_inbox):
    app, [number, _], client, stream = redis_inbox
    agency = app.settings.agencies[0]
    await client.xadd(stream, {"message": _message(number)})
    await client.xadd(stream, {"message": _message(number)})
    summary = await consume_once(app, agency, wait_seconds=0.2)
    assert (summary.applied, summary.repeated) == (1, 1)
    assert _state(app, number) == ("in_progress", 1, 1)
    assert len(_audited(app)) == 1  # the repeat is no second change
    assert await _pending(client, stream) == 0


@pytest.mark.redis
async def test_redis_entry_of_a_crashed_reader_is_reclaimed(redis_inbox):
    app, [number, _], client, stream = redis_inbox
    agency = app.settings.agencies[0]
    await consume_once(app, agency, wait_seconds=0.05)  # creates the group
    await client.xadd(stream, {"message": _message(number)})
    # a reader took it and died before the commit: pending, never acked
    await client.xreadgroup("dengar", "crashed", {stream: ">"}, count=1)
    assert (await consume_once(app, agency, wait_seconds=0.05)).handled == 0
    assert await _pending(client, stream) == 1
    # an hour later (idle time set as if), the next run takes it over
    [(entry_id, _)] = await client.xrange(stream)
    await client.xclaim(stream, "dengar", "crashed", 0, [entry_id], idle=3_600_000)
    summary = await consume_once(app, agency, wait_seconds=0.05)
    assert (summary.reclaimed, summary.applied) == (1, 1)
    assert _state(app, number) == ("in_progress", 1, 1)
    assert await _pending(client, stream) == 0


@pytest.mark.redis
async def test_redis_crash_between_commit_and_ack_is_a_no_op_when_reclaimed(
    redis_inbox, monkeypatch
):
    app, [number, _], client, stream = redis_inbox
    agency = app.settings.agencies[0]
    await client.xadd(stream, {"message": _message(number)})

    async def lost(self, *args):
        raise aioredis.ConnectionError("connection lost before the ack")

    with monkeypatch.context() as patch:
        patch.setattr(aioredis.Redis, "xack", lost)
        with pytest.raises(StatusInboxError, match="ConnectionError"):
            await consume_once(app, agency, wait_seconds=0.05)
    assert _state(app, number) == ("in_progress", 1, 1)  # committed
    assert await _pending(client, stream) == 1
    [(entry_id, _)] = await client.xrange(stream)
    await client.xclaim(stream, "dengar", "dengar", 0, [entry_id], idle=3_600_000)
    summary = await consume_once(app, agency, wait_seconds=0.05)
    assert (summary.reclaimed, summary.applied, summary.repeated) == (1, 0, 1)
    assert _state(app, number) == ("in_progress", 1, 1)
    assert await _pending(client, stream) == 0


# --- either broker --------------------------------------------------------------


@pytest.mark.parametrize(
    ("down", "inbox", "name"),
    [
        pytest.param(
            "amqp://guest:topsecret@127.0.0.1:{port}/",
            {"type": "amqp", "status_queue": "dengar-status"},
            "dengar-status",
            marks=pytest.mark.rabbitmq,
            id="amqp",
        ),
        pytest.param(
            "redis://:topsecret@127.0.0.1:{port}/15",
            {"type": "redis", "status_stream": "dengar:status"},
            "dengar:status",
            marks=pytest.mark.redis,
            id="redis",
        ),
    ],
)
async def test_broker_down_is_a_clear_error_without_the_password(
    tmp_path, down, inbox, name
):
    settings = _settings(tmp_path, inbox | {"url": down.format(port=free_port())})
    app = App.open(settings)
    try:
        with pytest.raises(StatusInboxError) as caught:
            await consume_once(app, settings.agencies[0], wait_seconds=0.1)
    finally:
        await app.close()
    assert "topsecret" not in str(caught.value)
    assert name in str(caught.value)


async def test_an_agency_without_an_inbox_is_refused(tmp_path):
    settings = _settings(tmp_path, {"type": "database"})
    assert not has_status_inbox(settings.agencies[0])
    with pytest.raises(ValueError, match="no status queue"):
        await consume_once(None, settings.agencies[0])  # type: ignore[arg-type]
