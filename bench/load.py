"""Benchmark: sustained mixed load through ``dengar run`` processes.

Offers ``--rate`` items per second for ``--minutes`` (mails into a Maildir -
and into Dovecot over IMAP with ``--imap`` — Telegram updates into the Bot
API emulator, posts into the X emulator) to one configuration at a time:
SQLite with one process, PostgreSQL with 1 and 3 ``--worker`` processes. Prints
per minute: items stored per second in that minute (a setup that falls behind
shows extra minutes of catching up), the end-to-end latency (offered -> stored)
p50/p95/p99 of the items offered in that minute, the RSS of the Dengar
processes (largest sample of the minute), and the errors they logged; then
the RSS added per item stored after the first minute (``growth``).

    python -m bench.load --rate 100 --minutes 10 \
        --setups sqlite:1,postgres:1,postgres:3@300           # issue 9's run
    python -m bench.load --rate 20 --minutes 1 --setups sqlite:1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from bench.cpu import CpuMeter, backends_of
from tests.fakes.dovecot import PASSWORD, running_dovecot
from tests.fakes.smtp import running_smtp
from tests.fakes.telegram_api import FakeTelegramApi
from tests.fakes.x_api import running_x_api
from tests.reliability.harness import (
    DengarProcess,
    config_text,
    make_maildir,
    query,
    wait_until,
    write_mail,
)
from tests.reliability.storm import GOV, _append, imap_mail
from tests.services import POSTGRES_URL

TOKEN_RE = re.compile(r"LOAD(\d+)X")


@dataclass
class Minute:
    """What one minute of the run stored."""

    stored: int = 0
    latencies: list[float] = field(default_factory=list)
    rss_mb: float = 0.0
    seconds: float = 60.0  # the last minute of a run may be shorter


@dataclass
class Outcome:
    """One configuration's run."""

    setup: str
    rate: float  # items/s offered
    offered: int = 0
    stored: int = 0
    minutes: list[Minute] = field(default_factory=list)
    errors: int = 0
    note: str = ""
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    cpu: CpuMeter = field(default_factory=CpuMeter)


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


async def _sample_cpu(
    meter: CpuMeter, groups: Callable[[], dict[str, list[int]]]
) -> None:
    # until cancelled after the Dengar processes stopped: a PostgreSQL
    # backend's CPU is read last just before its connection closes
    while True:
        meter.sample(groups())
        await asyncio.sleep(1)


async def _sample_rss(procs: list[DengarProcess], out: dict[int, float]) -> None:
    # the largest RSS of any Dengar process, per minute since the start
    began = time.monotonic()
    while True:
        minute = int((time.monotonic() - began) // 60)
        rss = max((_rss_mb(p.pid) for p in procs), default=0.0)
        out[minute] = max(out.get(minute, 0.0), rss)
        await asyncio.sleep(5)


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def run_setup(
    setup: str, rate: float, minutes: float, imap: bool, workdir: Path
) -> Outcome:
    """Offer the load to one setup (``sqlite:1``, ``postgres:3`` …)."""
    db, workers = setup.split(":")
    outcome = Outcome(setup, rate)
    db_url, drop = _database(db, workdir)
    maildir = make_maildir(workdir / "inbox")
    offered_at: dict[int, float] = {}
    rss_by_minute: dict[int, float] = {}
    async with FakeTelegramApi().running() as tg:
        with running_x_api() as x:
            x.add_user(GOV, "Pemkab Kotabaru", id="1500000001")
            citizen = x.add_user("wargakotabaru", "Warga")
            stack = contextlib.ExitStack()
            dovecot = stack.enter_context(running_dovecot()) if imap else None
            smtp = stack.enter_context(running_smtp()) if imap else None
            try:
                config = workdir / "dengar.yaml"
                config.write_text(
                    config_text(
                        db_url,
                        maildirs=[maildir],
                        telegram_url=tg.base_url,
                        x_url=x.url,
                        imap=(dovecot.host, dovecot.port, "load", PASSWORD)
                        if dovecot
                        else None,
                        smtp_port=smtp.port if smtp else None,
                        poll_interval=0.5,
                        long_poll_timeout=5,
                        batch_size=100,
                        drain_interval=1.0,
                        x_posts_per_poll=100,  # the default, as deployed
                    )
                )
                procs = []
                args = ("--worker", "--lease-seconds", "10") if int(workers) > 1 else ()
                for n in range(int(workers)):
                    procs.append(
                        await DengarProcess(
                            config, args, log=workdir / f"w{n}.log"
                        ).start()
                    )
                    await asyncio.sleep(1.0)
                # offered load and CPU count from when every process runs
                # its jobs: start-up (imports, index rebuild) is not per item
                await wait_until(
                    lambda: all(
                        "dengar running" in (workdir / f"w{n}.log").read_text()
                        for n in range(len(procs))
                    ),
                    timeout=120,
                )
                sampler = asyncio.ensure_future(_sample_rss(procs, rss_by_minute))
                database = db_url.rsplit("/", 1)[1] if db != "sqlite" else None

                def groups() -> dict[str, list[int]]:
                    return {
                        "dengar": [p.pid for p in procs],
                        "postgres": backends_of(database) if database else [],
                        "generator": [os.getpid()],
                    }

                cpu = asyncio.ensure_future(_sample_cpu(outcome.cpu, groups))
                outcome.offered = await _offer(
                    rate, minutes, maildir, tg, x, citizen, dovecot, offered_at
                )
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    if len(_stored(db_url)) >= outcome.offered:
                        break
                    await asyncio.sleep(1)
                sampler.cancel()
                for p in procs:
                    await p.stop(30)
                cpu.cancel()
            finally:
                stack.close()
    rows = _stored(db_url)
    outcome.stored = len(rows)
    start = min(offered_at.values(), default=0.0)

    def minute(i: int) -> Minute:
        while len(outcome.minutes) <= i:
            outcome.minutes.append(Minute())
        return outcome.minutes[i]

    for token, created in rows:
        if token not in offered_at:
            continue
        # throughput by when it was stored, latency by when it was offered
        minute(int(max(0.0, created - start) // 60)).stored += 1
        offered = offered_at[token]
        latency = max(0.0, created - offered)
        minute(int((offered - start) // 60)).latencies.append(latency)
        outcome.by_kind.setdefault(_kind(token, imap), []).append(latency)
    last_stored = max((created for _, created in rows), default=start)
    for i, m in enumerate(outcome.minutes):
        m.rss_mb = rss_by_minute.get(i, float("nan"))
        m.seconds = max(1.0, min(60.0, last_stored - start - i * 60))
    outcome.errors = sum(
        log.read_text().count(" ERROR ") for log in workdir.glob("w*.log")
    )
    drop()
    return outcome


async def _offer(
    rate: float,
    minutes: float,
    maildir: Path,
    tg: FakeTelegramApi,
    x: Any,
    citizen: str,
    dovecot: Any,
    offered_at: dict[int, float],
) -> int:
    # items go round-robin to the channels at a steady pace
    total = int(rate * minutes * 60)
    began = time.monotonic()
    for n in range(total):
        due = began + n / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        token = f"LOAD{n}X"
        kind = _kind(n, dovecot is not None)
        offered_at[n] = time.time()
        if kind == "mail":
            write_mail(maildir, f"load{n}", body=f"Jalan berlubang {token}")
        elif kind == "tg":
            await tg.push_message(100_000 + n, f"Lampu mati {token}")
        elif kind == "x":
            x.post(citizen, f"@{GOV} sampah menumpuk {token}")
        else:
            raw = imap_mail(n, n).replace(b"Jalan di dusun", token.encode())
            await asyncio.to_thread(_append, dovecot, "load", raw)
    return total


def _kind(n: int, imap: bool) -> str:
    # items go round-robin to the channels: 40 % mail, 40 % Telegram, 20 % X
    kinds = ["mail", "tg", "mail", "tg", "x"] + (["imap"] if imap else [])
    return kinds[n % len(kinds)]


def _stored(db_url: str) -> list[tuple[int, float]]:
    try:
        rows = query(db_url, "SELECT original_text, created_at FROM complaint")
    except Exception:  # noqa: BLE001 - schema not there yet
        return []
    out = []
    for body, created in rows:
        found = TOKEN_RE.search(body or "")
        if found:
            if isinstance(created, str):  # SQLite: naive UTC text
                created = datetime.fromisoformat(created)
            if created.tzinfo is None:
                created = created.replace(tzinfo=UTC)
            out.append((int(found.group(1)), created.timestamp()))
    return out


def _database(db: str, workdir: Path):  # type: ignore[no-untyped-def]
    if db == "sqlite":
        return f"sqlite:///{workdir / 'load.db'}", lambda: None
    name = f"dengar_load_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}", drop


def print_table(outcomes: list[Outcome]) -> None:
    """One row per setup and minute."""
    head = (
        f"{'setup':<11}{'offered':>8}{'minute':>7}{'stored/s':>10}{'p50 s':>8}"
        f"{'p95 s':>8}{'p99 s':>8}{'RSS MB':>8}  note"
    )
    print(head)
    print("-" * len(head))
    for o in outcomes:
        for i, m in enumerate(o.minutes):
            lat = m.latencies
            per_second = m.stored / m.seconds
            print(
                f"{o.setup:<11}{o.rate:>8g}{i + 1:>7}{per_second:>10.1f}"
                f"{_pct(lat, 0.5):>8.2f}{_pct(lat, 0.95):>8.2f}"
                f"{_pct(lat, 0.99):>8.2f}{m.rss_mb:>8.0f}  "
                + (
                    f"errors {o.errors}, stored {o.stored}/{o.offered}"
                    if i == 0
                    else ""
                )
            )
        everything = [v for m in o.minutes for v in m.latencies]
        if everything:
            print(
                f"{o.setup:<11}{'':>8}{'all':>7}{'':>10}{statistics.median(everything):>8.2f}"
                f"{_pct(everything, 0.95):>8.2f}{_pct(everything, 0.99):>8.2f}"
            )
        for kind, values in sorted(o.by_kind.items()):
            print(
                f"{o.setup:<11}{'':>8}{kind:>7}{'':>10}{statistics.median(values):>8.2f}"
                f"{_pct(values, 0.95):>8.2f}{_pct(values, 0.99):>8.2f}"
            )
        growth = rss_growth(o.minutes)
        if growth is not None:
            print(f"{o.setup:<11}{'':>8}{'growth':>7}{'':>42}  {growth}")
        print(f"{o.setup:<11}{'':>8}{'cpu':>7}{'':>42}  {cpu_per_item(o)}")


def cpu_per_item(o: Outcome) -> str:
    """CPU milliseconds per item stored, by part, and the cores the offered
    rate needs at that cost: what the shared machine's other jobs inflate
    far less than latency."""
    used = o.cpu.seconds()
    if not o.stored:
        return "nothing stored"
    parts = [
        f"{name} {used.get(name, 0.0) / o.stored * 1e3:.2f}"
        for name in ("dengar", "postgres", "generator")
    ]
    dengar = (used.get("dengar", 0.0) + used.get("postgres", 0.0)) / o.stored
    return (
        f"ms/item: {', '.join(parts)} (generator = load generator + emulators); "
        f"Dengar + PostgreSQL at {o.rate:g}/s need {dengar * o.rate:.2f} cores"
    )


def rss_growth(minutes: list[Minute]) -> str | None:
    """RSS added per item stored after the first minute (start-up, imports
    and first caches are done by then), so that runs of different lengths
    and throughputs compare: every item of the load is an open case that
    the duplicate index keeps, see docs/operations.md "Sizing"."""
    # minutes stored after the processes stopped have no RSS sample
    sampled = [(i, m) for i, m in enumerate(minutes) if not math.isnan(m.rss_mb)]
    if len(sampled) < 2:
        return None
    (first, start), (last, end) = sampled[0], sampled[-1]
    items = sum(m.stored for m in minutes[first + 1 : last + 1])
    if items <= 0:
        return None
    added = end.rss_mb - start.rss_mb
    per_item = added * 2**20 / items
    return (
        f"RSS {added:+.0f} MB from minute {first + 1} to {last + 1} "
        f"over {items} items stored: {per_item:.0f} B/item"
    )


def main() -> None:
    """Parse the options, run each setup, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=100.0, help="items/s offered")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument(
        "--setups",
        default="sqlite:1,postgres:1,postgres:3",
        help="database:workers, each optionally @rate (postgres:3@300)",
    )
    parser.add_argument("--imap", action="store_true", help="also mail over IMAP")
    args = parser.parse_args()
    outcomes = []
    for item in args.setups.split(","):
        setup, _, rate = item.partition("@")
        with tempfile.TemporaryDirectory(prefix="dengar-load-") as tmp:
            outcomes.append(
                asyncio.run(
                    run_setup(
                        setup,
                        float(rate) if rate else args.rate,
                        args.minutes,
                        args.imap,
                        Path(tmp),
                    )
                )
            )
        print(f"  done: {item}", file=sys.stderr, flush=True)
    print_table(outcomes)


if __name__ == "__main__":
    main()
