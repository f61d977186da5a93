"""Benchmark: CPU per Bot API call of python-telegram-bot's two HTTP backends.

PTB's default request class runs on httpx; ``channels.telegram.aiohttp_backend``
runs the same Bot on aiohttp. Both send the same acknowledgements
(``sendMessage``, 8 at a time) to the Bot API emulator, which runs in its
own process so that this process's CPU time is the client's alone. Rounds
alternate between the two backends; the table gives the median.

    python -m bench.telegram_request [--messages 500] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time

from telegram import Bot
from telegram.request import BaseRequest, HTTPXRequest

from channels.telegram.aiohttp_backend import AiohttpRequest
from tests.fakes.telegram_api import TOKEN

EMULATOR = """
import asyncio
from tests.fakes.telegram_api import FakeTelegramApi

async def main():
    async with FakeTelegramApi().running() as api:
        print(api.base_url, flush=True)
        await asyncio.Event().wait()

asyncio.run(main())
"""

BACKENDS: dict[str, type[BaseRequest]] = {
    "httpx (PTB default)": HTTPXRequest,
    "aiohttp (Dengar)": AiohttpRequest,
}


async def cpu_per_call(backend: type[BaseRequest], base: str, n: int) -> float:
    """CPU microseconds of this process per ``sendMessage``."""
    bot = Bot(
        TOKEN,
        base_url=f"{base}/bot",
        request=backend(connection_pool_size=8),  # type: ignore[call-arg]
        get_updates_request=backend(),
    )
    async with bot:
        await bot.send_message(1, "warm-up")
        gate = asyncio.Semaphore(8)

        async def send(i: int) -> None:
            async with gate:
                await bot.send_message(
                    1000 + i % 50, f"Terima kasih, laporan ADU-{i:04d} diterima"
                )

        began = time.process_time()
        await asyncio.gather(*(send(i) for i in range(n)))
        return (time.process_time() - began) / n * 1e6


async def main() -> None:
    """Run the rounds and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    emulator = subprocess.Popen(
        [sys.executable, "-c", EMULATOR], stdout=subprocess.PIPE, text=True
    )
    try:
        assert emulator.stdout is not None
        base = emulator.stdout.readline().strip()
        samples: dict[str, list[float]] = {name: [] for name in BACKENDS}
        for _ in range(args.rounds):
            for name, backend in BACKENDS.items():
                samples[name].append(await cpu_per_call(backend, base, args.messages))
    finally:
        emulator.kill()
    baseline = statistics.median(next(iter(samples.values())))
    print(f"{args.messages} sendMessage x {args.rounds} rounds, 8 in flight")
    print(f"{'backend':22s} {'CPU µs/call':>12s} {'vs httpx':>9s}")
    print("-" * 45)
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"{name:22s} {median:12,.0f} {median / baseline:9.2f}")


if __name__ == "__main__":
    asyncio.run(main())
