"""One hostile mail cannot freeze the service (issue 16, item 1): the items
that took minutes are stored or quarantined at once, and the web app keeps
answering while big items are processed."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from config.settings import Settings
from contracts.channel import FetchResult
from contracts.records import InboundMessage
from dengar.app import App
from dengar.cli.web import serve_beside
from dengar.runner import Runner
from storage.tables import ComplaintRow, QuarantineRow

pytestmark = pytest.mark.reliability


def _maildir(root: Path, mails: dict[str, bytes]) -> Path:
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir(parents=True)
    for name, raw in mails.items():
        (root / "new" / f"{name}.eml").write_bytes(raw)
    return root


def _mail(number: int, body: str = "Jalan rusak.", subject: str = "Aduan") -> bytes:
    mail = EmailMessage()
    mail["From"] = f"Warga {number} <warga{number}@warga.example>"
    mail["Subject"] = subject
    mail["Message-ID"] = f"<hostile-{number}@warga.example>"
    mail.set_content(body)
    return bytes(mail)


def _raw(number: int, head: str) -> bytes:
    return (
        f"{head}\r\nMessage-ID: <raw-{number}@warga.example>\r\n\r\nJalan rusak.\r\n"
    ).encode()


async def test_the_mails_that_froze_the_service_are_stored_or_quarantined(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    inbox = _maildir(
        tmp_path / "hostile",
        {
            "word": _mail(1, body="X" * 1_000_000),
            "subject": _raw(2, "From: w@warga.example\r\nSubject: " + "X" * 100_000),
            "from": _raw(3, "Subject: a\r\nFrom: " + "X" * 100_000 + " <w@w.example>"),
            "encoded": _raw(
                4,
                "From: w@warga.example\r\nSubject: "
                + " ".join(["=?utf-8?q?ab?="] * 30_000),
            ),
            "plain": _mail(5, body="Lampu jalan mati di Jl. Veteran."),
        },
    )
    app = App.open(make_settings(maildir=inbox))
    try:
        app.enable_dedupe()
        await Runner(app).run_once()
        with app.sessions() as session:
            cases = session.exec(select(ComplaintRow)).all()
            assert sorted(len(c.original_text) for c in cases) == [32, 1_000_000]
            reasons = sorted(r.reason for r in session.exec(select(QuarantineRow)))
    finally:
        await app.close()
    assert reasons == [
        "cannot normalise: HeaderLimitError: From header is 100,020 bytes "
        "(limit 2,048)",
        "cannot normalise: HeaderLimitError: Subject header is 100,009 bytes "
        "(limit 8,192)",
        "cannot normalise: HeaderLimitError: header block has 30,000 encoded "
        "words (limit 2,000)",
    ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_healthz_answers_while_big_items_are_processed(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    # one 1 MB word each, the shape whose regex scan held the GIL for minutes,
    # after a sentence that names a problem, so each is a case that goes
    # through every text step (a word alone is no complaint and ends early)
    inbox = _maildir(
        tmp_path / "big",
        {
            f"big{n}": _mail(
                n,
                body="Jalan berlubang di depan pasar, mohon diperbaiki.\n"
                + chr(ord("A") + n) * 1_000_000,
            )
            for n in range(8)
        },
    )
    app = App.open(
        make_settings(maildir=inbox, extra="web: {secret_key: test-secret-key-123}\n")
    )
    app.enable_dedupe()
    port = _free_port()
    answered_during: list[int] = []
    running = asyncio.Event()

    async def work() -> None:
        # start the batch only once the web server answers, so what the
        # probe counts is the time the batch ran, not uvicorn's start-up
        async with httpx.AsyncClient(timeout=30) as client:
            for _ in range(500):
                try:
                    await client.get(f"http://127.0.0.1:{port}/healthz")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.02)
        running.set()
        await Runner(app).run_once()
        running.clear()

    async def probe() -> None:
        await running.wait()
        async with httpx.AsyncClient(timeout=30) as client:
            while running.is_set():
                try:
                    answer = await client.get(f"http://127.0.0.1:{port}/healthz")
                except httpx.TransportError:
                    await asyncio.sleep(0.02)  # uvicorn still starting
                    continue
                if running.is_set():
                    answered_during.append(answer.status_code)
                await asyncio.sleep(0.02)

    try:
        prober = asyncio.create_task(probe())
        await serve_beside(app, work(), host="127.0.0.1", port=port)
        await prober
        with app.sessions() as session:
            assert len(session.exec(select(ComplaintRow)).all()) == 8
    finally:
        await app.close()
    # the batch runs in a worker thread and no text step holds the GIL for
    # long (each is linear), so the event loop answered while it ran
    assert len(answered_during) >= 3
    assert set(answered_during) == {200}


def test_an_item_over_the_processing_budget_is_quarantined(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    app = App.open(make_settings(maildir=_maildir(tmp_path / "slow", {})))
    ticks = iter(range(0, 1000, 11))  # each reading of the clock: 11 s later
    app.pipeline.cpu_clock = lambda: float(next(ticks))
    item = InboundMessage(
        channel="surat",
        external_id="slow",
        received_at=datetime.now(UTC),
        raw=_mail(9),
        raw_format="rfc822",
    )
    try:
        summary = app.store("surat", FetchResult(items=[item], cursor="c"))
        assert summary.quarantined == 1
        with app.sessions() as session:
            held = session.exec(select(QuarantineRow)).one()
            assert held.reason == (
                "over the processing budget: normalising took 11.0 s of CPU "
                "(budget 10 s per item)"
            )
            assert held.data == _mail(9)
    finally:
        app.engine.dispose()
