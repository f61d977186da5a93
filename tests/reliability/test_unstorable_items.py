"""One item can never hold back its channel, on SQLite and PostgreSQL.

PostgreSQL refuses a NUL character in text; no database takes a lone
surrogate. Such characters are cleaned from every text field before storing
(the raw bytes stay as they came), and an item that still makes its batch
fail (a value the store refuses, a bug only it meets) is stored alone or
quarantined with the reason while the rest of the batch and the cursor go
on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlmodel import select

from config.settings import Settings
from contracts.channel import FetchResult
from contracts.records import InboundAttachment, InboundMessage, Location, Reporter
from dengar.app import App
from dengar.isolate import MAX_ATTEMPTS
from dengar.runner import Runner
from storage.tables import (
    AttachmentRow,
    ChannelState,
    ComplaintRow,
    QuarantineRow,
    RawPayload,
)

pytestmark = [pytest.mark.postgres, pytest.mark.reliability]

NUL_BODY = "Lampu jalan mati di Jl. Veteran\x00 sudah seminggu."


def _maildir(tmp_path: Path, bodies: list[str]) -> Path:
    root = tmp_path / "hostile"
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir(parents=True)
    for number, body in enumerate(bodies):
        mail = EmailMessage()
        mail["From"] = f"Warga {number} <warga{number}@warga.example>"
        mail["Subject"] = f"Pengaduan {number}"
        mail["Message-ID"] = f"<nul-{number}@warga.example>"
        mail.set_content(body)
        (root / "new" / f"{number}.eml").write_bytes(bytes(mail))
    return root


async def _rows(
    settings: Settings,
) -> tuple[list[ComplaintRow], ChannelState | None, list[bytes]]:
    """Run once; the records, the channel's state and the raw bytes stored."""
    app = App.open(settings)
    try:
        await Runner(app).run_once()
        with app.sessions() as session:
            assert session.exec(select(QuarantineRow)).all() == []
            rows = session.exec(select(ComplaintRow).order_by(ComplaintRow.id)).all()
            raws = session.exec(select(RawPayload.data).order_by(RawPayload.id)).all()
            return list(rows), session.get(ChannelState, "surat"), list(raws)
    finally:
        await app.close()


async def test_a_nul_in_a_mail_is_cleaned_and_the_channel_goes_on(
    make_settings: Callable[..., Settings], database_url: str, tmp_path: Path
) -> None:
    inbox = _maildir(tmp_path, [NUL_BODY, "Jalan berlubang di depan pasar Stagen."])
    settings = make_settings(database_url=database_url, maildir=inbox)
    cases, state, raws = await _rows(settings)
    assert [c.kind for c in cases] == ["case", "case"]
    assert cases[0].clean_text == "Lampu jalan mati di Jl. Veteran sudah seminggu."
    assert "\x00" not in cases[0].original_text
    assert state is not None
    assert state.cursor
    assert state.last_error is None
    # the raw bytes are kept as they came, NUL included
    assert raws[0] == (inbox / "new" / "0.eml").read_bytes()
    assert b"\x00" in raws[0]
    cases, _state, _raws = await _rows(settings)  # a second run finds nothing new
    assert len(cases) == 2


def _chat_item(external_id: str, text: str) -> InboundMessage:
    return InboundMessage(
        channel="surat",
        external_id=external_id,
        received_at=datetime.now(UTC),
        raw=text.encode("utf-8", "surrogatepass"),
        raw_format="json",
        text=text,
        subject="Judul\x00 \ud800aduan",
        reporter=Reporter(
            name="Budi\x00 \udc80Santoso", handle="budi\x00", chat_id="42\x00"
        ),
        location=Location(-3.2, 116.2, label="Jl.\x00 Veteran \ud83d"),
        attachments=(
            InboundAttachment("foto\x00\udfff.jpg", "image/jpeg", b"\xff\xd8\x00"),
        ),
        metadata={"caption": "a\x00b", "odd": "\udc9f"},
    )


def _no_unstorable(value: object) -> bool:
    text = str(value)
    return "\x00" not in text and not any(0xD800 <= ord(c) <= 0xDFFF for c in text)


async def test_unstorable_characters_are_cleaned_from_every_text_field(
    make_settings: Callable[..., Settings], database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url=database_url, maildir=_maildir(tmp_path, []))
    app = App.open(settings)
    try:
        item = _chat_item("chat:1", "Sampah\x00 menumpuk \ud800 di pasar")
        summary = app.store("surat", FetchResult(items=[item], cursor="c1"))
        assert summary.new_cases == 1
        assert summary.quarantined == 0
        with app.sessions() as session:
            row = session.exec(select(ComplaintRow)).one()
            for name in ("subject", "original_text", "clean_text", "reporter_name",
                         "reporter_handle", "reporter_chat_id", "location_label",
                         "extra"):  # fmt: skip
                assert _no_unstorable(getattr(row, name)), name
            assert row.clean_text == "Sampah menumpuk \ufffd di pasar"
            attachment = session.exec(select(AttachmentRow)).one()
            assert attachment.filename == "foto\ufffd.jpg"
    finally:
        await app.close()


async def test_an_item_that_fails_its_batch_is_quarantined_and_the_rest_stored(
    make_settings: Callable[..., Settings], database_url: str, tmp_path: Path
) -> None:
    inbox = _maildir(
        tmp_path,
        ["Jalan rusak di Kelurahan Baru.", "Kalimat beracun meledak.", "Got mampet."],
    )
    settings = make_settings(database_url=database_url, maildir=inbox)
    app = App.open(settings)
    real = app.pipeline.classifier

    def fragile(text: str):  # type: ignore[no-untyped-def]
        # a bug that only this one item meets, after it was normalised
        if "beracun" in text:
            raise RuntimeError("simulated failure while storing")
        return real(text) if real else None

    app.pipeline.classifier = fragile
    try:
        await Runner(app).run_once()
        with app.sessions() as session:
            cases = session.exec(select(ComplaintRow)).all()
            assert sorted(c.subject or "" for c in cases) == [
                "Pengaduan 0",
                "Pengaduan 2",
            ]
            held = session.exec(select(QuarantineRow)).one()
            assert held.reason == (
                "cannot store: RuntimeError: simulated failure while storing"
            )
            assert b"beracun" in held.data
            state = session.get(ChannelState, "surat")
            assert state is not None
            assert state.cursor
            assert state.last_error is None
        await Runner(app).run_once()  # nothing is retried or doubled
        with app.sessions() as session:
            assert len(session.exec(select(ComplaintRow)).all()) == 2
            assert len(session.exec(select(QuarantineRow)).all()) == 1
    finally:
        await app.close()


class ProcessStopped(BaseException):
    """Stands for the process dying while it stores an item (out of memory,
    killed by a watchdog): nothing after it runs, its transaction is lost."""


def _mails(bodies: list[str]) -> list[InboundMessage]:
    items = []
    for number, body in enumerate(bodies):
        mail = EmailMessage()
        mail["From"] = f"warga{number}@warga.example"
        mail["Subject"] = f"Pengaduan {number}"
        mail["Message-ID"] = f"<stop-{number}@warga.example>"
        mail.set_content(body)
        items.append(
            InboundMessage(
                channel="surat",
                external_id=f"stop-{number}",
                received_at=datetime.now(UTC),
                raw=bytes(mail),
                raw_format="rfc822",
            )
        )
    return items


async def test_an_item_that_stops_the_process_is_held_after_its_attempts(
    make_settings: Callable[..., Settings], database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url=database_url, maildir=_maildir(tmp_path, []))
    app = App.open(settings)

    def deadly(text: str) -> None:
        if "beracun" in text:
            raise ProcessStopped
        return None

    app.pipeline.classifier = deadly
    batch = FetchResult(
        items=_mails(["Jalan rusak.", "Kalimat beracun.", "Got mampet."]),
        cursor="after-3",
    )
    try:
        # 1: the whole batch dies with the process; nothing is stored
        with pytest.raises(ProcessStopped):
            app.store("surat", batch)
        # 2: the batch did not finish, so it is stored item by item, each
        # under a marker; the process dies again, on the same item, as many
        # times as an item is tried alone
        for _ in range(MAX_ATTEMPTS):
            with pytest.raises(ProcessStopped):
                app.store("surat", batch)
        # 3: then that item is held with the reason; the rest and the cursor
        # go on
        summary = app.store("surat", batch)
        assert summary.quarantined == 1
        with app.sessions() as session:
            cases = session.exec(select(ComplaintRow)).all()
            assert sorted(c.subject or "" for c in cases) == [
                "Pengaduan 0",
                "Pengaduan 2",
            ]
            held = session.exec(select(QuarantineRow)).one()
            assert held.status == "held"
            assert held.external_id == "stop-1"
            assert held.reason.startswith(
                f"processing did not finish in {MAX_ATTEMPTS} attempt"
            )
            state = session.get(ChannelState, "surat")
            assert state is not None
            assert state.cursor == "after-3"
        # 4: the next batch is stored as one transaction again, and the
        # held item is not tried again
        again = app.store("surat", batch)
        assert again.already_stored == 3
    finally:
        await app.close()
