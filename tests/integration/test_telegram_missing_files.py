"""A Telegram file Dengar cannot fetch (getFile refused, the file URL
answering 404, too big) leaves a note in its case's history, keeps its
file_id, and the citizen is asked to send it again; intake goes on."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from dengar.app import App
from dengar.runner import Runner
from storage.tables import AttachmentRow, ChannelState, ComplaintRow, StatusEvent
from tests.fakes.telegram_api import FakeTelegramApi, bot_settings


@pytest.fixture
async def api():
    async with FakeTelegramApi().running() as fake:
        yield fake


@pytest.fixture
def settings(api, tmp_path):
    return bot_settings(
        api, f"sqlite:///{tmp_path / 'dengar.db'}", max_file_bytes=10_000
    )


async def _run(settings):
    app = App.open(settings)
    try:
        summary = await Runner(app).run_once()
    finally:
        await app.close()
    return app, summary


def _rows(app, model, *where):
    with app.sessions() as session:
        return list(session.exec(select(model).where(*where)).all())


def _photo(file: dict, **extra) -> list[dict]:
    return [{**file, "width": 800, "height": 600, **extra}]


async def test_a_photo_gone_from_telegram_is_noted_and_the_citizen_asked_again(
    api, settings
):
    good = api.add_file(b"\xff\xd8 foto baik")
    gone = api.add_file(b"\xff\xd8 foto hilang")
    api.gone.add(gone["file_id"])  # getFile works, the file URL answers 404
    await api.push_message(
        42, caption="Jembatan retak di Desa Sungup", photo=_photo(gone)
    )
    await api.push_message(43, caption="Drainase mampet", photo=_photo(good))
    app, summary = await _run(settings)

    assert not summary.errors  # the channel is not stopped by one file
    [state] = _rows(app, ChannelState, ChannelState.name == "bot")
    assert not state.disabled_reason
    cases = {c.reporter_chat_id: c for c in _rows(app, ComplaintRow)}
    assert set(cases) == {"42", "43"}
    case = cases["42"]
    assert _rows(app, AttachmentRow, AttachmentRow.complaint_id == case.id) == []
    [note] = [
        e.note
        for e in _rows(app, StatusEvent, StatusEvent.complaint_id == case.id)
        if e.note and "tidak dapat diunduh" in e.note
    ]
    assert "foto" in note
    assert "tidak tersedia di server Telegram" in note
    assert "Kode berkasnya tersimpan" in note
    # the file_id is kept for a later download
    assert json.loads(case.extra)["files_not_downloaded_ids"] == gone["file_id"]
    # the other chat's photo arrived
    [kept] = _rows(app, AttachmentRow, AttachmentRow.complaint_id == cases["43"].id)
    assert kept.data == b"\xff\xd8 foto baik"
    to_42 = [m.text for m in api.sent if m.chat_id == 42]
    assert any(case.tracking_no in t for t in to_42)  # the acknowledgement
    assert any("kirim ulang" in t for t in to_42)
    assert not any("kirim ulang" in m.text for m in api.sent if m.chat_id == 43)


async def test_a_file_id_telegram_refuses_is_noted_too(api, settings):
    bogus = {"file_id": "AgAC-tidak-ada", "file_unique_id": "x", "file_size": 10}
    await api.push_message(42, caption="Lampu jalan mati", photo=_photo(bogus))
    app, summary = await _run(settings)
    assert not summary.errors
    [case] = _rows(app, ComplaintRow)
    notes = [
        e.note
        for e in _rows(app, StatusEvent, StatusEvent.complaint_id == case.id)
        if e.note
    ]
    assert any("tidak dapat diunduh" in n and "Invalid file_id" in n for n in notes), (
        notes
    )
    assert any("kirim ulang" in m.text for m in api.sent)


async def test_a_file_too_big_is_noted_with_the_limit(api, settings):
    big = api.add_file(b"x" * 20_000, suffix="pdf")
    await api.push_message(
        42,
        caption="Surat keterangan",
        document={**big, "file_name": "surat.pdf", "mime_type": "application/pdf"},
    )
    app, _ = await _run(settings)
    [case] = _rows(app, ComplaintRow)
    notes = [
        e.note
        for e in _rows(app, StatusEvent, StatusEvent.complaint_id == case.id)
        if e.note
    ]
    expected = "dokumen \u201csurat.pdf\u201d (20 KB): melebihi batas ukuran 10 KB"
    assert any(expected in n for n in notes), notes
    assert any("terlalu besar" in m.text for m in api.sent)  # the existing reply
