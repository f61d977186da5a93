"""Helpers for the reliability proofs: a ``dengar run`` subprocess, a
configuration that points at the local emulators, message generators and the
counts the assertions are made on. Also used by ``bench/killstorm.py``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from tests.fakes.telegram_api import TOKEN

REPO = Path(__file__).resolve().parents[2]
X_BEARER = "test-bearer-token"
STARTED: list[DengarProcess] = []


def config_text(
    database_url: str,
    *,
    maildirs: list[Path] = (),  # type: ignore[assignment]
    telegram_url: str | None = None,
    x_url: str | None = None,
    webhook_url: str | None = None,
    shutdown_timeout: float = 10.0,
    poll_interval: float = 0.3,
    long_poll_timeout: int = 1,
    batch_size: int = 5,
    drain_interval: float = 0.3,
    outbox_batch: int = 100,
    pupr_sink: str | None = None,
    imap: tuple[str, int, str, str] | None = None,
    smtp_port: int | None = None,
    x_posts_per_poll: int = 10,  # small: the storms exercise X's paging
) -> str:
    """A dengar.yaml with the given channels; agency PUPR gets the webhook
    sink when ``webhook_url`` is given, the others the database sink."""
    lines = [
        f"database_url: {database_url}",
        "tracking_prefix: ADU",
        f"shutdown_timeout: {shutdown_timeout}",
        f"outbox: {{drain_interval: {drain_interval}, backoff_base: 0.2,"
        f" backoff_max: 1, claim_timeout: 5, batch_size: {outbox_batch}}}",
        "channels:",
    ]
    for i, path in enumerate(maildirs):
        lines += [
            f"  - {{name: surat{i}, type: maildir, path: '{path}',",
            f"     after_import: move, poll_interval: {poll_interval},"
            f" batch_size: {batch_size}}}",
        ]
    if imap:
        host, port, user, password = imap
        lines += [
            f"  - {{name: surel, type: imap, host: {host}, port: {port},",
            f"     security: none, username: {user}, password: {password},",
            f"     idle: false, poll_interval: {poll_interval},"
            f" batch_size: {batch_size},",
            f"     smtp: {{host: 127.0.0.1, port: {smtp_port}, security: none,",
            "            from_address: pengaduan@kotabarukab.go.id}}",
        ]
    if telegram_url:
        lines += [
            f"  - {{name: tg, type: telegram, token: '{TOKEN}',",
            f"     api_base_url: '{telegram_url}', poll_interval: {poll_interval},",
            # no confirmation window: these runs count every agency delivery
            # and the window would hold each chat's case for two minutes
            f"     long_poll_timeout: {long_poll_timeout}, session_minutes: 0,",
            "     confirmation_window: 0,",
            f"     batch_size: {batch_size}}}",
        ]
    if x_url:
        lines += [
            f"  - {{name: x, type: x, bearer_token: '{X_BEARER}',",
            f"     api_base_url: '{x_url}', mentions_of: [PemkabKotabaru],",
            f"     poll_interval: {poll_interval},"
            f" max_posts_per_poll: {x_posts_per_poll}}}",
        ]
    if len(lines) and lines[-1] == "channels:":
        lines[-1] = "channels: []"
    pupr = "{code: PUPR, name: Dinas PUPR}"
    if webhook_url:
        pupr_sink = (
            f"{{type: webhook, url: '{webhook_url}', secret: s3cret, timeout: 2}}"
        )
    if pupr_sink:
        pupr = f"{{code: PUPR, name: Dinas PUPR, sink: {pupr_sink}}}"
    lines += [
        "agencies:",
        "  - {code: DISKOMINFO, name: Diskominfo}",
        f"  - {pupr}",
        "categories:",
        "  - {name: jalan, keywords: {jalan: 1, berlubang: 3}}",
        "routing:",
        "  default_agency: DISKOMINFO",
        "  rules:",
        "    - {agency: PUPR, categories: [jalan]}",
    ]
    return "\n".join(lines) + "\n"


def make_maildir(path: Path) -> Path:
    """An empty Maildir."""
    for sub in ("new", "cur", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


def write_mail(maildir: Path, tag: str, body: str | None = None) -> str:
    """Deliver one complaint into ``maildir`` the way an MTA does (tmp/ then
    rename to new/); returns its Message-ID."""
    text = body or distinct_text(tag)
    message_id = f"<{tag}@example.org>"
    if text.isascii() and all(len(line) <= 998 for line in text.splitlines()):
        # plain 7-bit text, written out directly: composing it with the
        # email package cost the load benchmark a third of its CPU
        data = (
            f"From: Warga {tag} <warga.{tag}@example.org>\n"
            "To: pengaduan@kotabarukab.go.id\n"
            f"Subject: Jalan berlubang {tag}\n"
            f"Date: {format_datetime(time_now())}\n"
            f"Message-ID: {message_id}\n"
            "MIME-Version: 1.0\n"
            'Content-Type: text/plain; charset="utf-8"\n'
            "Content-Transfer-Encoding: 7bit\n"
            f"\n{text}\n"
        ).encode()
    else:
        message = EmailMessage()
        message["From"] = f"Warga {tag} <warga.{tag}@example.org>"
        message["To"] = "pengaduan@kotabarukab.go.id"
        message["Subject"] = f"Jalan berlubang {tag}"
        message["Date"] = format_datetime(time_now())
        message["Message-ID"] = message_id
        message.set_content(text)
        data = bytes(message)
    name = f"{time.time_ns()}.{tag}.test"
    tmp = maildir / "tmp" / name
    tmp.write_bytes(data)
    os.replace(tmp, maildir / "new" / name)
    return message_id


_SYLLABLES = (
    "ba", "ka", "ri", "tu", "mo", "le", "sa", "di", "pa", "ne",
    "go", "ju", "wi", "ra", "to", "me", "su", "ni", "la", "be",
)  # fmt: skip


def distinct_text(tag: str) -> str:
    """A road complaint (routed to PUPR) whose wording differs from every
    other tag's, so that dedupe does not link the test's messages."""
    rng = random.Random(tag)
    words = ["".join(rng.choice(_SYLLABLES) for _ in range(3)) for _ in range(12)]
    return f"Jalan berlubang {tag}: {' '.join(words)}"


def time_now() -> Any:
    """Now, timezone-aware (for Date headers)."""
    from datetime import UTC, datetime

    return datetime.now(UTC)


def kill_leftovers() -> None:
    """SIGKILL every process a test started and left running (a failed
    assertion skips its stop), so none outlives its test."""
    while STARTED:
        process = STARTED.pop()
        if process.proc is not None and process.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.proc.pid, signal.SIGKILL)


@dataclass
class DengarProcess:
    """``python -m dengar --config CONFIG run …`` in its own process group."""

    config: Path
    args: tuple[str, ...] = ()
    log: Path | None = None
    proc: asyncio.subprocess.Process | None = None
    env: dict[str, str] = field(default_factory=dict)

    async def start(self) -> DengarProcess:
        """Start it; output goes to ``log`` (appended)."""
        log = self.log or self.config.with_suffix(".log")
        handle = log.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "dengar",
            "-v",
            "--config",
            str(self.config),
            "run",
            *self.args,
            cwd=REPO,
            stdout=handle,
            stderr=handle,
            env={**os.environ, "PYTHONPATH": str(REPO), **self.env},
        )
        handle.close()
        STARTED.append(self)
        return self

    @property
    def pid(self) -> int:
        """The process id."""
        assert self.proc is not None
        return self.proc.pid

    def signal(self, signum: int) -> None:
        """Send ``signum`` unless it already exited."""
        if self.proc is not None and self.proc.returncode is None:
            os.kill(self.proc.pid, signum)

    async def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then wait up to ``timeout``; the exit code, or None when
        it had to be killed."""
        self.signal(signal.SIGTERM)
        return await self.wait(timeout)

    async def kill(self) -> None:
        """SIGKILL and reap."""
        self.signal(signal.SIGKILL)
        await self.wait(30)

    async def wait(self, timeout: float) -> int | None:
        """The exit code, or None (after a SIGKILL) if it did not exit."""
        assert self.proc is not None
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.signal(signal.SIGKILL)
            await self.proc.wait()
            return None


def query(database_url: str, sql: str, **params: Any) -> list[Any]:
    """Rows of one SQL statement (a fresh connection: the database is shared
    with the subprocesses)."""
    engine = create_engine(
        database_url.replace("postgresql://", "postgresql+psycopg://")
    )
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(sql), params).all())
    finally:
        engine.dispose()


def table_exists(database_url: str) -> bool:
    """True once the schema was created by a subprocess."""
    try:
        query(database_url, "SELECT count(*) FROM complaint")
    except Exception:  # noqa: BLE001 - not there yet
        return False
    return True


def stored_count(database_url: str) -> int:
    """Complaint rows (cases, follow-ups, ignored) plus quarantined items."""
    if not table_exists(database_url):
        return 0
    [(complaints,)] = query(database_url, "SELECT count(*) FROM complaint")
    [(held,)] = query(database_url, "SELECT count(*) FROM quarantine")
    return int(complaints) + int(held)


async def wait_until(predicate: Any, timeout: float, step: float = 0.2) -> bool:
    """Poll ``predicate`` (run in a thread) until true or ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(predicate):
            return True
        await asyncio.sleep(step)
    return bool(await asyncio.to_thread(predicate))


def tally(database_url: str) -> dict[str, Any]:
    """Counts straight from the tables, for assertions and the bench table."""
    by_source = Counter(
        (r[0], r[1])
        for r in query(database_url, "SELECT channel, external_id FROM complaint")
    )
    kinds = dict(
        query(database_url, "SELECT kind, count(*) FROM complaint GROUP BY kind")
    )
    outbox = {
        f"{k}:{s}": n
        for k, s, n in query(
            database_url,
            "SELECT kind, status, count(*) FROM outbox GROUP BY kind, status",
        )
    }
    [(held,)] = query(database_url, "SELECT count(*) FROM quarantine")
    return {
        "by_source": by_source,
        "kinds": kinds,
        "outbox": outbox,
        "quarantined": held,
    }


def expected_agency_keys(database_url: str) -> set[str]:
    """The idempotency keys every agency must receive: one per case that is
    not in triage and not linked as a near-duplicate (dedupe links those to
    their case instead of sending them again)."""
    rows = query(
        database_url,
        "SELECT tracking_no, agency_code FROM complaint WHERE kind = 'case'"
        " AND duplicate_of_id IS NULL AND status != 'triage'",
    )
    return {f"{tracking}/{agency}" for tracking, agency in rows}


def all_delivered(database_url: str) -> bool:
    """True when no outbox row is left to deliver (for ``wait_until``)."""
    sql = "SELECT id FROM outbox WHERE status != 'delivered'"
    return not query(database_url, sql)


def not_stored_once(database_url: str, message_ids: list[str]) -> list[str]:
    """The mails of ``message_ids`` lost or stored twice (should be none)."""
    stored = Counter(
        r[0] for r in query(database_url, "SELECT message_id FROM complaint")
    )
    return [m for m in message_ids if stored[m] != 1]


def assert_each_case_queued_once(database_url: str) -> None:
    """Every case is queued for its agency, none twice."""
    keys = [
        k for (k,) in query(database_url, "SELECT idempotency_key FROM agency_queue")
    ]
    assert len(keys) == len(set(keys))
    assert set(keys) == expected_agency_keys(database_url)


async def lock_sqlite(path: Path, hold_seconds: float) -> asyncio.subprocess.Process:
    """Another process holding ``path``'s write lock for ``hold_seconds``;
    returns once it holds it."""
    locker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sqlite3, sys, time\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True)\n"
        "time.sleep(float(sys.argv[2])); c.execute('COMMIT')\n",
        str(path),
        str(hold_seconds),
        stdout=asyncio.subprocess.PIPE,
    )
    assert locker.stdout is not None
    assert (await locker.stdout.readline()).strip() == b"locked"
    return locker
