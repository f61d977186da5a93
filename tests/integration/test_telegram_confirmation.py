"""The citizen chooses before an agency sees the case (issue 16, item 2):
a new Telegram case waits ``confirmation_window`` seconds for biasa / anonim
/ rahasia, offered as inline buttons under the acknowledgement; a choice
ends the wait; a choice after delivery sends the agency a redaction and the
citizen hears what really happened. Run through the whole of Dengar (``App``
+ ``Runner.run_once``) against the Bot API emulator, with the agency's
database queue as the sink."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import select
from telegram import Bot
from telegram.error import BadRequest

from config.settings import Settings
from dengar.app import App
from dengar.cli.main import print_summary
from dengar.runner import Runner
from dengar.status_report import agency_queue
from dispatcher.outbox import queue as outbox
from storage.tables import ComplaintRow, OutboxRow, utcnow
from tests.fakes.telegram_api import FakeTelegramApi, bot_settings
from tests.integration.runs import run_once


@pytest.fixture
async def api():
    async with FakeTelegramApi().running() as fake:
        yield fake


def settings_for(api, tmp_path, **channel) -> Settings:
    return bot_settings(api, f"sqlite:///{tmp_path / 'dengar.db'}", **channel)


def queued(app: App) -> list[dict]:
    with app.sessions() as session:
        return agency_queue(session, "PUPR")


def agency_rows(app: App) -> list[OutboxRow]:
    with app.sessions() as session:
        return list(
            session.exec(select(OutboxRow).where(OutboxRow.kind == "agency")).all()
        )


def the_case(app: App) -> ComplaintRow:
    with app.sessions() as session:
        [case] = session.exec(
            select(ComplaintRow).where(ComplaintRow.kind == "case")
        ).all()
        return case


async def test_the_case_waits_and_a_button_press_makes_it_anonim_before_it_goes(
    api, tmp_path
):
    settings = settings_for(api, tmp_path)
    assert settings.channels[0].confirmation_window == 120  # the default
    await api.push_message(42, "Lampu jalan di Jl. Veteran mati sejak seminggu")
    app = await run_once(settings)
    case = the_case(app)
    [ack] = api.sent
    assert case.tracking_no in ack.text
    assert "Anonim" in ack.text
    assert "2 menit" in ack.text
    assert ack.buttons() == [
        ("Biasa", f"biasa {case.tracking_no}"),
        ("Anonim", f"anonim {case.tracking_no}"),
        ("Rahasia", f"rahasia {case.tracking_no}"),
    ]
    # held: nothing reached the agency, the row waits for the window
    assert queued(app) == []
    [row] = agency_rows(app)
    assert (row.status, row.attempts) == ("pending", 0)
    assert row.next_attempt_at > utcnow() + timedelta(seconds=100)

    await api.press_button(ack, f"anonim {case.tracking_no}")
    await api.push_message(42, "Tiangnya juga miring")  # shapes the same case
    app = await run_once(settings)
    # the press was answered (the spinner stops) and the choice ended the wait
    assert list(api.answered.values()) == [
        {"text": "Pilihan Anda kami terima.", "show_alert": False}
    ]
    [message] = queued(app)
    assert message["confidentiality"] == "anonim"
    assert message["reporter"] is None
    assert "Warga 42" not in str(message)
    assert [f["text"] for f in message["follow_ups"]] == ["Tiangnya juga miring"]
    reply = next(m for m in api.sent if "kini bersifat anonim" in m.text)
    assert "sudah diteruskan" not in reply.text


async def test_a_typed_anonim_half_a_second_later_is_honoured(api, tmp_path):
    settings = settings_for(api, tmp_path)
    await api.push_message(42, "Sampah menumpuk di Pasar Kemakmuran")
    app = await run_once(settings)
    await asyncio.sleep(0.5)
    await api.push_message(42, "/anonim")
    app = await run_once(settings)
    [message] = queued(app)
    assert message["confidentiality"] == "anonim"
    assert message["reporter"] is None
    # it went out anonim the first time: no redaction was needed
    assert "redaction" not in message
    assert [r.idempotency_key for r in agency_rows(app)] == [message["idempotency_key"]]


async def test_without_a_choice_the_case_goes_when_the_window_ends_even_after_a_restart(
    api, tmp_path
):
    settings = settings_for(api, tmp_path, confirmation_window=0.5)
    await api.push_message(42, "Air PDAM keruh di Kelurahan Baharu")
    app = await run_once(settings)
    assert queued(app) == []
    # the process ends here (nothing of the wait lives in memory); a new
    # one started after the window delivers the case
    app.engine.dispose()
    await asyncio.sleep(0.6)
    app = await run_once(settings)
    [message] = queued(app)
    assert message["confidentiality"] == "biasa"
    assert message["reporter"]["name"] == "Warga 42"


async def test_a_window_of_zero_sends_at_once_with_the_plain_acknowledgement(
    api, tmp_path
):
    settings = settings_for(api, tmp_path, confirmation_window=0)
    await api.push_message(42, "Jembatan di Desa Sigam retak")
    app = await run_once(settings)
    assert len(queued(app)) == 1
    [ack] = api.sent
    assert ack.buttons() == []


async def test_choosing_biasa_ends_the_wait_with_the_identity(api, tmp_path):
    settings = settings_for(api, tmp_path)
    await api.push_message(42, "Drainase tersumbat di Jl. Pangeran Antasari")
    app = await run_once(settings)
    case = the_case(app)
    [ack] = api.sent
    await api.press_button(ack, f"biasa {case.tracking_no}")
    app = await run_once(settings)
    [message] = queued(app)
    assert message["confidentiality"] == "biasa"
    assert message["reporter"]["name"] == "Warga 42"
    assert any("sebagai pengaduan biasa" in m.text for m in api.sent)


async def test_anonim_after_delivery_asks_the_agency_and_tells_the_truth(api, tmp_path):
    settings = settings_for(api, tmp_path, confirmation_window=0)
    await api.push_message(42, "Jalan berlubang di Jl. Raya Stagen, HP 081234567890")
    app = await run_once(settings)
    [before] = queued(app)
    assert before["reporter"]["name"] == "Warga 42"
    await api.push_message(42, "/anonim")
    app = await run_once(settings)
    reply = api.sent[-1].text
    assert "sudah diteruskan ke instansi" in reply
    assert "meminta instansi tersebut untuk menghapus identitas Anda" in reply
    # the database queue was rewritten: no copy names the reporter
    [after] = queued(app)
    assert after["reporter"] is None
    assert after["redaction"]["previous_confidentiality"] == "biasa"
    assert "081234567890" not in after["text"]
    rows = agency_rows(app)
    assert sorted(r.status for r in rows) == ["delivered", "delivered"]


async def test_the_emulator_answers_each_press_once_and_checks_buttons(api, tmp_path):
    settings = settings_for(api, tmp_path)
    await api.push_message(42, "Lampu taman kota mati")
    app = await run_once(settings)
    case = the_case(app)
    [ack] = api.sent
    with pytest.raises(AssertionError, match="no button"):
        await api.press_button(ack, "hapus semua")
    update = await api.press_button(ack, f"rahasia {case.tracking_no}")
    app = await run_once(settings)
    query_id = update["callback_query"]["id"]
    assert query_id in api.answered
    # Telegram refuses a second answer to the same press
    async with Bot(
        api.token,
        base_url=f"{api.base_url}/bot",
        base_file_url=f"{api.base_url}/file/bot",
    ) as bot:
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await bot.answer_callback_query(query_id)
    assert the_case(app).confidentiality == "rahasia"
    assert outbox.PENDING not in {r.status for r in agency_rows(app)}


async def test_run_once_says_how_many_cases_wait_for_the_choice(api, tmp_path, capsys):
    settings = settings_for(api, tmp_path)
    await api.push_message(42, "Lampu jalan di Jl. Berangas mati")
    app = App.open(settings)
    try:
        summary = await Runner(app).run_once()
    finally:
        await app.close()
    assert summary.channels["bot"].queued["PUPR"] == 1
    assert summary.channels["bot"].held["PUPR"] == 1
    print_summary(summary)
    table = capsys.readouterr().out
    assert "held for choice" in table
    [row] = [line for line in table.splitlines() if "PUPR" in line]
    assert [cell.strip() for cell in row.strip("│┃ ").split("│")][:3] == [
        "PUPR",
        "1",
        "1",
    ]
