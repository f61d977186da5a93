"""SIGTERM to a running ``dengar run``: the batch in flight is finished or
rolled back within ``shutdown_timeout``, the exit code is 0, and a restart
takes in the rest with nothing lost or doubled."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter

import pytest

from tests.fakes.telegram_api import FakeTelegramApi
from tests.reliability.harness import (
    DengarProcess,
    all_delivered,
    assert_each_case_queued_once,
    config_text,
    lock_sqlite,
    make_maildir,
    not_stored_once,
    query,
    stored_count,
    wait_until,
    write_mail,
)

pytestmark = pytest.mark.slow

MAILS = 40
CHATS = 20


async def test_sigterm_mid_stream_exits_0_and_a_restart_loses_nothing(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'dengar.db'}"
    maildir = make_maildir(tmp_path / "inbox")
    ids = [write_mail(maildir, f"m{i}") for i in range(MAILS)]
    async with FakeTelegramApi().running() as api:
        config = tmp_path / "dengar.yaml"
        config.write_text(
            config_text(
                db_url,
                maildirs=[maildir],
                telegram_url=api.base_url,
                # a long poll in progress at SIGTERM must not delay the exit
                long_poll_timeout=20,
                shutdown_timeout=8,
                batch_size=3,
            )
        )
        for chat in range(1, CHATS // 2 + 1):
            await api.push_message(chat, f"Lampu jalan mati di gang {chat}")
        first = await DengarProcess(config).start()
        assert await wait_until(lambda: stored_count(db_url) >= 6, 60), (
            "nothing was stored"
        )
        # more arrives while it works; then the operator stops it
        for chat in range(CHATS // 2 + 1, CHATS + 1):
            await api.push_message(chat, f"Lampu jalan mati di gang {chat}")
        first.signal(signal.SIGTERM)
        code = await first.wait(8 + 10)
        log = (tmp_path / "dengar.log").read_text()
        assert code == 0, log[-3000:]
        # the batch in flight was finished, not torn down
        assert "Traceback" not in log, log[-3000:]
        assert stored_count(db_url) < MAILS + CHATS, "stopped too late to prove much"

        second = await DengarProcess(config).start()
        everything = MAILS + CHATS
        assert await wait_until(lambda: stored_count(db_url) >= everything, 90)
        assert await wait_until(lambda: all_delivered(db_url), 60), query(
            db_url, "SELECT kind, status, last_error FROM outbox"
        )
        assert await second.stop(20) == 0

    assert not_stored_once(db_url, ids) == [], "a mail lost or doubled"
    sources = query(db_url, "SELECT channel, external_id FROM complaint")
    assert len(sources) == len(set(sources)) == everything
    [(cases,)] = query(db_url, "SELECT count(*) FROM complaint WHERE kind = 'case'")
    assert cases == everything
    # every Telegram citizen got exactly one acknowledgement
    acks = Counter(m.chat_id for m in api.sent if "ADU-" in m.text)
    assert acks == Counter({chat: 1 for chat in range(1, CHATS + 1)})
    # every case reached its agency exactly once (near-duplicates are linked
    # to their case instead)
    assert_each_case_queued_once(db_url)


async def test_a_batch_stuck_past_shutdown_timeout_is_abandoned_and_exit_is_0(
    tmp_path,
):
    db_url = f"sqlite:///{tmp_path / 'dengar.db'}"
    maildir = make_maildir(tmp_path / "inbox")
    ids = [write_mail(maildir, f"t{i}") for i in range(5)]
    config = tmp_path / "dengar.yaml"
    config.write_text(config_text(db_url, maildirs=[maildir], shutdown_timeout=2))
    proc = await DengarProcess(config).start()
    locker = None
    try:
        assert await wait_until(lambda: stored_count(db_url) >= 5, 60)
        # another process holds the write lock: the next batch cannot commit
        locker = await lock_sqlite(tmp_path / "dengar.db", 120)
        ids += [write_mail(maildir, f"t-stuck{i}") for i in range(5)]
        await asyncio.sleep(2)  # the poll is now waiting for the lock
        proc.signal(signal.SIGTERM)
        # well before SQLite's own 30 s busy timeout would have freed it
        assert await proc.wait(15) == 0
    finally:
        await proc.kill()
        if locker is not None and locker.returncode is None:
            locker.kill()
            await locker.wait()
    log = (tmp_path / "dengar.log").read_text()
    assert "abandoning them; their uncommitted batch is rolled back" in log
    assert stored_count(db_url) == 5  # the abandoned batch left nothing behind

    again = await DengarProcess(config).start()
    assert await wait_until(lambda: stored_count(db_url) >= 10, 60)
    assert await again.stop(20) == 0
    assert not_stored_once(db_url, ids) == []
