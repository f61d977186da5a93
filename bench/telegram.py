"""Benchmark: the Telegram channel through the whole of Dengar.

Drives the local Bot API emulator (tests/fakes/telegram_api.py) with
N updates from M chats (default 10,000 from 1,000), runs the real
``TelegramChannel`` + pipeline + outbox worker on SQLite, and prints, in the
same run:

- updates/s stored (first getUpdates to the last update committed);
- p50/p95/max latency from getUpdates handing an update out to its
  acknowledgement reaching the emulator;
- CPU per update of Dengar and, apart, of the emulator (which runs in a
  thread of its own, ``bench.emulator_thread``).

Targets (issue 4): >= 300 updates/s, p95 <= 1 s on SQLite.

    python -m bench.telegram [--updates 10000] [--chats 1000]
        [--session-minutes 10] [--drain interleaved|concurrent]

``--drain concurrent`` runs the outbox in its own loop beside polling, as the
scheduler does; on SQLite the poller's back-to-back write transactions can
starve the drain's claim, which this mode shows.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from sqlmodel import func, select

from bench.emulator_thread import measured
from config.channel_settings import TelegramChannelSettings
from dengar.app import App
from dengar.runner import Runner
from storage.tables import ComplaintRow
from tests.fakes.telegram_api import FakeTelegramApi, bot_settings


async def bench(
    updates: int,
    chats: int,
    session_minutes: float,
    drain_mode: str,
    db: Path,
    batch_size: int = 100,
    cpu: dict[str, float] | None = None,
) -> None:
    """Run the benchmark and print the table; ``cpu`` receives the CPU
    seconds of Dengar (``"dengar"``) and of the emulator (``"emulator"``)
    while the updates were processed."""
    async with measured(FakeTelegramApi().running) as (api, emulator):
        origin: dict[tuple[int, int], int] = {}
        for n in range(updates):
            chat = 10_000 + n % chats
            update = await emulator.call(
                api.push_message(chat, f"Laporan {n}: jalan rusak di RT {n}")
            )
            message = update["message"]
            origin[(chat, message["message_id"])] = update["update_id"]
        settings = bot_settings(
            api,
            f"sqlite:///{db}",
            batch_size=batch_size,
            session_minutes=session_minutes,
        )
        app = App.open(settings)
        runner = Runner(app)
        stored_at = 0.0
        polling_done = asyncio.Event()

        async def poll() -> None:
            nonlocal stored_at
            for _ in range(updates):  # a bound, in case the channel fails
                handed_out = len(api.delivered_at)
                await runner.poll("bot", max_batches=1)
                if len(api.delivered_at) > handed_out:
                    stored_at = time.monotonic()
                elif not api.updates:
                    break  # everything stored and confirmed
            polling_done.set()

        async def drain() -> None:
            while True:
                summary = await app.worker.drain_once()
                if not summary.outcomes:
                    if polling_done.is_set():
                        return
                    await asyncio.sleep(0.01)

        async def interleaved() -> None:
            nonlocal stored_at
            for _ in range(updates):
                handed_out = len(api.delivered_at)
                await runner.poll("bot", max_batches=1)
                if len(api.delivered_at) > handed_out:
                    stored_at = time.monotonic()
                elif not api.updates:
                    break
                await app.worker.drain_all()

        started = time.monotonic()
        cpu_start, emulator_start = time.process_time(), emulator.cpu()
        if drain_mode == "concurrent":
            await asyncio.gather(poll(), drain())
        else:
            await interleaved()
        await app.worker.drain_all()
        emulator_cpu = emulator.cpu() - emulator_start
        # the process's CPU counts every thread: the emulator's is its own
        dengar_cpu = time.process_time() - cpu_start - emulator_cpu
        with app.sessions() as session:
            cases = session.exec(
                select(func.count())
                .select_from(ComplaintRow)
                .where(ComplaintRow.kind == "case")
            ).one()
            records = session.exec(select(func.count()).select_from(ComplaintRow)).one()
        await app.close()

    latencies = []
    for sent in api.sent:
        update_id = origin.get((sent.chat_id, sent.reply_to_message_id or -1))
        if update_id is not None and update_id in api.delivered_at:
            latencies.append(sent.at - api.delivered_at[update_id])
    elapsed = stored_at - started
    rate = records / elapsed if elapsed > 0 else float("nan")
    rows = [
        ("updates pushed", f"{updates}"),
        ("chats", f"{chats}"),
        ("outbox drain", drain_mode),
        ("records stored", f"{records}"),
        ("cases", f"{cases}"),
        ("replies sent", f"{len(api.sent)}"),
        ("ingest time (s)", f"{elapsed:.2f}"),
        ("updates/s stored", f"{rate:.0f}  (target >= 300)"),
        ("dengar CPU ms/update", f"{dengar_cpu / updates * 1000:.2f}"),
        ("emulator CPU ms/update", f"{emulator_cpu / updates * 1000:.2f}"),
    ]
    if cpu is not None:
        cpu.update(dengar=dengar_cpu, emulator=emulator_cpu)
    if latencies:
        latencies.sort()
        p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
        rows += [
            ("replies measured", f"{len(latencies)}"),
            ("latency p50 (s)", f"{statistics.median(latencies):.3f}"),
            ("latency p95 (s)", f"{p95:.3f}  (target <= 1)"),
            ("latency max (s)", f"{latencies[-1]:.3f}"),
        ]
    width = max(len(k) for k, _ in rows)
    print(f"{'metric':<{width}}  value")
    print(f"{'-' * width}  {'-' * 24}")
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--chats", type=int, default=1_000)
    parser.add_argument(
        "--session-minutes",
        type=float,
        default=10,
        help="0 makes every update its own case (one ack each)",
    )
    parser.add_argument(
        "--drain",
        choices=["interleaved", "concurrent"],
        default="interleaved",
        help="interleaved: drain the outbox after each stored batch; "
        "concurrent: a separate drain loop beside polling",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=TelegramChannelSettings.model_fields["batch_size"].default,
        help="updates stored per transaction (default: the channel's default)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(
            bench(
                args.updates,
                args.chats,
                args.session_minutes,
                args.drain,
                Path(tmp) / "b.db",
                args.batch_size,
            )
        )


if __name__ == "__main__":
    main()
