"""Dispatch throughput: cases through the outbox to each agency sink.

    python -m bench.dispatch                      # the issue's run
    python -m bench.dispatch --cases 1000 --sinks redis,amqp --db sqlite

For each database (SQLite, PostgreSQL), sink (database, redis, amqp, a local
webhook) and worker count, it queues ``--cases`` cases at once into a fresh
database, lets that many ``OutboxWorker`` s drain them concurrently (asyncio
tasks in this process, each claiming for itself), and prints deliveries per
second and the queue latency (outbox row created -> delivered) of the burst:
p50 and p95, and this process's CPU per delivery (the workers; a webhook
receiver runs in its own process), which a busy machine inflates far less
than the rates. ``--sink-only`` adds each sink alone (no database, 100
deliveries in flight; the latency columns are then per delivery). Targets
(issue 7): >= 1,000/s to Redis and RabbitMQ with 4 workers on PostgreSQL,
>= 300/s on SQLite.

Needs the servers of tests/services.py (DENGAR_TEST_POSTGRES_URL, ..._REDIS_URL,
..._AMQP_URL); combinations whose server is missing are reported, not run.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import redis.asyncio as aioredis
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import SQLModel

from config.settings import Settings
from contracts.tracking import new_tracking_no
from dispatcher.sinks.base import Delivery, SinkContext
from dispatcher.sinks.registry import build_sink
from dispatcher.worker import OutboxWorker
from storage.engine import make_engine, session_factory
from storage.tables import ComplaintRow, OutboxRow, utcnow
from tests.fakes.webhook_server import WebhookServer
from tests.services import AMQP_URL, POSTGRES_URL, REDIS_URL, port_open

TEXT = (
    "Jalan di depan SDN 3 Kotabaru berlubang besar sejak banjir bulan lalu, "
    "sudah dua pengendara motor jatuh. Mohon segera diperbaiki."
)


@dataclass
class Result:
    """One line of the table."""

    db: str
    sink: str
    workers: int
    cases: int
    seconds: float = 0.0
    delivered: int = 0
    p50: float = 0.0
    p95: float = 0.0
    cpu: float = 0.0  # CPU seconds of this process (workers, not the sink's server)
    note: str = ""


# --- databases ---------------------------------------------------------------


async def sqlite_db(stack: AsyncExitStack) -> str:
    """A fresh SQLite file, removed afterwards."""
    tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="dengar-bench-"))
    return f"sqlite:///{Path(tmp) / 'bench.db'}"


async def postgres_db(stack: AsyncExitStack) -> str:
    """A fresh PostgreSQL database, dropped afterwards."""
    name = f"dengar_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    stack.callback(drop)
    return make_url(POSTGRES_URL).set(database=name).render_as_string(False)


# --- sinks: each returns the agency's sink settings ---------------------------


async def database_sink(stack: AsyncExitStack) -> dict[str, Any]:
    """Dengar's own agency_queue table."""
    return {"type": "database"}


async def webhook_sink(stack: AsyncExitStack) -> dict[str, Any]:
    """The local webhook receiver of the tests, signature checked, in a
    process of its own: an agency's server is not Dengar's CPU, and in this
    process it would take the time the workers are measured on."""
    spawn = multiprocessing.get_context("spawn")
    urls: Any = spawn.Queue()
    receiver = spawn.Process(target=_receive_webhooks, args=("bench", urls))
    receiver.start()
    stack.callback(receiver.join, 10)
    stack.callback(receiver.terminate)
    url = await asyncio.to_thread(urls.get, True, 30)
    return {"type": "webhook", "url": url, "secret": "bench", "concurrency": 16}


def _receive_webhooks(secret: str, urls: Any) -> None:
    async def serve() -> None:
        async with WebhookServer(secret=secret) as server:
            urls.put(server.url)
            await asyncio.Event().wait()  # until terminated

    asyncio.run(serve())


async def redis_sink(stack: AsyncExitStack) -> dict[str, Any]:
    """A throwaway stream, deleted afterwards."""
    stream = f"dengar-bench:{uuid.uuid4().hex}"
    client = aioredis.Redis.from_url(REDIS_URL)

    async def clean() -> None:
        keys = [k async for k in client.scan_iter(match=f"{stream}*", count=1000)]
        for i in range(0, len(keys), 1000):
            await client.delete(*keys[i : i + 1000])
        await client.aclose()

    stack.push_async_callback(clean)
    return {"type": "redis", "url": REDIS_URL, "stream": stream, "maxlen": None}


async def amqp_sink(stack: AsyncExitStack) -> dict[str, Any]:
    """A throwaway exchange with one bound queue, deleted afterwards."""
    name = f"dengar-bench-{uuid.uuid4().hex[:10]}"
    connection = await aio_pika.connect(AMQP_URL)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(
        name, aio_pika.ExchangeType.TOPIC, durable=True
    )
    queue = await channel.declare_queue(name, durable=True)
    await queue.bind(exchange, "pupr")

    async def clean() -> None:
        await queue.delete(if_unused=False, if_empty=False)
        await exchange.delete()
        await connection.close()

    stack.push_async_callback(clean)
    return {"type": "amqp", "url": AMQP_URL, "exchange": name}


DATABASES: dict[str, tuple[Callable[[AsyncExitStack], Awaitable[str]], str]] = {
    "sqlite": (sqlite_db, ""),
    "postgres": (postgres_db, POSTGRES_URL),
}
SINKS: dict[str, tuple[Callable[[AsyncExitStack], Awaitable[dict[str, Any]]], str]] = {
    "database": (database_sink, ""),
    "redis": (redis_sink, REDIS_URL),
    "amqp": (amqp_sink, AMQP_URL),
    "webhook": (webhook_sink, ""),
}
DEFAULT_PORTS = {POSTGRES_URL: 5432, REDIS_URL: 6379, AMQP_URL: 5672}


# --- one run -------------------------------------------------------------------


def queue_cases(engine: Engine, count: int) -> None:
    """``count`` received cases, each with its outbox row, as one burst."""
    now = utcnow()
    complaints = ComplaintRow.__table__  # type: ignore[attr-defined]
    rows = OutboxRow.__table__  # type: ignore[attr-defined]
    for start in range(0, count, 1000):
        batch = []
        for i in range(start, min(count, start + 1000)):
            batch.append(
                {
                    "kind": "case",
                    "tracking_no": new_tracking_no("ADU"),
                    "channel": "bench",
                    "external_id": f"bench-{i}",
                    "received_at": now,
                    "created_at": now,
                    "reporter_name": "Warga",
                    "reporter_email": f"warga{i}@example.id",
                    "original_text": TEXT,
                    "clean_text": TEXT,
                    "category": "jalan",
                    "confidentiality": "biasa",
                    "status": "received",
                    "agency_code": "PUPR",
                    "raw_format": "text",
                }
            )
        with engine.begin() as conn:
            ids = conn.execute(
                insert(complaints).returning(complaints.c.id, complaints.c.tracking_no),
                batch,
            ).all()
            conn.execute(
                insert(rows),
                [
                    {
                        "kind": "agency",
                        "target": "PUPR",
                        "complaint_id": cid,
                        # the format of dispatcher.message.idempotency_key
                        "idempotency_key": f"{no}/PUPR",
                        "status": "pending",
                        "attempts": 0,
                        "max_attempts": 10,
                        "next_attempt_at": utcnow(),
                        "created_at": utcnow(),
                    }
                    for cid, no in ids
                ],
            )


async def run_one(db: str, sink: str, workers: int, cases: int) -> Result:
    """Queue, drain with ``workers`` workers, measure."""
    result = Result(db, sink, workers, cases)
    async with AsyncExitStack() as stack:
        url = await DATABASES[db][0](stack)
        sink_settings = await SINKS[sink][0](stack)
        engine = make_engine(url)
        stack.callback(engine.dispose)
        SQLModel.metadata.create_all(engine)
        sessions = session_factory(engine)
        settings = Settings.model_validate(
            {
                "database_url": url,
                "agencies": [
                    {"code": "PUPR", "name": "Dinas PUPR", "sink": sink_settings}
                ],
                "routing": {"default_agency": "PUPR"},
                "outbox": {"batch_size": 100, "backoff_base": 0.05, "backoff_max": 0.5},
            }
        )
        queue_cases(engine, cases)
        if engine.dialect.name == "postgresql":
            # the statistics autovacuum keeps for a live table; without them
            # the planner takes the burst just written for an empty table
            with engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        agency = settings.agency("PUPR")
        done = {"delivered": 0, "dead": 0}

        async def work(n: int) -> None:
            sink_obj = build_sink(agency, SinkContext(sessions=sessions))
            worker = OutboxWorker(
                engine, sessions, settings, {"PUPR": sink_obj}, {}, worker=f"bench-{n}"
            )
            try:
                while done["delivered"] + done["dead"] < cases:
                    summary = await worker.drain_once()
                    done["delivered"] += summary.outcomes.get("delivered", 0)
                    done["dead"] += summary.outcomes.get("dead", 0)
                    if not summary.outcomes:
                        await asyncio.sleep(0.01)
            finally:
                await sink_obj.close()

        started = time.perf_counter()
        cpu_started = time.process_time()
        await asyncio.gather(*(work(n) for n in range(workers)))
        result.seconds = time.perf_counter() - started
        result.cpu = time.process_time() - cpu_started
        result.delivered = done["delivered"]
        if done["dead"]:
            result.note = f"{done['dead']} dead"
        table = OutboxRow.__table__  # type: ignore[attr-defined]
        with engine.connect() as conn:
            pairs = conn.execute(
                select(table.c.created_at, table.c.delivered_at).where(
                    table.c.status == "delivered"
                )
            ).all()
        waits = sorted((d - c).total_seconds() for c, d in pairs)
        if waits:
            result.p50 = statistics.median(waits)
            result.p95 = waits[min(len(waits) - 1, int(len(waits) * 0.95))]
    return result


async def run_sink_only(sink: str, cases: int, concurrency: int = 100) -> Result:
    """The sink alone, no database: ``cases`` deliveries, ``concurrency`` at a
    time, to tell the sink's cost from the outbox's."""
    result = Result("-", sink, concurrency, cases, note="sink only")
    async with AsyncExitStack() as stack:
        tmp = await sqlite_db(stack)
        sessions = session_factory(make_engine(tmp))
        SQLModel.metadata.create_all(sessions.kw["bind"])
        settings = Settings.model_validate(
            {
                "agencies": [
                    {
                        "code": "PUPR",
                        "name": "Dinas PUPR",
                        "sink": await SINKS[sink][0](stack),
                    }
                ],
                "routing": {"default_agency": "PUPR"},
            }
        )
        sink_obj = build_sink(settings.agency("PUPR"), SinkContext(sessions=sessions))
        message = {"schema_version": 1, "dengar_id": 1, "text": TEXT}
        gate = asyncio.Semaphore(concurrency)
        waits: list[float] = []

        async def one(i: int) -> None:
            async with gate:
                began = time.perf_counter()
                await sink_obj.deliver(
                    Delivery(
                        f"ADU-BNCH-{i:04d}/PUPR", "PUPR", {**message, "dengar_id": i}
                    )
                )
                waits.append(time.perf_counter() - began)

        started = time.perf_counter()
        try:
            await asyncio.gather(*(one(i) for i in range(cases)))
        finally:
            await sink_obj.close()
        result.seconds = time.perf_counter() - started
        result.delivered = len(waits)
        waits.sort()
        result.p50 = statistics.median(waits)
        result.p95 = waits[min(len(waits) - 1, int(len(waits) * 0.95))]
    return result


def print_table(results: list[Result]) -> None:
    """The results, one line per combination."""
    head = (
        f"{'db':9} {'sink':9} {'workers':>7} {'cases':>7} {'delivered/s':>12} "
        f"{'p50 s':>8} {'p95 s':>8} {'CPU ms':>7}  note"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        rate = f"{r.delivered / r.seconds:,.0f}" if r.seconds else "-"
        cpu = f"{1000 * r.cpu / r.delivered:.2f}" if r.cpu and r.delivered else "-"
        line = (
            f"{r.db:9} {r.sink:9} {r.workers:>7} {r.cases:>7} {rate:>12} "
            f"{r.p50:>8.2f} {r.p95:>8.2f} {cpu:>7}  {r.note}"
        )
        print(line.rstrip())


def main() -> None:
    """Parse the options, run every combination, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--sinks", default="database,redis,amqp,webhook")
    parser.add_argument("--workers", default="1,4")
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument(
        "--sink-only",
        action="store_true",
        help="also time each sink alone (100 concurrent deliveries, no outbox)",
    )
    args = parser.parse_args()
    results: list[Result] = []
    if args.sink_only:
        for sink in args.sinks.split(","):
            if sink != "database":  # that one is the outbox's own database
                results.append(asyncio.run(run_sink_only(sink, args.cases)))
    for db in args.db.split(","):
        for sink in args.sinks.split(","):
            for workers in (int(w) for w in args.workers.split(",")):
                missing = [
                    u
                    for u in (DATABASES[db][1], SINKS[sink][1])
                    if u and not port_open(u, DEFAULT_PORTS[u])
                ]
                if missing:
                    results.append(
                        Result(db, sink, workers, args.cases, note="server missing")
                    )
                    continue
                results.append(asyncio.run(run_one(db, sink, workers, args.cases)))
                # progress to stderr: stdout is the table (bench.readme keeps it)
                print(f"  done: {db} {sink} x{workers}", file=sys.stderr, flush=True)
    print_table(results)


if __name__ == "__main__":
    main()
