"""A conversation with the emulated bot through the whole of Dengar
(``App`` + ``Runner.run_once``, what ``dengar run --once`` does): one case with
the photos and the location, one acknowledgement with the tracking number,
the right /status answer, and no duplicate after a crash or a restart."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path

import pytest
from sqlmodel import select

from config.settings import Settings
from dengar.app import App
from dengar.pipeline import Pipeline
from dengar.runner import Runner
from storage.tables import (
    AttachmentRow,
    ChannelState,
    ComplaintRow,
    OutboxRow,
    StatusEvent,
)
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi, bot_settings

TRACKING = re.compile(r"ADU-[0-9A-Z]{4}-[0-9A-Z]{4}")


@pytest.fixture
async def api():
    async with FakeTelegramApi().running() as fake:
        yield fake


@pytest.fixture
def settings(api, tmp_path):
    return bot_settings(api, f"sqlite:///{tmp_path / 'dengar.db'}")


async def run_once(settings: Settings):
    app = App.open(settings)
    try:
        summary = await Runner(app).run_once()
    finally:
        await app.close()
    return app, summary


def rows(app: App, model, *where):
    with app.sessions() as session:
        return list(session.exec(select(model).where(*where)).all())


async def conversation(api: FakeTelegramApi, chat: int = 42) -> None:
    photo_a = api.add_file(b"\xff\xd8 foto A")
    photo_b = api.add_file(b"\xff\xd8 foto B")
    await api.push_message(chat, "/start")
    await api.push_message(chat, "Jalan Pramuka berlubang besar, bahaya untuk motor")
    for photo in (photo_a, photo_b):
        await api.push_message(
            chat, photo=[{**photo, "width": 800, "height": 600}], media_group_id="77"
        )
    await api.push_message(chat, location={"latitude": -3.24, "longitude": 116.21})


async def test_a_conversation_becomes_one_case_with_photos_and_location(api, settings):
    await conversation(api)
    app, summary = await run_once(settings)
    assert not summary.errors
    [case] = rows(app, ComplaintRow, ComplaintRow.kind == "case")
    assert "berlubang" in case.original_text
    assert (case.location_lat, case.location_lon) == (-3.24, 116.21)
    files = rows(app, AttachmentRow, AttachmentRow.complaint_id == case.id)
    assert sorted(f.data for f in files) == [b"\xff\xd8 foto A", b"\xff\xd8 foto B"]

    texts = [m.text for m in api.sent]
    assert any("Cara melapor" in t for t in texts)
    acks = [t for t in texts if case.tracking_no in t]
    assert len(acks) == 1
    # the ack's Telegram id is stored, so a reply to it threads into the case
    [ack_row] = rows(
        app, OutboxRow, OutboxRow.kind == "reply", OutboxRow.remote_id.is_not(None)
    )[:1]
    assert ack_row.remote_id.startswith("tg:42:")

    sent_before = len(api.sent)
    await api.push_message(42, "/status")
    await api.push_message(42, f"/status {case.tracking_no.lower()}")
    await api.push_message(77, f"/status {case.tracking_no}")
    app, _ = await run_once(settings)
    answers = api.sent[sent_before:]  # the outbox may send them in any order
    [stranger] = [m.text for m in answers if m.chat_id == 77]
    [own_list] = [m.text for m in answers if m.text.startswith("Pengaduan Anda:")]
    [own_one] = [m.text for m in answers if "\nStatus:" in m.text]
    assert case.tracking_no in own_list
    assert case.tracking_no in own_one
    assert "berlubang" in own_one
    assert "tidak ditemukan" in stranger
    assert "berlubang" not in stranger


async def test_reply_to_the_ack_is_a_follow_up(api, settings):
    await api.push_message(42, "Lampu jalan mati di Jl. Merdeka")
    app, _ = await run_once(settings)
    [ack] = api.sent
    await api.push_message(
        42,
        "Sudah seminggu",
        reply_to_message={
            "message_id": ack.message_id,
            "chat": {"id": 42, "type": "private"},
            "date": 0,
            "text": ack.text,
        },
    )
    app, _ = await run_once(settings)
    assert len(rows(app, ComplaintRow, ComplaintRow.kind == "case")) == 1
    [follow_up] = rows(app, ComplaintRow, ComplaintRow.kind == "follow_up")
    assert follow_up.original_text == "Sudah seminggu"


async def test_blocked_user_does_not_stop_intake(api, settings):
    api.block(42)
    await api.push_message(42, "Sampah menumpuk di pasar")
    await api.push_message(43, "Air PDAM mati")
    app, summary = await run_once(settings)
    assert not summary.errors
    assert len(rows(app, ComplaintRow, ComplaintRow.kind == "case")) == 2
    assert [m.chat_id for m in api.sent] == [43]


async def test_crash_before_commit_then_restart_loses_and_doubles_nothing(
    api, settings, monkeypatch
):
    await conversation(api)
    original = Pipeline.ingest

    def crash(self, session, channel, result, **kw):
        original(self, session, channel, result, **kw)
        session.flush()  # everything written, nothing committed
        raise KeyboardInterrupt  # stands in for SIGKILL: no cleanup runs

    monkeypatch.setattr(Pipeline, "ingest", crash)
    app = App.open(settings)
    with pytest.raises(KeyboardInterrupt):
        await Runner(app).run_once()
    await app.close()
    assert rows(app, ComplaintRow) == []
    assert api.sent == []
    assert len(api.updates) == 5  # not confirmed to Telegram
    monkeypatch.setattr(Pipeline, "ingest", original)

    delivered = [dict(u) for u in api.updates]
    app, summary = await run_once(settings)
    assert not summary.errors
    assert len(rows(app, ComplaintRow, ComplaintRow.kind == "case")) == 1
    stored, sent = len(rows(app, ComplaintRow)), len(api.sent)

    # Worst case: the stored offset is lost and Telegram sends it all again.
    with app.sessions() as session:
        state = session.get(ChannelState, "bot")
        state.cursor = None
        session.add(state)
        session.commit()
    for update in delivered:
        await api.push_update(update)
    app, summary = await run_once(settings)
    assert not summary.errors
    assert len(rows(app, ComplaintRow)) == stored
    assert len(api.sent) == sent


async def dengar_run_once(config: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from dengar.cli.main import main; main()",
        "--config",
        str(config),
        "run",
        "--once",
        cwd=Path(__file__).resolve().parents[2],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()
    assert TOKEN not in output.decode()


async def test_dengar_run_once_on_the_command_line(api, settings, tmp_path):
    config = tmp_path / "dengar.yaml"
    data = settings.model_dump(mode="json")
    data["channels"][0]["token"] = TOKEN  # model_dump masks secrets
    config.write_text(json.dumps(data), encoding="utf-8")  # JSON is YAML
    await api.push_message(42, "Drainase tersumbat di Jl. Veteran")
    await dengar_run_once(config)
    [ack] = api.sent
    assert TRACKING.search(ack.text)
    assert len(api.updates) == 1  # stored; confirmed by the next run
    await dengar_run_once(config)
    assert api.updates == []
    assert len(api.sent) == 1


async def test_a_greeting_opens_no_case_and_the_complaint_after_it_does(
    api, settings, tmp_path
):
    config = tmp_path / "dengar.yaml"
    data = settings.model_dump(mode="json")
    data["channels"][0]["token"] = TOKEN
    data["categories"] = [{"name": "jalan", "keywords": {"berlubang": 3}}]
    config.write_text(json.dumps(data), encoding="utf-8")
    await api.push_message(42, "halo")
    await dengar_run_once(config)
    [how_to] = api.sent
    assert "apa masalahnya, di mana" in how_to.text
    assert not TRACKING.search(how_to.text)
    await api.push_message(42, "Jalan Pramuka berlubang besar, bahaya untuk motor")
    await dengar_run_once(config)  # starts with the greeting in the database
    app = App.open(settings)
    await app.close()
    [case] = rows(app, ComplaintRow, ComplaintRow.kind == "case")
    assert case.category == "jalan"
    assert "Pramuka" in case.original_text
    [greeting] = rows(app, ComplaintRow, ComplaintRow.kind == "ignored")
    assert greeting.original_text == "halo"
    assert TRACKING.search(api.sent[-1].text)


async def test_a_photo_without_words_stored_first_does_not_stop_the_next_start(
    api, settings, tmp_path
):
    config = tmp_path / "dengar.yaml"
    data = settings.model_dump(mode="json")
    data["channels"][0]["token"] = TOKEN
    config.write_text(json.dumps(data), encoding="utf-8")
    photo = api.add_file(b"\xff\xd8 lubang")
    await api.push_message(42, photo=[{**photo, "width": 800, "height": 600}])
    await dengar_run_once(config)  # a case with no words to index
    await api.push_message(43, "Drainase tersumbat di Jl. Veteran")
    await dengar_run_once(config)  # rebuilt the duplicate index from it
    app = App.open(settings)
    await app.close()
    assert len(rows(app, ComplaintRow, ComplaintRow.kind == "case")) == 2


def _edit_settings(
    api: FakeTelegramApi, tmp_path: Path, window: float = 120
) -> Settings:
    settings = bot_settings(
        api, f"sqlite:///{tmp_path / 'edits.db'}", confirmation_window=window
    )
    return Settings.model_validate(
        {
            **settings.model_dump(mode="json", exclude={"channels"}),
            "channels": [
                {**c.model_dump(mode="json"), "token": TOKEN} for c in settings.channels
            ],
            "agencies": [
                {"code": "PUPR", "name": "Dinas PUPR"},
                {"code": "DLH", "name": "Dinas Lingkungan Hidup"},
            ],
            "routing": {
                "default_agency": "PUPR",
                "rules": [{"agency": "DLH", "keywords": ["sampah"]}],
            },
        }
    )


async def test_an_edit_before_delivery_changes_the_case_and_its_agency(api, tmp_path):
    settings = _edit_settings(api, tmp_path)
    original = (await api.push_message(42, "Jalan berlubang di Jl. Veteran"))["message"]
    # corrected a few seconds later, before any agency saw the case
    await api.edit_message(original, "Sampah menumpuk di Jl. Veteran")
    app, summary = await run_once(settings)
    assert not summary.errors
    [case] = rows(app, ComplaintRow, ComplaintRow.kind == "case")
    assert case.clean_text == "Sampah menumpuk di Jl. Veteran"
    assert case.original_text == "Sampah menumpuk di Jl. Veteran"
    assert case.agency_code == "DLH"
    # still held for the citizen's choice, now for the agency of the new text
    [delivery] = rows(app, OutboxRow, OutboxRow.kind == "agency")
    assert (delivery.target, delivery.status) == ("DLH", "pending")
    assert delivery.idempotency_key == f"{case.tracking_no}/DLH"
    notes = [e.note or "" for e in rows(app, StatusEvent)]
    assert "text edited; previous version: Jalan berlubang di Jl. Veteran" in notes
    assert any("PUPR -> DLH" in n for n in notes)
    assert len([m for m in api.sent if case.tracking_no in m.text]) == 1


async def test_an_edit_after_delivery_updates_the_text_and_keeps_the_agency(
    api, tmp_path
):
    settings = _edit_settings(api, tmp_path, window=0)  # delivered at once
    original = (await api.push_message(42, "Jalan berlubang di Jl. Veteran"))["message"]
    await run_once(settings)
    update = await api.edit_message(original, "Sampah dan jalan berlubang di Veteran")
    app, _ = await run_once(settings)
    [case] = rows(app, ComplaintRow, ComplaintRow.kind == "case")
    assert case.clean_text == "Sampah dan jalan berlubang di Veteran"
    assert case.agency_code == "PUPR"  # delivered already: staff may re-route
    [delivery] = rows(app, OutboxRow, OutboxRow.kind == "agency")
    assert (delivery.target, delivery.status) == ("PUPR", "delivered")
    # the same edit delivered again changes nothing
    await api.push_update({"edited_message": update["edited_message"]})
    app, _ = await run_once(settings)
    events = rows(app, StatusEvent, StatusEvent.actor == "citizen")
    assert [e.note for e in events] == [
        "text edited; previous version: Jalan berlubang di Jl. Veteran"
    ]
    # a second edit is applied too, with the first edit's text kept
    await api.edit_message(update["edited_message"], "Sampah menumpuk di Veteran")
    app, _ = await run_once(settings)
    [case] = rows(app, ComplaintRow, ComplaintRow.kind == "case")
    assert case.clean_text == "Sampah menumpuk di Veteran"
    events = rows(app, StatusEvent, StatusEvent.actor == "citizen")
    assert events[-1].note == (
        "text edited; previous version: Sampah dan jalan berlubang di Veteran"
    )


async def test_an_edit_of_a_follow_up_changes_that_follow_up(api, tmp_path):
    settings = _edit_settings(api, tmp_path)
    await api.push_message(42, "Jalan berlubang di Jl. Veteran")
    app, _ = await run_once(settings)
    [ack] = api.sent
    reply_to = {
        "message_id": ack.message_id,
        "chat": {"id": 42, "type": "private"},
        "date": 0,
        "text": ack.text,
    }
    added = await api.push_message(42, "Sudah dua minggu", reply_to_message=reply_to)
    app, _ = await run_once(settings)
    await api.edit_message(added["message"], "Sudah tiga minggu")
    app, _ = await run_once(settings)
    [case] = rows(app, ComplaintRow, ComplaintRow.kind == "case")
    assert case.clean_text == "Jalan berlubang di Jl. Veteran"
    follow_ups = rows(app, ComplaintRow, ComplaintRow.kind == "follow_up")
    edited = [
        f
        for f in follow_ups
        if f.external_id == f"msg:42:{added['message']['message_id']}"
    ]
    assert [f.clean_text for f in edited] == ["Sudah tiga minggu"]
    assert all(f.follow_up_of_id == case.id for f in follow_ups)
