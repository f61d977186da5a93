"""The kill storm: a fixed, seeded set of messages goes in through a Maildir,
the Telegram emulator and the X emulator while a ``dengar run`` process is
SIGKILLed at random instants and restarted; at the end one clean run drains
everything. ``run_storm`` returns the counts the proofs are made on; the test
asserts them, ``bench/killstorm.py`` prints them."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from dispatcher.worker import REPLIES_IN_FLIGHT
from tests.fakes.dovecot import PASSWORD, Dovecot, running_dovecot
from tests.fakes.smtp import SmtpServer, running_smtp
from tests.fakes.telegram_api import FakeTelegramApi
from tests.fakes.webhook_server import WebhookServer
from tests.fakes.x_api import running_x_api
from tests.reliability.harness import (
    DengarProcess,
    config_text,
    make_maildir,
    query,
    stored_count,
    wait_until,
    write_mail,
)

GOV = "PemkabKotabaru"


@dataclass
class StormReport:
    """What went in, what came out, and how often things were repeated."""

    seed: int
    kills: int = 0
    seconds: float = 0.0
    fed: Counter[str] = field(default_factory=Counter)  # per channel
    records: Counter[str] = field(default_factory=Counter)  # per channel
    duplicate_sources: int = 0  # (channel, external_id) stored twice: must be 0
    mail_ids_not_once: int = 0  # Message-IDs stored 0 or 2+ times: must be 0
    kinds: dict[str, int] = field(default_factory=dict)
    acks_expected: int = 0
    acks_missing: int = 0  # Telegram cases that got no ack: must be 0
    acks_repeated: int = 0  # extra acks (a kill between send and mark)
    acks_most: int = 0  # the most acks one chat got: at most 2
    webhook_cases: int = 0
    webhook_keys: int = 0  # distinct idempotency keys the agency accepted
    webhook_repeats: int = 0  # re-sends of an accepted key (deduped by it)
    db_queue_cases: int = 0
    db_queue_keys: int = 0
    outbox_not_done: int = 0  # rows still pending/in flight/dead: must be 0
    final_exit: int | None = None
    outbox_batch: int = 100  # the default: a kill used to repeat a whole batch
    webhook_concurrency: int = 8  # the webhook sink's default
    stored_at_kills: list[int] = field(default_factory=list)  # progress
    mail_acks_expected: int = 0
    mail_acks_missing: int = 0  # IMAP cases that got no ack mail: must be 0
    mail_acks_repeated: int = 0  # extra ack mails (a kill between send and mark)
    mail_acks_most: int = 0  # the most ack mails one citizen got: at most 2

    def lost_or_doubled(self) -> list[str]:
        """Every broken guarantee, in words (empty when all hold)."""
        problems = []
        for channel, n in self.fed.items():
            if self.records[channel] != n:
                problems.append(f"{channel}: fed {n}, stored {self.records[channel]}")
        checks = {
            "a source id stored twice": self.duplicate_sources,
            "a mail Message-ID not stored exactly once": self.mail_ids_not_once,
            "a Telegram case without acknowledgement": self.acks_missing,
            "an email case without acknowledgement": self.mail_acks_missing,
            "an outbox row not delivered": self.outbox_not_done,
        }
        problems += [f"{what} ({n})" for what, n in checks.items() if n]
        if self.webhook_keys != self.webhook_cases:
            problems.append(
                f"webhook agency: {self.webhook_cases} cases, "
                f"{self.webhook_keys} keys accepted"
            )
        if self.db_queue_keys != self.db_queue_cases:
            problems.append(
                f"database agency: {self.db_queue_cases} cases, "
                f"{self.db_queue_keys} queued"
            )
        # the honest bound (README, Guarantees): a kill repeats at most what
        # was in flight: per agency its sink's concurrency, per citizen one
        # message, and no citizen gets one message three times
        most = max(self.acks_most, self.mail_acks_most)
        if most > min(2, 1 + self.kills):
            problems.append(f"a citizen got one acknowledgement {most} times")
        for what, repeated in (
            ("Telegram", self.acks_repeated),
            ("email", self.mail_acks_repeated),
        ):
            if repeated > self.kills * REPLIES_IN_FLIGHT:
                problems.append(
                    f"{repeated} {what} acks repeated > {self.kills} kills"
                    f" x {REPLIES_IN_FLIGHT} in flight"
                )
        if self.webhook_repeats > self.kills * self.webhook_concurrency:
            problems.append(
                f"{self.webhook_repeats} webhook re-sends > {self.kills} kills"
                f" x concurrency {self.webhook_concurrency}"
            )
        if self.final_exit != 0:
            problems.append(f"final SIGTERM exit code {self.final_exit}")
        return problems


async def run_storm(
    workdir: Path,
    *,
    seed: int,
    rounds: int,
    mails: int,
    chats: int,
    commands: int,
    posts: int,
    imap_mails: int = 0,
    database_url: str | None = None,
    min_life: float = 0.8,
    max_life: float = 4.0,
    drain_timeout: float = 120.0,
    channel_batch: int = 3,
) -> StormReport:
    """Feed, kill, restart ``rounds`` times, then drain; the report."""
    rng = random.Random(seed)
    report = StormReport(seed=seed)
    started = time.monotonic()
    db_url = database_url or f"sqlite:///{workdir / 'storm.db'}"
    maildir = make_maildir(workdir / "inbox")
    feed: list[tuple[str, Any]] = (
        [("mail", i) for i in range(mails)]
        + [("tg", i) for i in range(chats)]
        + [("cmd", i) for i in range(commands)]
        + [("x", i) for i in range(posts)]
        + [("imap", i) for i in range(imap_mails)]
    )
    rng.shuffle(feed)
    chunks = [feed[i :: rounds + 1] for i in range(rounds + 1)]
    mail_ids: list[str] = []
    async with (
        FakeTelegramApi().running() as tg,
        WebhookServer(secret="s3cret") as hook,
    ):
        with contextlib.ExitStack() as stack:
            x = stack.enter_context(running_x_api())
            imap: Dovecot | None = None
            smtp: SmtpServer | None = None
            if imap_mails:
                imap = stack.enter_context(running_dovecot())
                smtp = stack.enter_context(running_smtp())
                imap_user = f"storm{seed}"
            x.add_user(GOV, "Pemkab Kotabaru", id="1500000001")
            citizen = x.add_user("wargakotabaru", "Warga")
            config = workdir / "dengar.yaml"
            config.write_text(
                config_text(
                    db_url,
                    maildirs=[maildir],
                    telegram_url=tg.base_url,
                    x_url=x.url,
                    webhook_url=hook.url,
                    imap=(imap.host, imap.port, imap_user, PASSWORD) if imap else None,
                    smtp_port=smtp.port if smtp else None,
                    batch_size=channel_batch,
                    outbox_batch=report.outbox_batch,
                )
            )

            async def deliver(chunk: list[tuple[str, Any]]) -> None:
                for kind, i in chunk:
                    if kind == "mail":
                        mail_ids.append(write_mail(maildir, f"storm{seed}-{i}"))
                        report.fed["surat0"] += 1
                    elif kind == "tg":
                        text = (
                            f"Jalan berlubang di RT {i}"
                            if i % 2 == 0
                            else f"Lampu taman mati di RT {i}"
                        )
                        await tg.push_message(10_000 + i, text)
                        report.fed["tg"] += 1
                    elif kind == "cmd":
                        await tg.push_message(20_000 + i, "/start")
                        report.fed["tg"] += 1
                    elif kind == "imap":
                        assert imap is not None
                        raw = imap_mail(seed, i)
                        await asyncio.to_thread(_append, imap, imap_user, raw)
                        mail_ids.append(f"<imap{seed}-{i}@example.org>")
                        report.fed["surel"] += 1
                    else:
                        x.post(citizen, f"@{GOV} lampu jalan mati di blok {i}")
                        report.fed["x"] += 1

            for chunk in chunks[:-1]:
                await deliver(chunk)
                proc = await DengarProcess(config).start()
                await asyncio.sleep(rng.uniform(min_life, max_life))
                await proc.kill()
                report.kills += 1
                report.stored_at_kills.append(stored_count(db_url))
            await deliver(chunks[-1])
            final = await DengarProcess(config).start()
            everything = sum(report.fed.values())
            await wait_until(lambda: stored_count(db_url) >= everything, drain_timeout)
            await wait_until(
                lambda: (
                    not query(
                        db_url, "SELECT id FROM outbox WHERE status != 'delivered'"
                    )
                ),
                drain_timeout,
            )
            report.final_exit = await final.stop(30)
            _count(report, db_url, mail_ids, tg, hook, chats)
            if smtp is not None:
                _count_mail_acks(report, smtp, imap_mails, seed)
    report.seconds = time.monotonic() - started
    return report


def _count(
    report: StormReport,
    db_url: str,
    mail_ids: list[str],
    tg: FakeTelegramApi,
    hook: WebhookServer,
    chats: int,
) -> None:
    sources = query(db_url, "SELECT channel, external_id FROM complaint")
    held = query(db_url, "SELECT channel, external_id FROM quarantine")
    everything = Counter(tuple(r) for r in [*sources, *held])
    report.duplicate_sources = sum(1 for n in everything.values() if n > 1)
    report.records = Counter(channel for channel, _ in everything)
    stored_ids = Counter(
        r[0] for r in query(db_url, "SELECT message_id FROM complaint")
    )
    report.mail_ids_not_once = sum(1 for m in mail_ids if stored_ids[m] != 1)
    report.kinds = {
        k: int(n)
        for k, n in query(db_url, "SELECT kind, count(*) FROM complaint GROUP BY kind")
    }
    acks = Counter(m.chat_id for m in tg.sent if "ADU-" in m.text)
    case_chats = [10_000 + i for i in range(chats)]
    report.acks_expected = len(case_chats)
    report.acks_missing = sum(1 for c in case_chats if acks[c] == 0)
    report.acks_repeated = sum(max(0, acks[c] - 1) for c in case_chats)
    report.acks_most = max((acks[c] for c in case_chats), default=0)
    [(pupr,)] = query(
        db_url,
        "SELECT count(*) FROM complaint WHERE kind = 'case' AND agency_code = 'PUPR'"
        " AND status != 'triage' AND duplicate_of_id IS NULL",
    )
    report.webhook_cases = int(pupr)
    report.webhook_keys = len(set(hook.accepted_ids))
    report.webhook_repeats = len(hook.duplicates)
    [(db_cases,)] = query(
        db_url,
        "SELECT count(*) FROM complaint WHERE kind = 'case' AND agency_code != 'PUPR'"
        " AND status != 'triage' AND duplicate_of_id IS NULL",
    )
    report.db_queue_cases = int(db_cases)
    [(queued,)] = query(
        db_url, "SELECT count(DISTINCT idempotency_key) FROM agency_queue"
    )
    report.db_queue_keys = int(queued)
    [(left,)] = query(db_url, "SELECT count(*) FROM outbox WHERE status != 'delivered'")
    report.outbox_not_done = int(left)


def imap_mail(seed: int, i: int) -> bytes:
    """One citizen mail for the IMAP mailbox, from its own address."""
    message = EmailMessage()
    message["From"] = f"Warga <warga.imap{i}@example.org>"
    message["To"] = "pengaduan@kotabarukab.go.id"
    message["Subject"] = f"Jalan berlubang imap {i}"
    message["Message-ID"] = f"<imap{seed}-{i}@example.org>"
    message["Date"] = "Fri, 27 Nov 2026 10:00:00 +0700"
    message.set_content(f"Jalan di dusun {i} berlubang, mohon diperbaiki")
    return bytes(message)


def _append(server: Dovecot, user: str, raw: bytes) -> None:
    client: Any = server.client(user)
    try:
        client.append("INBOX", raw)
    finally:
        client.logout()


def _count_mail_acks(
    report: StormReport, smtp: SmtpServer, imap_mails: int, seed: int
) -> None:
    acks = Counter(rcpt.lower() for r in smtp.sink.received for rcpt in r.rcpt_tos)
    wanted = [f"warga.imap{i}@example.org" for i in range(imap_mails)]
    report.mail_acks_expected = len(wanted)
    report.mail_acks_missing = sum(1 for w in wanted if acks[w] == 0)
    report.mail_acks_repeated = sum(max(0, acks[w] - 1) for w in wanted)
    report.mail_acks_most = max((acks[w] for w in wanted), default=0)
