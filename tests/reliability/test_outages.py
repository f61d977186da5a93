"""Outages while ``dengar run`` keeps running: the problem shows in
``dengar status``, and once the remote is back everything catches up with
nothing lost or doubled."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import ParseResult, urlparse

import pytest

from tests.fakes.postgres_server import running_postgres
from tests.fakes.webhook_server import WebhookServer
from tests.reliability.harness import (
    REPO,
    DengarProcess,
    all_delivered,
    assert_each_case_queued_once,
    config_text,
    expected_agency_keys,
    lock_sqlite,
    make_maildir,
    not_stored_once,
    query,
    stored_count,
    wait_until,
    write_mail,
)
from tests.reliability.proxy import CuttableProxy
from tests.services import free_port, need_amqp, need_redis

pytestmark = pytest.mark.slow


def _status(config) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "dengar", "--config", str(config), "status", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    report: dict = json.loads(out.stdout)
    return report


async def _proxy_to(url: str, default_port: int) -> tuple[ParseResult, CuttableProxy]:
    parsed = urlparse(url.replace("+psycopg", ""))
    proxy = CuttableProxy(parsed.hostname or "127.0.0.1", parsed.port or default_port)
    return parsed, await proxy.start()


async def test_a_webhook_answering_500_for_a_while_delays_but_loses_nothing(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'dengar.db'}"
    maildir = make_maildir(tmp_path / "inbox")
    ids = [write_mail(maildir, f"o{i}") for i in range(8)]
    async with WebhookServer(secret="s3cret") as hook:
        hook.fail_next(500, times=10_000)  # down until we say so
        config = tmp_path / "dengar.yaml"
        text = config_text(db_url, maildirs=[maildir], webhook_url=hook.url)
        config.write_text(text.replace("timeout: 2}", "timeout: 2, max_attempts: 100}"))
        proc = await DengarProcess(config).start()
        assert await wait_until(lambda: stored_count(db_url) >= len(ids), 60)
        assert await wait_until(lambda: len(hook.requests) >= 2 * len(ids), 60)
        # (in a thread: the webhook server shares this event loop)
        expected = await asyncio.to_thread(expected_agency_keys, db_url)
        during = await asyncio.to_thread(_status, config)
        assert during["deliveries"]["delivered"] == 0
        waiting = during["deliveries"]["pending"] + during["deliveries"]["in_flight"]
        assert waiting == len(expected)
        errors = await asyncio.to_thread(
            query, db_url, "SELECT DISTINCT last_error FROM outbox"
        )
        assert any("500" in (e or "") for (e,) in errors), errors

        hook._plan.clear()  # the agency is back
        assert await wait_until(
            lambda: _status(config)["deliveries"]["delivered"] == len(expected), 60
        )
        assert proc.proc.returncode is None, "the service stopped during the outage"
        assert await proc.stop(20) == 0
    # each case accepted once by the agency, under one idempotency key
    assert len(hook.accepted_ids) == len(set(hook.accepted_ids))
    assert set(hook.accepted_ids) == expected
    assert hook.duplicates == []


@pytest.mark.postgres
async def test_postgresql_cut_mid_stream_keeps_running_and_catches_up(
    tmp_path, postgres_url
):
    parsed, proxy = await _proxy_to(postgres_url, 5432)
    via_proxy = postgres_url.replace(
        f"@{parsed.hostname}:{parsed.port}", f"@127.0.0.1:{proxy.port}"
    )
    assert via_proxy != postgres_url
    maildir = make_maildir(tmp_path / "inbox")
    ids = [write_mail(maildir, f"pg{i}") for i in range(10)]
    config = tmp_path / "dengar.yaml"
    config.write_text(config_text(via_proxy, maildirs=[maildir], batch_size=3))
    proc = await DengarProcess(config).start()
    try:
        assert await wait_until(lambda: stored_count(postgres_url) >= 10, 60)
        await proxy.cut()  # mid-stream: mails keep arriving
        ids += [write_mail(maildir, f"pg-cut{i}") for i in range(10)]
        await asyncio.sleep(4)
        assert proc.proc.returncode is None, "the database outage stopped Dengar"
        proxy.restore()
        assert await wait_until(lambda: stored_count(postgres_url) >= 20, 90)
        assert await wait_until(lambda: all_delivered(postgres_url), 60)
        assert await proc.stop(20) == 0
    finally:
        await proc.kill()
        await proxy.stop()
    log = (tmp_path / "dengar.log").read_text()
    assert "OperationalError" in log  # the operator sees the outage in the log
    assert not_stored_once(postgres_url, ids) == []
    assert_each_case_queued_once(postgres_url)


@pytest.mark.postgres
async def test_postgresql_crashed_and_restarted_mid_batch_loses_and_doubles_nothing(
    tmp_path,
):
    with running_postgres() as server:
        url = server.url
        maildir = make_maildir(tmp_path / "inbox")
        ids: list[str] = []

        async def arriving() -> None:
            # a steady trickle, so the crash lands on batches in flight
            for i in range(200):
                ids.append(write_mail(maildir, f"crash{i}"))
                await asyncio.sleep(0.03)

        config = tmp_path / "dengar.yaml"
        config.write_text(config_text(url, maildirs=[maildir], batch_size=3))
        proc = await DengarProcess(config).start()
        feeder = asyncio.ensure_future(arriving())
        try:
            assert await wait_until(lambda: stored_count(url) >= 10, 60)
            # the server crashes: it rolls back every open transaction
            await asyncio.to_thread(server.stop, "immediate")
            down = await asyncio.to_thread(_status_failure, config)
            assert "Cannot open the database" in down
            assert "Connection refused" in down
            await asyncio.sleep(2)
            assert proc.proc.returncode is None, "the database crash stopped Dengar"
            await asyncio.to_thread(server.start)
            await feeder
            assert await wait_until(lambda: stored_count(url) >= len(ids), 90)
            assert await wait_until(lambda: all_delivered(url), 60)
            assert await proc.stop(20) == 0
        finally:
            feeder.cancel()
            await proc.kill()
        log = (tmp_path / "dengar.log").read_text()
        # the operator sees the outage and its end, once each, not a flood
        assert log.count("database unavailable (OperationalError") == 1, log
        assert "database available again after" in log
        assert log.count("Traceback") == 0
        assert not_stored_once(url, ids) == []
        assert not list(maildir.joinpath("new").iterdir())  # every mail moved on
        assert_each_case_queued_once(url)


def _status_failure(config) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "dengar", "--config", str(config), "status"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0
    return out.stdout + out.stderr


@pytest.mark.redis
async def test_redis_unreachable_then_back_delivers_every_case_once(tmp_path):
    import redis

    redis_url = need_redis()
    parsed, proxy = await _proxy_to(redis_url, 6379)
    await proxy.cut()  # down from the start
    stream = f"dengar-test:{uuid.uuid4().hex[:8]}"
    via_proxy = f"redis://127.0.0.1:{proxy.port}{parsed.path or '/15'}"
    sink = f"{{type: redis, url: '{via_proxy}', stream: '{stream}', max_attempts: 100}}"
    db_url, config = _pupr_mails_through(tmp_path, sink, "r")
    client = redis.Redis.from_url(redis_url)
    proc = await DengarProcess(config).start()
    try:
        expected = await _broker_down_then_back(proc, db_url, config, proxy, mails=6)
        entries = client.xrange(stream)
        keys = [fields[b"idempotency_key"].decode() for _, fields in entries]
        assert len(keys) == len(set(keys))
        assert set(keys) == expected
    finally:
        await proc.kill()
        await proxy.stop()
        for key in client.scan_iter(f"{stream}*"):
            client.delete(key)
        client.close()


async def test_sqlite_locked_by_another_process_waits_then_catches_up(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'dengar.db'}"
    maildir = make_maildir(tmp_path / "inbox")
    ids = [write_mail(maildir, f"s{i}") for i in range(5)]
    config = tmp_path / "dengar.yaml"
    config.write_text(config_text(db_url, maildirs=[maildir]))
    proc = await DengarProcess(config).start()
    try:
        assert await wait_until(lambda: stored_count(db_url) >= 5, 60)
        locker = await lock_sqlite(tmp_path / "dengar.db", 6)
        ids += [write_mail(maildir, f"s-locked{i}") for i in range(5)]
        await asyncio.sleep(2)
        # nothing could be written meanwhile (readers still work in WAL mode)
        assert stored_count(db_url) == 5
        assert proc.proc.returncode is None
        await locker.wait()
        assert await wait_until(lambda: stored_count(db_url) >= 10, 60)
        assert await proc.stop(20) == 0
    finally:
        await proc.kill()
    assert not_stored_once(db_url, ids) == []


@pytest.mark.dovecot
async def test_imap_server_down_shows_in_status_and_mail_arrives_once_when_back(
    tmp_path,
):
    from tests.fakes.dovecot import PASSWORD, running_dovecot
    from tests.reliability.storm import _append, imap_mail

    db_url = f"sqlite:///{tmp_path / 'dengar.db'}"
    with running_dovecot() as dovecot:
        config = tmp_path / "dengar.yaml"
        config.write_text(
            config_text(
                db_url,
                imap=(dovecot.host, dovecot.port, "down", PASSWORD),
                smtp_port=free_port(),  # acks fail and are retried; not the point
            )
        )
        for i in range(3):
            _append(dovecot, "down", imap_mail(1, i))
        proc = await DengarProcess(config).start()
        try:
            assert await wait_until(lambda: stored_count(db_url) >= 3, 60)
            dovecot.stop()

            def unhealthy() -> bool:
                [channel] = _status(config)["channels"]
                return not channel["healthy"] and bool(channel["last_error"])

            assert await wait_until(unhealthy, 60)
            assert proc.proc.returncode is None
            dovecot.start()
            for i in range(3, 6):
                _append(dovecot, "down", imap_mail(1, i))

            def healthy_and_caught_up() -> bool:
                [channel] = _status(config)["channels"]
                return channel["healthy"] and stored_count(db_url) >= 6

            assert await wait_until(healthy_and_caught_up, 120)
            assert await proc.stop(20) == 0
        finally:
            await proc.kill()
    sent = [f"<imap1-{i}@example.org>" for i in range(6)]
    assert not_stored_once(db_url, sent) == []


@pytest.mark.rabbitmq
async def test_rabbitmq_unreachable_then_back_delivers_every_case_once(tmp_path):
    import aio_pika

    amqp_url = need_amqp()
    parsed, proxy = await _proxy_to(amqp_url, 5672)
    await proxy.cut()  # down from the start
    exchange = f"dengar-test-{uuid.uuid4().hex[:10]}"
    via_proxy = parsed._replace(
        netloc=f"{parsed.username}:{parsed.password}@127.0.0.1:{proxy.port}"
    ).geturl()
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    topic = await channel.declare_exchange(
        exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )
    queue = await channel.declare_queue(f"{exchange}-pupr")
    await queue.bind(topic, "pupr")
    sink = (
        f"{{type: amqp, url: '{via_proxy}', exchange: '{exchange}', max_attempts: 100}}"
    )
    db_url, config = _pupr_mails_through(tmp_path, sink, "q")
    proc = await DengarProcess(config).start()
    try:
        expected = await _broker_down_then_back(proc, db_url, config, proxy, mails=6)
        keys = []
        while (message := await queue.get(fail=False)) is not None:
            keys.append(message.message_id)
            await message.ack()
        # at least once over a broken link; the key makes it once in effect
        assert set(keys) == expected
    finally:
        await proc.kill()
        await proxy.stop()
        await queue.delete(if_unused=False, if_empty=False)
        await topic.delete()
        await connection.close()


def _pupr_mails_through(tmp_path: Path, sink: str, tag: str) -> tuple[str, Path]:
    """Six mails for PUPR waiting in a Maildir, and the database url and
    configuration that deliver PUPR's cases through ``sink``."""
    db_url = f"sqlite:///{tmp_path / 'dengar.db'}"
    maildir = make_maildir(tmp_path / "inbox")
    for i in range(6):
        write_mail(maildir, f"{tag}{i}")  # "jalan": PUPR
    config = tmp_path / "dengar.yaml"
    config.write_text(config_text(db_url, maildirs=[maildir], pupr_sink=sink))
    return db_url, config


async def _broker_down_then_back(proc, db_url, config, proxy, *, mails: int):
    """With the agency's broker cut off: every case stored, every delivery
    retried and failing with its reason, the service up; then the link is
    restored and everything is delivered. Returns the keys the agency must
    have received (each once in effect)."""
    assert await wait_until(lambda: stored_count(db_url) >= mails, 60)
    expected = await asyncio.to_thread(expected_agency_keys, db_url)
    assert await wait_until(
        lambda: (
            query(db_url, "SELECT count(*) FROM outbox WHERE attempts >= 2")[0][0]
            >= len(expected)
        ),
        60,
    )
    during = await asyncio.to_thread(_status, config)
    assert during["deliveries"]["delivered"] == 0
    errors = await asyncio.to_thread(
        query, db_url, "SELECT DISTINCT last_error FROM outbox"
    )
    assert all(e for (e,) in errors), errors  # each says what failed
    assert proc.proc.returncode is None, "the broker outage stopped Dengar"
    proxy.restore()
    assert await wait_until(
        lambda: _status(config)["deliveries"]["delivered"] == len(expected), 90
    )
    assert await proc.stop(20) == 0
    return expected
