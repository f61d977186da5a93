"""Three ``dengar run --worker`` processes on one PostgreSQL: each channel is
polled by exactly one worker at a time (leases), a killed worker's channels
are taken over once its lease expires, and nothing is lost or doubled."""

from __future__ import annotations

import asyncio
import signal
import socket
import time

import pytest

from dengar.leases import WORKER_PREFIX
from tests.reliability.harness import (
    DengarProcess,
    all_delivered,
    assert_each_case_queued_once,
    config_text,
    make_maildir,
    not_stored_once,
    query,
    stored_count,
    wait_until,
    write_mail,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

LEASE = 3.0
CHANNELS = 3
PER_CHANNEL = 10


def _holders(db_url: str) -> dict[str, str]:
    return {
        name: holder
        for name, holder, expires in query(
            db_url,
            "SELECT name, holder, expires_at FROM channel_lease"
            " WHERE expires_at > now()",
        )
        if not name.startswith(WORKER_PREFIX)
    }


async def test_three_workers_share_channels_and_survive_a_killed_one(
    tmp_path, postgres_url
):
    maildirs = [make_maildir(tmp_path / f"inbox{i}") for i in range(CHANNELS)]
    ids = [
        write_mail(d, f"w{i}-{n}")
        for i, d in enumerate(maildirs)
        for n in range(PER_CHANNEL)
    ]
    config = tmp_path / "dengar.yaml"
    config.write_text(config_text(postgres_url, maildirs=maildirs, batch_size=4))
    args = ("--worker", "--lease-seconds", str(LEASE))
    workers = []
    for n in range(3):
        workers.append(
            await DengarProcess(config, args, log=tmp_path / f"worker{n}.log").start()
        )
        await asyncio.sleep(0.5)  # the first creates the schema
    by_holder = {f"{socket.gethostname()}:{w.pid}": w for w in workers}

    assert await wait_until(lambda: stored_count(postgres_url) >= len(ids), 60)
    # the channels spread out: one each
    assert await wait_until(
        lambda: len(set(_holders(postgres_url).values())) == CHANNELS, 30
    ), _holders(postgres_url)
    victim_holder = _holders(postgres_url)["surat0"]
    victim = by_holder[victim_holder]
    victim.signal(signal.SIGKILL)
    await victim.wait(10)
    killed_at = time.monotonic()
    for i, d in enumerate(maildirs):
        ids += [write_mail(d, f"after{i}-{n}") for n in range(PER_CHANNEL)]

    def taken_over() -> bool:
        holder = _holders(postgres_url).get("surat0")
        return holder is not None and holder != victim_holder

    # within the lease time plus one renewal round (and scheduling slack)
    assert await wait_until(taken_over, LEASE + LEASE / 3 + 5), _holders(postgres_url)
    print(f"surat0 taken over {time.monotonic() - killed_at:.1f} s after the kill")
    assert await wait_until(lambda: stored_count(postgres_url) >= len(ids), 60)
    assert await wait_until(lambda: all_delivered(postgres_url), 60)
    survivors = [w for w in workers if w is not victim]
    for w in survivors:
        assert await w.stop(20) == 0
    # a clean stop gives the leases back at once
    assert _holders(postgres_url) == {}

    assert not_stored_once(postgres_url, ids) == []
    [(rows,)] = query(postgres_url, "SELECT count(*) FROM complaint")
    assert rows == len(ids) == 2 * CHANNELS * PER_CHANNEL
    assert_each_case_queued_once(postgres_url)
    # every worker polled: nobody sat idle while one did all the work
    logs = [(tmp_path / f"worker{n}.log").read_text() for n in range(3)]
    assert all("lease taken" in log for log in logs)
